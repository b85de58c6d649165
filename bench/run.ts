/**
 * `npm run bench [-- --quick | --smoke] [--json FILE] [--cases a,b] [--cpu-prof DIR] [--src]`
 *
 * On loopback only: a mock upstream, the bare proxy (bench/bare-proxy.ts) and sidegate with
 * each config in bench/configs/ (a config that does not validate is skipped, with why),
 * measured alternately with the bare proxy (A/B per round, medians over rounds). Then RSS
 * over a long run of `default` and hot reloads of a 100-router config under load. Prints
 * one table of ratios to the bare proxy with absolute numbers and the targets of issue 3.
 *
 * sidegate runs as users run it (`node dist/cli.js start -c FILE`; `--src` runs src/ with
 * tsx instead) pinned to one CPU; this process (the load) and the mock use the other.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { firstChunk, latency, load, type Shape } from './lib/load.js';
import { Child, Children, compileScript, freePort, machineBusyMs, planPinning, processCpuMs, REPO, sleep, type Pinning } from './lib/procs.js';
import { summarizeProfile } from './lib/profile.js';
import { buildReport, emptySamples, type CaseResult, type Overhead, type ReloadResult, type RssResult, type Samples, type Side } from './lib/report.js';
import { median } from './lib/stats.js';
import { reloadConfig } from './lib/reload-config.js';

interface Mode {
  name: 'full' | 'quick' | 'smoke';
  /** A/B rounds per case; each figure is the median over rounds. */
  rounds: number;
  directRounds: number;
  throughputSec: number;
  latencySec: number;
  /** Streaming requests per round for the time to first chunk. */
  firstChunks: number;
  /** Warm-up of a fresh process: at least warmSec, until its rate settles, at most warmMaxSec. */
  warmSec: number;
  warmMaxSec: number;
  /** Requests after which RSS is read in the long run of `default`. */
  rssAt: [number, number];
  reloads: number;
  /** Only these cases (null: every config in bench/configs/). */
  cases: string[] | null;
}

const MODES: Record<Mode['name'], Mode> = {
  full: { name: 'full', rounds: 6, directRounds: 2, throughputSec: 3, latencySec: 2, firstChunks: 150, warmSec: 5, warmMaxSec: 10, rssAt: [100_000, 200_000], reloads: 50, cases: null },
  quick: { name: 'quick', rounds: 2, directRounds: 1, throughputSec: 1.25, latencySec: 0.5, firstChunks: 30, warmSec: 2.5, warmMaxSec: 2.5, rssAt: [8_000, 16_000], reloads: 10, cases: null },
  smoke: { name: 'smoke', rounds: 1, directRounds: 1, throughputSec: 0.5, latencySec: 0.25, firstChunks: 10, warmSec: 0.5, warmMaxSec: 0.5, rssAt: [1_000, 2_000], reloads: 2, cases: ['minimal'] },
};

const CONNECTIONS = 32;
const RELOAD_ROUTERS = 100;
/** Cases in the order the table shows them; other configs follow alphabetically. */
const CASE_ORDER = ['minimal', 'default', 'full', 'cache_hit'];
const CONFIG_DIR = join(REPO, 'bench', 'configs');
const START_TIMEOUT_MS = 20_000;
const RELOAD_TIMEOUT_MS = 5_000;

const USAGE = `usage: npm run bench [-- options]
  --quick          fewer rounds and shorter runs (under a minute)
  --smoke          one case, about a second per measurement (for the smoke test)
  --json FILE      also write the results as JSON
  --cases a,b      only these configs from bench/configs/ (the long RSS run needs default)
  --cpu-prof DIR   run sidegate with --cpu-prof into DIR and print its top self-time functions
  --latency MS     the mock upstream waits MS before each answer (default 0)
  --src            run sidegate from src/ with tsx instead of dist/ (no build needed)
  --keep           keep the logs of every process (they are kept anyway on failure)`;

