/**
 * The bench's one table: every figure of sidegate as a ratio to the bare proxy measured
 * in the same run, with the absolute numbers beside it, and the targets of issue 3 with
 * pass/fail. The JSON written by `--json` holds the same data and the raw samples.
 */
import { max, median } from './stats.js';

/** Per-round medians of one process under one kind of load. */
export interface Samples {
  /** Requests/s at 32 connections. */
  rps: number[];
  /** Latency at 1 connection, ms. */
  p50: number[];
  p99: number[];
  /** Time to the first SSE chunk, ms (median of a round's requests). */
  ttfc: number[];
  /** CPU time of the process under test per request during the req/s run, µs. */
  cpuUs: number[];
  /** Share of one CPU the process under test used during the req/s run (1 = saturated). */
  busy: number[];
}

export function emptySamples(): Samples {
  return { rps: [], p50: [], p99: [], ttfc: [], cpuUs: [], busy: [] };
}

export interface Side {
  samples: Samples;
  peakMb: number;
  /** Requests that failed (non-2xx, error, timeout) during the measurements. */
  failures: number;
}

export interface Overhead {
  /** Upper bounds of the histogram buckets holding the median and the 99th percentile. */
  p50Ms: number;
  p99Ms: number;
  count: number;
}

export type CaseResult =
  | { name: string; status: 'skipped'; reason: string }
  | { name: string; status: 'measured'; gateway: Side; bare: Side; overhead: Overhead | null; profile: string | null };

export interface RssResult {
  requests: [number, number];
  rssMb: [number, number];
  peakMb: number;
  /** (RSS at the second count − RSS at the first) / RSS at the first. */
  growth: number;
  failures: number;
}

export interface ReloadResult {
  routers: number;
  reloads: number;
  /** Reloads the gateway reported as applied (/stats config.reloads.success). */
  applied: number;
  reloadErrors: number;
  startupCompileMs: number;
  compileMs: number[];
  requests: number;
  failures: number;
}

export interface TargetCheck {
  name: string;
  target: string;
  value: string;
  /** null: not judged in this run (the case was skipped, or --quick ran fewer requests than the target names). */
  pass: boolean | null;
}

export interface Report {
  meta: Record<string, unknown>;
  direct: Samples;
  cases: CaseResult[];
  rss: RssResult | null;
  reload: ReloadResult | null;
  targets: TargetCheck[];
  table: string;
}

/** Throughput targets by case (a ratio to the bare proxy). */
const RPS_TARGET: Record<string, number> = { default: 0.8, full: 0.5, cache_hit: 1.5 };
/** Cases whose p50 at one connection must stay within this many ms of the bare proxy's. */
const P50_DELTA_TARGET: Record<string, number> = { default: 0.1 };
const TTFC_DELTA_TARGET_MS = 1;
const RSS_LIMIT_MB = 120;
const RSS_GROWTH_LIMIT = 0.05;
const COMPILE_LIMIT_MS = 100;

type Row = [string, string, string, string, string, string, string, string];
const HEADER: Row = ['case', 'metric', 'sidegate', 'bare', 'ratio', 'direct', 'target', 'result'];

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const ms = (n: number): string => (Number.isFinite(n) ? n.toFixed(3) : '-');
const mb = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '-');
const ratio = (a: number, b: number): string => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '-');
const verdict = (pass: boolean | null): string => (pass === null ? '-' : pass ? 'PASS' : 'FAIL');

class Builder {
  readonly rows: Row[] = [];
  readonly targets: TargetCheck[] = [];

  row(cells: Partial<Record<(typeof HEADER)[number], string>>): void {
    this.rows.push(HEADER.map((h) => cells[h] ?? '') as Row);
  }

  check(name: string, target: string, value: string, pass: boolean | null): string {
    this.targets.push({ name, target, value, pass });
    return verdict(pass);
  }
}

