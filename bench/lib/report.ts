/**
 * The bench's one table: every figure of sidegate beside the bare proxy measured in the
 * same run, the ratio, and the targets of the issue with pass/fail. The primary figure is
 * CPU time per request of the process under test; its ratio is bare ÷ sidegate, so 1.00×
 * means "costs what the bare proxy costs" and higher is better (a cache hit should be ≥ 2×).
 * The JSON written beside it holds the same data and the raw samples.
 */
import { max, median } from './stats.js';
import type { MicroResult } from './micro.js';

/** Per-round figures of one process under wrk's load. */
export interface LoadSamples {
  /** CPU time (user + system, all threads) of the process under test per request, µs. */
  cpuUs: number[];
  rps: number[];
  /** Share of one CPU the process under test used (1 = saturated). */
  busy: number[];
  /** wrk's latency percentiles under that load, ms. */
  p50Ms: number[];
  p99Ms: number[];
  requests: number;
  failures: number;
}

export function emptyLoad(): LoadSamples {
  return { cpuUs: [], rps: [], busy: [], p50Ms: [], p99Ms: [], requests: 0, failures: 0 };
}

export interface SideResult {
  load: LoadSamples;
  /** One request at a time: per-pass p50 and p99, ms. */
  oneConn: { p50Ms: number[]; p99Ms: number[] } | null;
  /** Per-pass median time to the first SSE chunk, ms. */
  firstChunkMs: number[] | null;
  peakMb: number;
  /** Failed requests of the one-connection clients. */
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
  | {
      name: string;
      status: 'measured';
      cpuTarget: number | null;
      gateway: SideResult;
      bare: SideResult;
      /** The mock reached directly, first SSE chunks measured in the same interleaved passes as both proxies (cases with first chunks). */
      directFirstChunkMs: number[] | null;
      overhead: Overhead | null;
      profile: string | null;
    };

export interface Direct {
  /** The mock reached without a proxy, small bodies, 32 connections. */
  load: LoadSamples;
  oneConnP50Ms: number[];
  firstChunkMs: number[];
}

export interface GrowthRow {
  /** `features`: one feature alone; its `bare` is the same router without features, not the bare proxy. */
  group: 'routers' | 'keys' | 'body' | 'connections' | 'features';
  /** `1`, `100 KB`, `1024`… */
  label: string;
  /** The number it stands for (routers, bytes, connections). */
  size: number;
  /**
   * Set when the requests differ from the group's common traffic (`over 16 routers`): the
   * row is shown, and never judged against the group's first row.
   */
  traffic?: string;
  connections: number;
  gateway: LoadSamples;
  bare: LoadSamples;
}

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

/** The data plane while a large config is compiled: wrk's slowest request with and without reloads. */
export interface StallResult {
  routers: number;
  reloads: number;
  applied: number;
  /** Hostile files saved between the reloads (alias bombs, a file over the size limit), and how many the gateway rejected. */
  bombs: number;
  rejected: number;
  compileMs: number[];
  quiet: { maxMs: number; p99Ms: number };
  reloading: { maxMs: number; p99Ms: number };
  failures: number;
}

export interface StartupResult {
  /** `sidegate validate gateway.example.yaml`, wall ms per run. */
  validateMs: number[];
  /** `sidegate start` until /readyz answers 200, wall ms per run. */
  readyMs: number[];
}

export interface Headroom {
  directRps: number;
  bareRps: number;
  ratio: number;
  /** The least ratio at which the load generator is not the bottleneck. */
  needed: number;
}

export interface TargetCheck {
  name: string;
  target: string;
  value: string;
  /** null: not judged in this run (the case was skipped, or --quick ran fewer requests than the target names). */
  pass: boolean | null;
}

export interface Chartable {
  /** What the bar is: a case, or a growth step. */
  label: string;
  /** bare CPU µs per request ÷ sidegate's. */
  ratio: number;
  target: number | null;
}

export interface Report {
  meta: Record<string, unknown>;
  headroom: Headroom;
  direct: Direct;
  cases: CaseResult[];
  growth: GrowthRow[];
  rss: RssResult | null;
  reload: ReloadResult | null;
  stall: StallResult | null;
  startup: StartupResult | null;
  targets: TargetCheck[];
  /** The ratios the chart shows. */
  ratios: Chartable[];
  table: string;
}

const P50_DELTA_TARGET_MS = 0.05;
const P50_DELTA_CASES = new Set(['default', 'default_total']);
const TTFC_DELTA_TARGET_MS = 0.5;
const RSS_LIMIT_MB = 100;
const RSS_GROWTH_LIMIT = 0.05;
/** The RSS targets are set at 100k and 200k requests: fewer (--quick) shows the figures without a verdict. */
const RSS_TARGET_REQUESTS = 200_000;
const COMPILE_LIMIT_MS = 100;
/** A reload may delay a concurrent request by at most this much (issue 17). */
const STALL_LIMIT_MS = 100;
const VALIDATE_LIMIT_MS = 300;
const READY_LIMIT_MS = 500;
/** CPU per request with the most routers may exceed that with one router by at most this share. */
const ROUTERS_FLAT = 0.05;

type Row = [string, string, string, string, string, string, string, string];
const HEADER: Row = ['case', 'metric', 'sidegate', 'bare', 'ratio', 'direct', 'target', 'result'];

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const ms = (n: number): string => fixed(n, 3);
const mb = (n: number): string => fixed(n, 1);
const times = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '-');
const signed = (n: number, unit: string, digits = 3): string => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${n.toFixed(digits)}${unit}` : '-');
const verdict = (pass: boolean | null): string => (pass === null ? '-' : pass ? 'PASS' : 'FAIL');

/** bare ÷ sidegate CPU per request: the primary ratio. */
export function cpuRatio(gateway: LoadSamples, bare: LoadSamples): number {
  return median(bare.cpuUs) / median(gateway.cpuUs);
}

class Builder {
  readonly rows: Row[] = [];
  readonly targets: TargetCheck[] = [];
  readonly ratios: Chartable[] = [];

  row(cells: Partial<Record<(typeof HEADER)[number], string>>): void {
    this.rows.push(HEADER.map((h) => cells[h] ?? '') as Row);
  }

  check(name: string, target: string, value: string, pass: boolean | null): string {
    this.targets.push({ name, target, value, pass });
    return verdict(pass);
  }
}

const busy = (s: LoadSamples): string => `${int(median(s.rps))} (${int(100 * median(s.busy))} %)`;

/** CPU per request, req/s and p99 under load of one process against the bare proxy. */
function loadRows(b: Builder, label: string, first: string, g: LoadSamples, r: LoadSamples, target: number | null, direct?: LoadSamples): void {
  const ratio = cpuRatio(g, r);
  b.ratios.push({ label, ratio, target });
  b.row({
    case: first,
    metric: 'CPU µs/req',
    sidegate: fixed(median(g.cpuUs), 1),
    bare: fixed(median(r.cpuUs), 1),
    ratio: times(ratio),
    ...(target !== null && {
      target: `≥ ${target.toFixed(2)}× bare`,
      result: b.check(`${label} CPU per request`, `≥ ${target}× bare`, times(ratio), ratio >= target),
    }),
  });
  b.row({ metric: 'req/s (CPU busy)', sidegate: busy(g), bare: busy(r), ratio: times(median(g.rps) / median(r.rps)), direct: direct ? int(median(direct.rps)) : '' });
  b.row({ metric: 'p50 / p99 under load, ms', sidegate: `${ms(median(g.p50Ms))} / ${ms(median(g.p99Ms))}`, bare: `${ms(median(r.p50Ms))} / ${ms(median(r.p99Ms))}`, ratio: times(median(g.p99Ms) / median(r.p99Ms)) });
  if (g.failures + r.failures > 0) b.row({ metric: 'failed requests', sidegate: int(g.failures), bare: int(r.failures), target: '0', result: 'FAIL' });
}

function caseRows(b: Builder, c: Extract<CaseResult, { status: 'measured' }>, direct: Direct): void {
  const g = c.gateway;
  const r = c.bare;
  loadRows(b, c.name, c.name, g.load, r.load, c.cpuTarget, c.name === 'minimal' ? direct.load : undefined);
  if (g.oneConn && r.oneConn) {
    const p50 = [median(g.oneConn.p50Ms), median(r.oneConn.p50Ms)] as const;
    const delta = p50[0] - p50[1];
    const judged = P50_DELTA_CASES.has(c.name);
    b.row({
      metric: 'p50 / p99 @1 conn, ms',
      sidegate: `${ms(p50[0])} / ${ms(median(g.oneConn.p99Ms))}`,
      bare: `${ms(p50[1])} / ${ms(median(r.oneConn.p99Ms))}`,
      ratio: signed(delta, ' ms'),
      direct: ms(median(direct.oneConnP50Ms)),
      ...(judged && {
        target: `p50 ≤ bare + ${P50_DELTA_TARGET_MS} ms`,
        result: b.check(`${c.name} p50 at 1 connection`, `≤ bare + ${P50_DELTA_TARGET_MS} ms`, `bare ${signed(delta, ' ms')}`, delta <= P50_DELTA_TARGET_MS),
      }),
    });
  }
  if (g.firstChunkMs && r.firstChunkMs) {
    const [gm, rm, dm] = [median(g.firstChunkMs), median(r.firstChunkMs), median(c.directFirstChunkMs ?? direct.firstChunkMs)];
    b.row({
      metric: 'first SSE chunk, ms',
      sidegate: ms(gm),
      bare: ms(rm),
      ratio: signed(gm - rm, ' ms'),
      direct: ms(dm),
      target: `≤ direct + ${TTFC_DELTA_TARGET_MS} ms`,
      result: b.check(`${c.name} time to first chunk`, `≤ direct + ${TTFC_DELTA_TARGET_MS} ms`, `direct ${signed(gm - dm, ' ms')}`, gm - dm <= TTFC_DELTA_TARGET_MS),
    });
  }
  b.row({ metric: 'peak RSS, MB', sidegate: mb(g.peakMb), bare: mb(r.peakMb), ratio: times(g.peakMb / r.peakMb) });
  if (c.overhead) b.row({ metric: 'own time p50 / p99, ms', sidegate: `≤${c.overhead.p50Ms} / ≤${c.overhead.p99Ms}`, target: 'ai_gateway_overhead_seconds' });
  if (g.failures + r.failures > 0) b.row({ metric: 'failed (1 conn)', sidegate: int(g.failures), bare: int(r.failures), target: '0', result: 'FAIL' });
}

function skippedRows(b: Builder, c: Extract<CaseResult, { status: 'skipped' }>, target: number | null): void {
  b.row({
    case: c.name,
    metric: 'skipped (see below)',
    ...(target !== null && { target: `≥ ${target.toFixed(2)}× bare`, result: b.check(`${c.name} CPU per request`, `≥ ${target}× bare`, 'skipped', null) }),
  });
}

const GROWTH_TITLE: Record<GrowthRow['group'], string> = { routers: 'routers', keys: 'keys', body: 'body', connections: 'connections', features: 'feature' };

/**
 * Each feature alone: its CPU per request, the featureless router's in the same rounds, and
 * what the item adds: the median of its rounds' differences (each round measures the item
 * and the baseline back to back), with the smallest and largest, so the noise is on the row.
 */
function featureRows(b: Builder, rows: GrowthRow[]): void {
  for (const [i, row] of rows.entries()) {
    const g = median(row.gateway.cpuUs);
    const r = median(row.bare.cpuUs);
    const diffs = row.gateway.cpuUs.map((us, k) => us - (row.bare.cpuUs[k] ?? NaN)).filter((d) => Number.isFinite(d));
    const spread = diffs.length > 1 ? ` (${signed(Math.min(...diffs), '', 0)}…${signed(Math.max(...diffs), '', 0)})` : '';
    b.row({
      case: i === 0 ? 'one feature alone' : '',
      metric: `${row.label}, CPU µs/req vs none`,
      sidegate: fixed(g, 1),
      bare: fixed(r, 1),
      direct: `${signed(diffs.length ? median(diffs) : g - r, ' µs', 1)}${spread}`,
    });
    if (row.gateway.failures + row.bare.failures > 0) b.row({ metric: 'failed requests', sidegate: int(row.gateway.failures), bare: int(row.bare.failures), target: '0', result: 'FAIL' });
  }
}

/**
 * How much more `values` costs than `base`, as a fraction: the median over rounds of each
 * round's own ratio, so that a drift of the machine between rounds (which falls on both
 * sides of a round alike) does not read as growth. Samples of different lengths have no
 * rounds in common: then the ratio of their medians.
 */
function pairedGrowth(values: readonly number[], base: readonly number[]): number {
  if (values.length !== base.length || !values.length) return median(values) / median(base) - 1;
  return median(values.map((v, i) => v / base[i]!)) - 1;
}

function growthRows(b: Builder, rows: GrowthRow[]): void {
  for (const group of ['routers', 'keys', 'body', 'connections'] as const) {
    const list = rows.filter((r) => r.group === group);
    if (!list.length) continue;
    const smallest = list[0]!;
    const judged = list.filter((r) => !r.traffic);
    for (const row of list) {
      const g = median(row.gateway.cpuUs);
      const r = median(row.bare.cpuUs);
      const label = `${GROWTH_TITLE[group]} ${row.label}${row.traffic ? `, ${row.traffic}` : ''}`;
      if (group === 'connections') {
        // What grows with connections is the wait: p99 under load.
        const [gp, rp] = [median(row.gateway.p99Ms), median(row.bare.p99Ms)];
        b.row({ case: label, metric: 'p99 under load, ms', sidegate: ms(gp), bare: ms(rp), ratio: times(gp / rp) });
        b.row({ metric: 'CPU µs/req; req/s', sidegate: `${fixed(g, 1)}; ${int(median(row.gateway.rps))}`, bare: `${fixed(r, 1)}; ${int(median(row.bare.rps))}`, ratio: times(r / g) });
      } else {
        b.ratios.push({ label, ratio: r / g, target: null });
        const vsFirst = pairedGrowth(row.gateway.cpuUs, smallest.gateway.cpuUs);
        const flat = (group === 'routers' || group === 'keys') && !row.traffic && row === judged.at(-1) && row !== smallest;
        b.row({
          case: label,
          metric: 'CPU µs/req',
          sidegate: fixed(g, 1),
          bare: fixed(r, 1),
          ratio: times(r / g),
          direct: row === smallest ? '' : `${signed(100 * vsFirst, ' %', 1)} vs ${smallest.label}`,
          ...(flat && {
            target: `≤ ${smallest.label} ${group === 'keys' ? 'key' : 'router'} + ${ROUTERS_FLAT * 100} %`,
            result: b.check(`CPU per request, ${row.label} ${group} vs ${smallest.label}`, `within ${ROUTERS_FLAT * 100} %`, signed(100 * vsFirst, ' %', 1), vsFirst <= ROUTERS_FLAT),
          }),
        });
        if (group === 'body') b.row({ metric: 'CPU µs per KB of body', sidegate: fixed((g * 1024) / row.size, 2), bare: fixed((r * 1024) / row.size, 2) });
      }
      if (row.gateway.failures + row.bare.failures > 0) b.row({ metric: 'failed requests', sidegate: int(row.gateway.failures), bare: int(row.bare.failures), target: '0', result: 'FAIL' });
    }
  }
  const features = rows.filter((r) => r.group === 'features');
  if (features.length) featureRows(b, features);
}

function rssRows(b: Builder, rss: RssResult): void {
  const [n1, n2] = rss.requests.map((n) => `${Math.round(n / 1000)}k`);
  const judged = rss.requests[1] >= RSS_TARGET_REQUESTS;
  const pass = (ok: boolean): boolean | null => (judged ? ok : null);
  const growth = signed(rss.growth * 100, ' %', 1);
  b.row({
    case: 'default RSS',
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
    sidegate: `${fixed(r.startupCompileMs, 1)} / ${fixed(median(r.compileMs), 1)} / ${fixed(worst, 1)}`,
    target: `≤ ${COMPILE_LIMIT_MS} ms`,
    result: b.check(`reload compile (${r.routers} routers)`, `≤ ${COMPILE_LIMIT_MS} ms`, `${fixed(worst, 1)} ms`, worst <= COMPILE_LIMIT_MS),
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

function stallRows(b: Builder, s: StallResult): void {
  const handled = `${s.applied}/${s.reloads} applied${s.bombs ? `, ${s.rejected}/${s.bombs} bombs rejected` : ''}`;
  b.row({ case: `reload ${int(s.routers)} routers`, metric: 'compile ms: median/max', sidegate: `${fixed(median(s.compileMs), 0)} / ${fixed(max(s.compileMs), 0)}`, direct: handled });
  const stall = s.reloading.maxMs - s.quiet.maxMs;
  // A reload that was not applied (or a bomb not rejected) stalled nothing the figure could show.
  const pass = s.applied === s.reloads && s.rejected === s.bombs && stall <= STALL_LIMIT_MS;
  b.row({
    metric: 'slowest request, ms',
    sidegate: `${fixed(s.reloading.maxMs, 1)} reloading`,
    bare: `${fixed(s.quiet.maxMs, 1)} quiet`,
    ratio: signed(stall, ' ms', 1),
    target: `≤ quiet + ${STALL_LIMIT_MS} ms`,
    result: b.check(
      `data-plane stall over ${s.reloads} reloads of ${int(s.routers)} routers${s.bombs ? ` and ${s.bombs} bombs` : ''} (slowest request reloading − quiet)`,
      `≤ +${STALL_LIMIT_MS} ms, every reload applied, every bomb rejected`,
      `${signed(stall, ' ms', 1)}, ${handled}`,
      pass,
    ),
  });
  b.row({ metric: 'p99 under load, ms', sidegate: `${ms(s.reloading.p99Ms)} reloading`, bare: `${ms(s.quiet.p99Ms)} quiet` });
  if (s.failures > 0) b.row({ metric: 'failed requests', sidegate: int(s.failures), target: '0', result: 'FAIL' });
}

function startupRows(b: Builder, s: StartupResult): void {
  const [v, r] = [median(s.validateMs), median(s.readyMs)];
  b.row({
    case: 'startup',
    metric: 'validate example, ms',
    sidegate: fixed(v, 0),
    target: `≤ ${VALIDATE_LIMIT_MS} ms`,
    result: b.check('sidegate validate gateway.example.yaml', `≤ ${VALIDATE_LIMIT_MS} ms`, `${fixed(v, 0)} ms`, v <= VALIDATE_LIMIT_MS),
  });
  b.row({
    metric: 'start → /readyz 200, ms',
    sidegate: fixed(r, 0),
    target: `≤ ${READY_LIMIT_MS} ms`,
    result: b.check('sidegate start to /readyz 200', `≤ ${READY_LIMIT_MS} ms`, `${fixed(r, 0)} ms`, r <= READY_LIMIT_MS),
  });
}

/** Below this, counting a 100 KB prompt costs what the issue allows. */
const TOKENS_100KB_LIMIT_MS = 2;

function microRows(b: Builder, m: MicroResult): void {
  const pair = (t: { p50: number; p99: number }, unit: 'ms' | 'µs'): string =>
    unit === 'ms' ? `${fixed(t.p50, 2)} / ${fixed(t.p99, 2)}` : `${fixed(t.p50 * 1000, 1)} / ${fixed(t.p99 * 1000, 1)}`;
  b.row({
    case: 'micro',
    metric: `count 100 KB prompt (${m.tokens100kb.tokens} tokens) p50 / p99, ms`,
    sidegate: pair(m.tokens100kb, 'ms'),
    target: `p50 < ${TOKENS_100KB_LIMIT_MS} ms`,
    result: b.check('token counter on a 100 KB prompt (p50)', `< ${TOKENS_100KB_LIMIT_MS} ms`, `${fixed(m.tokens100kb.p50, 2)} ms`, m.tokens100kb.p50 < TOKENS_100KB_LIMIT_MS),
  });
  b.row({ metric: 'count it again (turns seen before) p50 / p99, ms', sidegate: pair(m.tokens100kbRepeat, 'ms') });
  b.row({ metric: 'local embedding, prompt p50 / p99, µs', sidegate: pair(m.embedPrompt, 'µs') });
  b.row({ metric: 'local embedding, 2 KB p50 / p99, µs', sidegate: pair(m.embed2kb, 'µs') });
  b.row({ metric: 'vector search, 1,000 p50 / p99, µs', sidegate: pair(m.search1k, 'µs') });
  b.row({ metric: 'vector search, 10,000 p50 / p99, µs', sidegate: pair(m.search10k, 'µs') });
}

function render(rows: Row[]): string {
  const widths = HEADER.map((_, i) => Math.max(...[HEADER, ...rows].map((r) => r[i]!.length)));
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

export interface ReportInput {
  meta: Record<string, unknown>;
  headroom: Headroom;
  direct: Direct;
  cases: CaseResult[];
  /** Targets of skipped cases, so that the table says what was not judged. */
  caseTargets: Record<string, number | null>;
  growth: GrowthRow[];
  rss: RssResult | null;
  reload: ReloadResult | null;
  stall: StallResult | null;
  startup: StartupResult | null;
  micro: MicroResult | null;
}

export function buildReport(input: ReportInput): Report {
  const b = new Builder();
  const h = input.headroom;
  b.check('load generator headroom (direct ÷ bare req/s)', `≥ ${h.needed}×`, times(h.ratio), h.ratio >= h.needed);
  for (const c of input.cases) {
    if (c.status === 'measured') caseRows(b, c, input.direct);
    else skippedRows(b, c, input.caseTargets[c.name] ?? null);
  }
  growthRows(b, input.growth);
  if (input.rss) rssRows(b, input.rss);
  if (input.reload) reloadRows(b, input.reload);
  if (input.stall) stallRows(b, input.stall);
  if (input.startup) startupRows(b, input.startup);
  if (input.micro) microRows(b, input.micro);
  const notes = input.cases.filter((c) => c.status === 'skipped').map((c) => `  ${c.name}: ${(c as { reason: string }).reason}`);
  const table = render(b.rows) + (notes.length ? `\nskipped:\n${notes.join('\n')}` : '');
  const { caseTargets: _, ...data } = input;
  return { ...data, targets: b.targets, ratios: b.ratios, table };
}