interface Options {
  mode: Mode;
  json: string | null;
  cases: string[] | null;
  cpuProf: string | null;
  latencyMs: number;
  src: boolean;
  keep: boolean;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      smoke: { type: 'boolean' },
      json: { type: 'string' },
      cases: { type: 'string' },
      'cpu-prof': { type: 'string' },
      latency: { type: 'string' },
      src: { type: 'boolean' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const mode = MODES[values.smoke ? 'smoke' : values.quick ? 'quick' : 'full'];
  return {
    mode,
    json: values.json ? resolve(values.json) : null,
    cases: values.cases ? values.cases.split(',').map((s) => s.trim()) : mode.cases,
    cpuProf: values['cpu-prof'] ? resolve(values['cpu-prof']) : null,
    latencyMs: Number(values.latency ?? 0),
    src: values.src ?? false,
    keep: values.keep ?? false,
  };
}

const startedAt = performance.now();
const log = (message: string): void => void process.stderr.write(`bench ${((performance.now() - startedAt) / 1000).toFixed(1).padStart(5)} s: ${message}\n`);

/** A process the load can be aimed at. */
interface Target {
  url: string;
  child: Child | null;
}

interface Gateway extends Target {
  child: Child;
  adminUrl: string;
}

class Bench {
  readonly children: Children;
  readonly gatewayArgs: string[];
  private mock!: Target;
  private bare!: Target;

  constructor(
    readonly opts: Options,
    readonly pinning: Pinning,
    readonly workDir: string,
  ) {
    this.children = new Children(join(workDir, 'logs'), pinning);
    const cli = opts.src ? join(REPO, 'src', 'cli.ts') : join(REPO, 'dist', 'cli.js');
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (or pass --src)`);
    // The gateway runs with the Node flag it ships with (src/cli.ts, Dockerfile, npm start).
    this.gatewayArgs = ['--max-semi-space-size=8', ...(opts.src ? ['--import', 'tsx', cli] : [cli])];
  }

  private async startScript(name: string, file: string, env: Record<string, string>, cpu: 'gateway' | 'load'): Promise<Target> {
    const child = this.children.start({ name, args: [compileScript(join(REPO, 'bench', file))], cpu, env, ipc: true });
    const { port } = await child.message<{ port: number }>(START_TIMEOUT_MS);
    return { url: `http://127.0.0.1:${port}`, child };
  }

  async startFixtures(): Promise<void> {
    this.mock = await this.startScript('mock-upstream', 'mock-upstream.ts', { BENCH_LATENCY_MS: String(this.opts.latencyMs) }, 'load');
    this.bare = await this.startScript('bare-proxy', 'bare-proxy.ts', { BENCH_UPSTREAM: this.mock.url }, 'gateway');
  }

  private env(listen: number, admin: number): Record<string, string> {
    return { BENCH_LISTEN: `127.0.0.1:${listen}`, BENCH_ADMIN: `127.0.0.1:${admin}`, BENCH_UPSTREAM: this.mock.url };
  }

  /** `sidegate validate FILE`: null when the config is valid, else why not. */
  validate(file: string): Promise<string | null> {
    return new Promise((done) => {
      execFile(
        process.execPath,
        [...this.gatewayArgs, 'validate', file],
        { cwd: REPO, env: { ...process.env, ...this.env(1, 2) }, timeout: 60_000 },
        (err, stdout, stderr) => {
          if (!err) return done(null);
          const lines = `${stderr}${stdout}`.trim().split('\n').slice(1);
          const more = lines.length > 1 ? ` (and ${lines.length - 1} more)` : '';
          done(lines.length ? `${lines[0]}${more}` : err.message);
        },
      );
    });
  }

  async startGateway(name: string, file: string, profile = false): Promise<Gateway> {
    const [listen, admin] = [await freePort(), await freePort()];
    const profiling = profile && this.opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${this.opts.cpuProf}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
    const child = this.children.start({
      name: `sidegate-${name}`,
      args: [...profiling, ...this.gatewayArgs, 'start', '-c', file],
      cpu: 'gateway',
      env: this.env(listen, admin),
    });
    await child.waitForPort(listen, START_TIMEOUT_MS);
    await child.waitForPort(admin, START_TIMEOUT_MS);
    return { url: `http://127.0.0.1:${listen}`, adminUrl: `http://127.0.0.1:${admin}`, child };
  }