function caseRows(b: Builder, c: Extract<CaseResult, { status: 'measured' }>, direct: Samples): void {
  const g = c.gateway.samples;
  const r = c.bare.samples;
  const rps = [median(g.rps), median(r.rps)] as const;
  const p50 = [median(g.p50), median(r.p50)] as const;
  const ttfc = [median(g.ttfc), median(r.ttfc), median(direct.ttfc)] as const;

  const rpsMin = RPS_TARGET[c.name];
  b.row({
    case: c.name,
    metric: 'req/s @32 conn',
    sidegate: int(rps[0]),
    bare: int(rps[1]),
    ratio: ratio(...rps),
    direct: int(median(direct.rps)),
    ...(rpsMin !== undefined && {
      target: `≥ ${rpsMin.toFixed(2)}× bare`,
      result: b.check(`${c.name} throughput`, `≥ ${rpsMin}× bare`, ratio(...rps), rps[0] / rps[1] >= rpsMin),
    }),
  });
  const busy = (s: Samples): string => `${int(median(s.cpuUs))} (${int(100 * median(s.busy))} %)`;
  b.row({ metric: 'CPU µs/req (busy %)', sidegate: busy(g), bare: busy(r), ratio: ratio(median(g.cpuUs), median(r.cpuUs)) });
  const p50Delta = P50_DELTA_TARGET[c.name];
  const delta = p50[0] - p50[1];
  b.row({
    metric: 'p50 @1 conn, ms',
    sidegate: ms(p50[0]),
    bare: ms(p50[1]),
    ratio: `${ratio(...p50)} (${delta >= 0 ? '+' : ''}${ms(delta)})`,
    direct: ms(median(direct.p50)),
    ...(p50Delta !== undefined && {
      target: `≤ bare + ${p50Delta.toFixed(2)} ms`,
      result: b.check(`${c.name} p50 latency`, `≤ bare + ${p50Delta} ms`, `bare + ${ms(delta)} ms`, delta <= p50Delta),
    }),
  });
  b.row({ metric: 'p99 @1 conn, ms', sidegate: ms(median(g.p99)), bare: ms(median(r.p99)), ratio: ratio(median(g.p99), median(r.p99)), direct: ms(median(direct.p99)) });
  const overDirect = ttfc[0] - ttfc[2];
  b.row({
    metric: 'first SSE chunk, ms',
    sidegate: ms(ttfc[0]),
    bare: ms(ttfc[1]),
    ratio: ratio(ttfc[0], ttfc[1]),
    direct: ms(ttfc[2]),
    target: `≤ direct + ${TTFC_DELTA_TARGET_MS} ms`,
    result: b.check(`${c.name} time to first chunk`, `≤ direct + ${TTFC_DELTA_TARGET_MS} ms`, `direct + ${ms(overDirect)} ms`, overDirect <= TTFC_DELTA_TARGET_MS),
  });
  b.row({ metric: 'peak RSS, MB', sidegate: mb(c.gateway.peakMb), bare: mb(c.bare.peakMb), ratio: ratio(c.gateway.peakMb, c.bare.peakMb) });
  if (c.overhead) {
    b.row({ metric: 'own overhead p50/p99, ms', sidegate: `≤${c.overhead.p50Ms} / ≤${c.overhead.p99Ms}`, target: 'ai_gateway_overhead_seconds' });
  }
  const failures = c.gateway.failures + c.bare.failures;
  if (failures > 0) b.row({ metric: 'failed requests', sidegate: int(c.gateway.failures), bare: int(c.bare.failures), target: '0', result: 'FAIL' });
}

function skippedRows(b: Builder, c: Extract<CaseResult, { status: 'skipped' }>): void {
  const rpsMin = RPS_TARGET[c.name];
  b.row({
    case: c.name,
    metric: `skipped: ${c.reason}`,
    ...(rpsMin !== undefined && {
      target: `≥ ${rpsMin.toFixed(2)}× bare`,
      result: b.check(`${c.name} throughput`, `≥ ${rpsMin}× bare`, 'skipped', null),
    }),
  });
}

/** The RSS targets are set at 100k and 200k requests: fewer (--quick) shows the figures without a verdict. */
const RSS_TARGET_REQUESTS = 200_000;