  /**
   * Load until throughput settles: at least `minSec`, then until two consecutive 1-s
   * slices agree within 3 %, at most `maxSec`. A fresh Node process needs about 5 s of
   * load (some 25k requests) to reach its steady rate while V8 optimizes its code and
   * sizes its heap.
   */
  async warm(target: Target, shape: Shape, minSec = this.opts.mode.warmSec, maxSec = this.opts.mode.warmMaxSec): Promise<void> {
    const slice = Math.min(1, minSec);
    let previous = 0;
    for (let spent = slice; ; spent += slice) {
      const { rps } = await load(target.url, { connections: CONNECTIONS, seconds: slice, shape });
      if (spent >= minSec && (Math.abs(rps - previous) <= 0.03 * rps || spent >= maxSec)) break;
      previous = rps;
    }
    await firstChunk(target.url, 5, shape);
  }

  /** One round of every figure on one target; failures are counted, not thrown. */
  private async round(target: Target, shape: Shape, samples: Samples): Promise<number> {
    const mode = this.opts.mode;
    const cpuBefore = target.child?.cpuMs() ?? Number.NaN;
    const t0 = performance.now();
    const tput = await load(target.url, { connections: CONNECTIONS, seconds: mode.throughputSec, shape });
    const cpuMs = (target.child?.cpuMs() ?? Number.NaN) - cpuBefore;
    samples.cpuUs.push((cpuMs * 1000) / tput.requests);
    samples.busy.push(cpuMs / (performance.now() - t0));
    const lat = await latency(target.url, mode.latencySec, shape);
    const first = await firstChunk(target.url, mode.firstChunks, shape);
    samples.rps.push(tput.rps);
    samples.p50.push(lat.p50Ms);
    samples.p99.push(lat.p99Ms);
    samples.ttfc.push(first.medianMs);
    return tput.failures + lat.failures + first.failures;
  }

  /** The mock alone, then warms the bare proxy, which lives through every case. */
  async measureDirect(): Promise<Samples> {
    const shape: Shape = { models: ['gpt-4o-mini'], vary: false };
    const samples = emptySamples();
    const mockWarm = Math.min(1, this.opts.mode.warmSec);
    await this.warm(this.mock, shape, mockWarm, mockWarm);
    for (let r = 0; r < this.opts.mode.directRounds; r++) await this.round(this.mock, shape, samples);
    await this.warm(this.bare, shape);
    return samples;
  }

  async measureCase(name: string, file: string): Promise<CaseResult> {
    const vary = /^#\s*bench:.*\bvary-body\b/m.test(readFileSync(file, 'utf8'));
    const shape: Shape = { models: ['gpt-4o-mini'], vary };
    const gw = await this.startGateway(name, file, true);
    try {
      const gateway: Side = { samples: emptySamples(), peakMb: 0, failures: 0 };
      const bare: Side = { samples: emptySamples(), peakMb: 0, failures: 0 };
      await this.warm(gw, shape);
      // A/B, then B/A: a slow drift of the machine falls on both alike.
      for (let r = 0; r < this.opts.mode.rounds; r++) {
        log(`${name}: round ${r + 1}/${this.opts.mode.rounds}`);
        const order = r % 2 === 0 ? [bare, gateway] : [gateway, bare];
        for (const side of order) side.failures += await this.round(side === bare ? this.bare : gw, shape, side.samples);
      }
      gateway.peakMb = gw.child.memory().peakMb;
      bare.peakMb = this.bare.child!.memory().peakMb;
      const overhead = await scrapeOverhead(gw.adminUrl);
      await gw.child.stop();
      const profile = this.opts.cpuProf ? join(this.opts.cpuProf, `${name}.cpuprofile`) : null;
      if (profile && existsSync(profile)) log(`${name} profile (${profile}), top self time:\n${summarizeProfile(profile, 25)}`);
      return { name, status: 'measured', gateway, bare, overhead, profile };
    } finally {
      await gw.child.stop();
    }
  }