function rssRows(b: Builder, rss: RssResult): void {
  const [n1, n2] = rss.requests.map((n) => `${n / 1000}k`);
  const judged = rss.requests[1] >= RSS_TARGET_REQUESTS;
  const pass = (ok: boolean): boolean | null => (judged ? ok : null);
  const growth = `${rss.growth >= 0 ? '+' : ''}${(rss.growth * 100).toFixed(1)} %`;
  b.row({
    case: `default ×${n2}`,
    metric: `RSS after ${n2} req, MB`,
    sidegate: mb(rss.rssMb[1]),
    target: `≤ ${RSS_LIMIT_MB} MB${judged ? '' : ' at 200k'}`,
    result: b.check(`RSS after ${n2} requests`, `≤ ${RSS_LIMIT_MB} MB`, `${mb(rss.rssMb[1])} MB`, pass(rss.rssMb[1] <= RSS_LIMIT_MB)),
  });
  b.row({
    metric: `RSS growth ${n1}→${n2}`,
    sidegate: `${growth} (${mb(rss.rssMb[0])}→${mb(rss.rssMb[1])})`,
    target: `≤ ${RSS_GROWTH_LIMIT * 100} %${judged ? '' : ' 100k→200k'}`,
    result: b.check(`RSS growth ${n1}→${n2}`, `≤ ${RSS_GROWTH_LIMIT * 100} %`, growth, pass(rss.growth <= RSS_GROWTH_LIMIT)),
  });
  if (rss.failures > 0) b.row({ metric: 'failed requests', sidegate: int(rss.failures), target: '0', result: 'FAIL' });
}

function reloadRows(b: Builder, r: ReloadResult): void {
  const worst = Math.max(r.startupCompileMs, max(r.compileMs));
  b.row({
    case: `reload ${r.routers} routers`,
    metric: 'compile ms: start/median/max',
    sidegate: `${r.startupCompileMs.toFixed(1)} / ${median(r.compileMs).toFixed(1)} / ${worst.toFixed(1)}`,
    target: `≤ ${COMPILE_LIMIT_MS} ms`,
    result: b.check(`reload compile (${r.routers} routers)`, `≤ ${COMPILE_LIMIT_MS} ms`, `${worst.toFixed(1)} ms`, worst <= COMPILE_LIMIT_MS),
  });
  const ok = r.failures === 0 && r.applied === r.reloads && r.reloadErrors === 0;
  b.row({
    metric: `failed req over ${r.reloads} reloads`,
    sidegate: `${int(r.failures)} of ${int(r.requests)}`,
    direct: `${r.applied}/${r.reloads} applied`,
    target: '0, all applied',
    result: b.check(`failed requests over ${r.reloads} reloads`, '0, every reload applied', `${r.failures} failed, ${r.applied}/${r.reloads} applied`, ok),
  });
}

function render(rows: Row[]): string {
  const widths = HEADER.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: Row): string => {
    let out = '';
    for (let i = 0; i < r.length; i++) {
      const cell = r[i]!;
      const numeric = i >= 2 && i <= 5;
      out += (numeric ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)) + '  ';
    }
    return out.trimEnd();
  };
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(HEADER), rule, ...rows.map(line)].join('\n');
}

export function buildReport(
  meta: Record<string, unknown>,
  direct: Samples,
  cases: CaseResult[],
  rss: RssResult | null,
  reload: ReloadResult | null,
): Report {
  const b = new Builder();
  for (const c of cases) {
    if (c.status === 'measured') caseRows(b, c, direct);
    else skippedRows(b, c);
  }
  if (rss) rssRows(b, rss);
  if (reload) reloadRows(b, reload);
  // Skipped reasons go under the table so that columns stay narrow.
  const reasons = b.rows.filter((r) => r[1].startsWith('skipped: '));
  for (const r of reasons) r[1] = 'skipped (see below)';
  const notes = cases.filter((c) => c.status === 'skipped').map((c) => `  ${c.name}: ${(c as { reason: string }).reason}`);
  const table = render(b.rows) + (notes.length ? `\nskipped:\n${notes.join('\n')}` : '');
  return { meta, direct, cases, rss, reload, targets: b.targets, table };
}