  /** RSS of a fresh `default` gateway after rssAt[0] and rssAt[1] requests. */
  async measureRss(file: string): Promise<RssResult> {
    const [first, second] = this.opts.mode.rssAt;
    const shape: Shape = { models: ['gpt-4o-mini'], vary: false };
    const gw = await this.startGateway('default-rss', file);
    try {
      const settleMs = this.opts.mode.name === 'full' ? 2000 : 300;
      const a = await load(gw.url, { connections: CONNECTIONS, amount: first, shape });
      await sleep(settleMs);
      const at1 = gw.child.memory();
      log(`rss: ${first} requests, ${at1.rssMb.toFixed(1)} MB`);
      const b = await load(gw.url, { connections: CONNECTIONS, amount: second - first, shape });
      await sleep(settleMs);
      const at2 = gw.child.memory();
      log(`rss: ${second} requests, ${at2.rssMb.toFixed(1)} MB`);
      return {
        requests: [first, second],
        rssMb: [at1.rssMb, at2.rssMb],
        peakMb: at2.peakMb,
        growth: (at2.rssMb - at1.rssMb) / at1.rssMb,
        failures: a.failures + b.failures,
      };
    } finally {
      await gw.child.stop();
    }
  }

  /** Rewrites a 100-router config `reloads` times while autocannon runs; the CLI's watcher reloads it. */
  async measureReload(): Promise<ReloadResult> {
    const dir = join(this.workDir, 'reload');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'gateway.yaml');
    writeAtomically(file, reloadConfig(RELOAD_ROUTERS, 0));
    const gw = await this.startGateway('reload', file);
    const shape: Shape = { models: ['r0', 'r17', 'alias-42', 'r99'], vary: false };
    let stopLoad = (): void => {};
    try {
      const startup = await stats(gw.adminUrl);
      await load(gw.url, { connections: CONNECTIONS, seconds: Math.min(1, this.opts.mode.warmSec), shape });
      const running = load(gw.url, { connections: CONNECTIONS, seconds: 600, shape, onStart: (stop) => (stopLoad = stop) });
      await sleep(300);
      const compileMs: number[] = [];
      let applied = 0;
      let last = startup;
      for (let i = 1; i <= this.opts.mode.reloads; i++) {
        writeAtomically(file, reloadConfig(RELOAD_ROUTERS, i));
        const deadline = performance.now() + RELOAD_TIMEOUT_MS;
        do {
          await sleep(20);
          last = await stats(gw.adminUrl);
        } while (last.config.reloads.success + last.config.reloads.error < i && performance.now() < deadline);
        if (last.config.reloads.success > applied) {
          applied = last.config.reloads.success;
          compileMs.push(last.config.compile_ms);
        }
      }
      await sleep(300);
      stopLoad();
      const result = await running;
      log(`reload: ${applied}/${this.opts.mode.reloads} applied, ${result.failures} failed of ${result.requests}`);
      return {
        routers: RELOAD_ROUTERS,
        reloads: this.opts.mode.reloads,
        applied,
        reloadErrors: last.config.reloads.error,
        startupCompileMs: startup.config.compile_ms,
        compileMs,
        requests: result.requests,
        failures: result.failures,
      };
    } finally {
      stopLoad();
      await gw.child.stop();
    }
  }
}

interface Stats {
  config: { compile_ms: number; reloads: { success: number; error: number; unchanged: number } };
}

async function stats(adminUrl: string): Promise<Stats> {
  const res = await fetch(`${adminUrl}/stats`, { signal: AbortSignal.timeout(5000) });
  return (await res.json()) as Stats;
}

/** The median and p99 bucket bounds of ai_gateway_overhead_seconds, all routers together. */
async function scrapeOverhead(adminUrl: string): Promise<Overhead | null> {
  const text = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text(), () => '');
  const buckets = new Map<number, number>();
  for (const m of text.matchAll(/^ai_gateway_overhead_seconds_bucket\{([^}]*)\}\s+(\d+)/gm)) {
    const le = /le="([^"]+)"/.exec(m[1]!)?.[1];
    if (!le) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(m[2]));
  }
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const count = buckets.get(Infinity) ?? 0;
  if (count === 0) return null;
  const quantile = (q: number): number => bounds.find((b) => buckets.get(b)! >= q * count)! * 1000;
  return { p50Ms: quantile(0.5), p99Ms: quantile(0.99), count };
}

function writeAtomically(file: string, text: string): void {
  const tmp = join(dirname(file), `.${process.pid}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function caseFiles(only: string[] | null): Array<[string, string]> {
  const names = readdirSync(CONFIG_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length));
  const rank = (n: string): number => (CASE_ORDER.includes(n) ? CASE_ORDER.indexOf(n) : CASE_ORDER.length);
  names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  if (only) {
    const unknown = only.filter((n) => !names.includes(n));
    if (unknown.length) throw new Error(`no config bench/configs/${unknown[0]}.yaml (have: ${names.join(', ')})`);
  }
  return names.filter((n) => !only || only.includes(n)).map((n) => [n, join(CONFIG_DIR, `${n}.yaml`)]);
}

async function runBench(bench: Bench): Promise<void> {
  const { opts, pinning } = bench;
  const started = performance.now();
  const machineBefore = machineBusyMs();
  const oursBefore = processCpuMs(process.pid, true);
  await bench.startFixtures();
  log(`mode ${opts.mode.name}; ${pinning.note}`);
  const direct = await bench.measureDirect();
  log(`direct: ${Math.round(median(direct.rps))} req/s`);

  const cases: CaseResult[] = [];
  for (const [name, file] of caseFiles(opts.cases)) {
    const invalid = await bench.validate(file);
    if (invalid) {
      log(`${name}: skipped, the config does not validate: ${invalid}`);
      cases.push({ name, status: 'skipped', reason: invalid });
      continue;
    }
    cases.push(await bench.measureCase(name, file));
  }
  const defaultCase = cases.find((c) => c.name === 'default');
  const rss = defaultCase?.status === 'measured' ? await bench.measureRss(join(CONFIG_DIR, 'default.yaml')) : null;
  const reload = await bench.measureReload();

  // CPU the rest of the machine used meanwhile (e.g. a test suite): figures are only as good as the machine was quiet.
  const elapsedMs = performance.now() - started;
  const oursMs = processCpuMs(process.pid, true) - oursBefore + bench.children.cpuMs();
  const otherCpu = Math.max(0, (machineBusyMs() - machineBefore - oursMs) / elapsedMs);
  const meta = {
    mode: opts.mode.name,
    date: new Date().toISOString(),
    node: process.version,
    gateway: opts.src ? 'src/cli.ts (tsx)' : 'dist/cli.js',
    pinning: pinning.note,
    connections: CONNECTIONS,
    rounds: opts.mode.rounds,
    throughput_seconds: opts.mode.throughputSec,
    latency_seconds: opts.mode.latencySec,
    first_chunk_requests: opts.mode.firstChunks,
    upstream_latency_ms: opts.latencyMs,
    seconds: Math.round(elapsedMs / 100) / 10,
    other_processes_cpu: Math.round(otherCpu * 100) / 100,
  };
  const report = buildReport(meta, direct, cases, rss, reload);
  process.stdout.write(
    `\nsidegate bench (${opts.mode.name}, ${meta.seconds} s): node ${process.version}, ${pinning.note}\n` +
      `medians of ${opts.mode.rounds} A/B round(s); ratio = sidegate / bare proxy; direct = the mock upstream without a proxy\n` +
      `other processes on this machine used ${Math.round(otherCpu * 100)} % of a CPU meanwhile${otherCpu > 0.1 ? ': WARNING, the figures are noisy; run again on a quiet machine' : ''}\n\n` +
      `${report.table}\n`,
  );
  const failed = report.targets.filter((t) => t.pass === false);
  process.stdout.write(`\ntargets: ${report.targets.filter((t) => t.pass).length} pass, ${failed.length} fail, ${report.targets.filter((t) => t.pass === null).length} not judged in this run\n`);
  if (opts.json) {
    mkdirSync(dirname(opts.json), { recursive: true });
    writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${opts.json}`);
  }
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const pinning = planPinning();
  const workDir = mkdtempSync(join(tmpdir(), 'sidegate-bench-'));
  let bench: Bench | null = null;
  let ok = false;
  const abort = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping every process`);
    void (bench?.children.stopAll() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  process.once('exit', () => bench?.children.killNow());
  try {
    bench = new Bench(opts, pinning, workDir);
    await runBench(bench);
    ok = true;
  } catch (err) {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  } finally {
    await bench?.children.stopAll();
    if (ok && !opts.keep) rmSync(workDir, { recursive: true, force: true });
    else log(`logs kept in ${workDir}`);
  }
  process.exit(ok ? 0 : 1);
}

void main();
