/**
 * `npm run bench [-- --quick | --smoke] [--out DIR] [--cases a,b] [--parts p,q] [--cpu-prof DIR] [--src]`
 *
 * On loopback only: a mock upstream (bench/mock-upstream.ts), the bare proxy
 * (bench/bare-proxy.ts) and sidegate with each case of bench/lib/cases.ts, loaded by wrk and
 * measured alternately with the bare proxy (A/B, then B/A; medians over rounds). The primary
 * figure is CPU time per request of the process under test. Then how cost grows (routers,
 * body size, connections), RSS over a long run, reloads under load, the data-plane stall
 * while a 10,000-router config compiles, and startup. Prints one table with the load
 * generator's headroom in its header, and (full runs, or --out) writes it as JSON and SVG.
 *
 * sidegate runs as users run it (`node dist/cli.js start -c FILE`; `--src` runs src/ with
 * tsx instead) pinned to one CPU; wrk, the mock and this process use the other.
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CASES, type CaseSpec } from './lib/cases.js';
import { ratioChart } from './lib/chart.js';
import { firstChunk, latency } from './lib/load.js';
import { Children, compileScript, machineBusyMs, planPinning, processCpuMs, REPO, sleep, type Child, type Pinning } from './lib/procs.js';
import { freePorts } from './lib/ports.js';
import { shippedNodeFlags } from './lib/node-flags.js';
import { summarizeProfile } from './lib/profile.js';
import {
  buildReport,
  emptyLoad,
  type CaseResult,
  type Direct,
  type GrowthRow,
  type LoadSamples,
  type Overhead,
  type ReloadResult,
  type RssResult,
  type SideResult,
  type StallResult,
  type StartupResult,
} from './lib/report.js';
import { keysConfig, routerConfig, routerModels } from './lib/router-config.js';
import { billionLaughs, mergeKeyBomb, padded } from './lib/config-bombs.js';
import { MAX_CONFIG_BYTES } from '../src/config/limits.js';
import { featureConfigs, FULL_CONFIG } from './lib/feature-configs.js';
import { SMALL, shapeOf, type Shape } from './lib/shape.js';
import { timeToExit, timeToReady } from './lib/startup.js';
import { measureMicro } from './lib/micro.js';
import { median } from './lib/stats.js';
import { ensureWrk, runWrk, wrkScript, type WrkResult } from './lib/wrk.js';

interface Mode {
  name: 'full' | 'quick' | 'smoke';
  /** A/B rounds per case; each figure is the median over rounds. */
  rounds: number;
  /** Seconds of one wrk run (whole seconds). */
  seconds: number;
  /** Warm-up of a fresh process: at least warmSec, until its rate settles, at most warmMaxSec. */
  warmSec: number;
  warmMaxSec: number;
  /** Seconds of each one-connection pass (two per side, A/B then B/A). */
  oneConnSec: number;
  /** Streaming requests per pass for the time to first chunk. */
  firstChunks: number;
  /** Rounds and seconds of each growth step. */
  growthRounds: number;
  growthSeconds: number;
  /**
   * Alternating rounds of the routers and keys groups, whose target is a 5 % margin: one
   * round's ratio of two gateways moves by about 10 % on a shared machine (24 rounds of
   * 1 against 10,000 routers: standard deviation 0.10), so the median of 4 strays past
   * 5 % about one run in ten; the median of 12 keeps within about 3 %.
   */
  flatRounds: number;
  routers: number[];
  /** Gateway keys of the keys growth case. */
  keys: number[];
  bodies: number[];
  connections: number[];
  /** Requests after which RSS is read in the long run of `default`. */
  rssAt: [number, number];
  reloads: number;
  stallRouters: number;
  stallReloads: number;
  stallSeconds: number;
  startupRuns: number;
  /** Only these cases (null: every case). */
  cases: string[] | null;
  parts: Part[];
}

const PARTS = ['cases', 'growth', 'features', 'rss', 'reload', 'stall', 'startup', 'micro'] as const;
type Part = (typeof PARTS)[number];

const KB = 1024;
const MODES: Record<Mode['name'], Mode> = {
  full: {
    name: 'full', rounds: 4, seconds: 3, warmSec: 5, warmMaxSec: 15, oneConnSec: 1, firstChunks: 100,
    growthRounds: 2, growthSeconds: 2, flatRounds: 12, routers: [1, 100, 10_000], keys: [1, 10_000], bodies: [KB, 100 * KB, 1024 * KB], connections: [32, 256, 1024],
    rssAt: [100_000, 200_000], reloads: 20, stallRouters: 10_000, stallReloads: 3, stallSeconds: 6, startupRuns: 5,
    cases: null, parts: [...PARTS],
  },
  quick: {
    name: 'quick', rounds: 2, seconds: 1, warmSec: 2, warmMaxSec: 2, oneConnSec: 0.5, firstChunks: 30,
    growthRounds: 1, growthSeconds: 1, flatRounds: 2, routers: [1, 100, 10_000], keys: [1, 10_000], bodies: [KB, 100 * KB, 1024 * KB], connections: [32, 256, 1024],
    rssAt: [8_000, 16_000], reloads: 5, stallRouters: 10_000, stallReloads: 2, stallSeconds: 3, startupRuns: 3,
    cases: null, parts: [...PARTS],
  },
  smoke: {
    name: 'smoke', rounds: 1, seconds: 1, warmSec: 1, warmMaxSec: 1, oneConnSec: 0.25, firstChunks: 5,
    growthRounds: 1, growthSeconds: 1, flatRounds: 2, routers: [1, 100], keys: [1, 100], bodies: [KB], connections: [32],
    rssAt: [1_000, 2_000], reloads: 2, stallRouters: 100, stallReloads: 1, stallSeconds: 2, startupRuns: 1,
    cases: ['minimal'], parts: [...PARTS],
  },
};

const CONNECTIONS = 32;
/** Requests a fresh process is sent before it is measured (see Bench.warm). */
const WARM_REQUESTS = 25_000;
const RELOAD_ROUTERS = 100;
/** The mock reached directly must answer at least this many times the bare proxy's req/s. */
const HEADROOM_NEEDED = 3;
const CONFIG_DIR = join(REPO, 'bench', 'configs');
const RESULTS_DIR = join(REPO, 'bench', 'results');
const START_TIMEOUT_MS = 60_000;
const RELOAD_TIMEOUT_MS = 30_000;
/** The stall measurement's oversized file: past the config size limit by a megabyte. */
const OVERSIZED_CONFIG_BYTES = MAX_CONFIG_BYTES + 1024 * 1024;

const USAGE = `usage: npm run bench [-- options]
  --quick          fewer rounds and shorter runs (about 3 minutes), for development: noisier
  --smoke          one case, about a second per measurement (for the smoke test)
  --out DIR        write latest.json and latest.svg into DIR (full runs: bench/results/)
  --cases a,b      only these cases (${CASES.map((c) => c.name).join(', ')})
  --parts p,q      only these parts (${PARTS.join(', ')})
  --cpu-prof DIR   run sidegate with --cpu-prof into DIR and print its top self-time functions
  --latency MS     the mock upstream waits MS before each answer (default 0)
  --src            run sidegate from src/ with tsx instead of dist/ (no build needed)
  --keep           keep the logs of every process (they are kept anyway on failure)`;

interface Options {
  mode: Mode;
  out: string | null;
  cases: string[] | null;
  parts: Part[];
  cpuProf: string | null;
  latencyMs: number;
  src: boolean;
  keep: boolean;
}

function list(value: string | undefined): string[] | null {
  return value ? value.split(',').map((s) => s.trim()).filter(Boolean) : null;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      smoke: { type: 'boolean' },
      out: { type: 'string' },
      cases: { type: 'string' },
      parts: { type: 'string' },
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
  const cases = list(values.cases) ?? mode.cases;
  const unknownCase = cases?.find((n) => !CASES.some((c) => c.name === n));
  if (unknownCase) throw new Error(`no case "${unknownCase}" (have: ${CASES.map((c) => c.name).join(', ')})`);
  const parts = (list(values.parts) ?? mode.parts) as Part[];
  const unknownPart = parts.find((p) => !PARTS.includes(p));
  if (unknownPart) throw new Error(`no part "${unknownPart}" (have: ${PARTS.join(', ')})`);
  return {
    mode,
    out: values.out ? resolve(values.out) : mode.name === 'full' && !values.cases && !values.parts ? RESULTS_DIR : null,
    cases,
    parts,
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
  child: Child;
}

interface Gateway extends Target {
  adminUrl: string;
  adminPort: number;
}

/** One side of an alternating measurement: a target and the requests it gets. */
interface Side {
  target: Target;
  shape: Shape;
  samples: LoadSamples;
}

class Bench {
  readonly children: Children;
  readonly gatewayArgs: string[];
  readonly wrk: string;
  mock!: Target;
  bare!: Target;
  private scripts = new Map<Shape, string>();

  constructor(
    readonly opts: Options,
    readonly pinning: Pinning,
    readonly workDir: string,
  ) {
    this.children = new Children(join(workDir, 'logs'), pinning);
    const cli = opts.src ? join(REPO, 'src', 'cli.ts') : join(REPO, 'dist', 'cli.js');
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (or pass --src)`);
    // The gateway runs with the Node flags it ships with: its first line's (src/cli.ts; also the Dockerfile's and npm start's).
    this.gatewayArgs = [...shippedNodeFlags(cli), ...(opts.src ? ['--import', 'tsx', cli] : [cli])];
    this.wrk = ensureWrk(log);
  }

  get mode(): Mode {
    return this.opts.mode;
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

  env(listen: number, admin: number): Record<string, string> {
    return { BENCH_LISTEN: `127.0.0.1:${listen}`, BENCH_ADMIN: `127.0.0.1:${admin}`, BENCH_UPSTREAM: this.mock.url };
  }

  /** `sidegate validate FILE`: null when the config is valid, else why not. */
  async validate(file: string): Promise<string | null> {
    const child = this.children.start({ name: 'validate', args: [...this.gatewayArgs, 'validate', file], cpu: 'load', env: this.env(1, 2) });
    await child.exited;
    if (child.exitStatus === 'code 0') return null;
    const lines = child.tail(50).trim().split('\n').slice(1);
    const more = lines.length > 1 ? ` (and ${lines.length - 1} more)` : '';
    return lines.length ? `${lines[0]}${more}` : `validate exited ${child.exitStatus}`;
  }

  async startGateway(name: string, file: string, profile = false): Promise<Gateway> {
    const [listen, admin] = await freePorts(2);
    const profiling = profile && this.opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${this.opts.cpuProf}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
    const child = this.children.start({
      name: `sidegate-${name}`,
      args: [...profiling, ...this.gatewayArgs, 'start', '-c', file],
      cpu: 'gateway',
      env: this.env(listen, admin),
    });
    await child.waitForPort(listen, START_TIMEOUT_MS);
    await child.waitForPort(admin, START_TIMEOUT_MS);
    return { url: `http://127.0.0.1:${listen}`, adminUrl: `http://127.0.0.1:${admin}`, adminPort: admin, child };
  }

  script(shape: Shape): string {
    let file = this.scripts.get(shape);
    // Varied bodies get a fresh script per run, so that no body repeats across runs.
    if (!file || shape.vary) this.scripts.set(shape, (file = wrkScript(this.workDir, shape)));
    return file;
  }

  /** One wrk run (ended early when `until` resolves); the target's CPU time over it, per request. */
  async wrkRun(target: Target, shape: Shape, seconds: number, connections = CONNECTIONS, until?: Promise<unknown>): Promise<WrkResult & { cpuUs: number; busy: number }> {
    const cpuBefore = target.child.cpuMs();
    const t0 = performance.now();
    const result = await runWrk(this.children, this.wrk, target.url, { connections, seconds, script: this.script(shape), until });
    const cpuMs = target.child.cpuMs() - cpuBefore;
    return { ...result, cpuUs: (cpuMs * 1000) / Math.max(1, result.requests), busy: cpuMs / (performance.now() - t0) };
  }

  async sample(side: Side, seconds: number, connections = CONNECTIONS): Promise<WrkResult> {
    const r = await this.wrkRun(side.target, side.shape, seconds, connections);
    const s = side.samples;
    s.cpuUs.push(r.cpuUs);
    s.rps.push(r.rps);
    s.busy.push(r.busy);
    s.p50Ms.push(r.p50Ms);
    s.p99Ms.push(r.p99Ms);
    s.requests += r.requests;
    s.failures += r.failures;
    return r;
  }

  /**
   * Load until throughput settles: at least `minSec` and WARM_REQUESTS requests, then until
   * two consecutive 1-s slices agree within 3 %; at most `maxSec`. A fresh Node process
   * needs some 25k requests to reach its steady rate while V8 optimizes its code and sizes
   * its heap, and on a slow machine that takes longer than `minSec`.
   */
  async warm(target: Target, shape: Shape, minSec = this.mode.warmSec, maxSec = this.mode.warmMaxSec): Promise<void> {
    let previous = 0;
    let requests = 0;
    for (let spent = 1; ; spent++) {
      const r = await this.wrkRun(target, shape, 1);
      requests += r.requests;
      if (spent >= maxSec) break;
      if (spent >= minSec && requests >= WARM_REQUESTS && Math.abs(r.rps - previous) <= 0.03 * r.rps) break;
      previous = r.rps;
    }
  }

  /**
   * Two rounds over `sides` that are not recorded. A process left idle while the others
   * warmed up (the bare proxy, the first gateway started) has had its heap and code
   * trimmed by V8 meanwhile and reads slow for a round or two: 111 → 82 µs for the bare
   * proxy and 97 → 76 for the 1-router gateway, while the gateways warmed last read steady.
   */
  async rotateUnrecorded(sides: Side[]): Promise<void> {
    for (let i = 0; i < 2; i++) for (const side of sides) await this.wrkRun(side.target, side.shape, this.mode.growthSeconds);
  }

  /** Rounds over `sides`, in order, then reversed (A/B, B/A, …): a drift of the machine falls on all alike. */
  async alternate(sides: Side[], rounds: number, seconds: number, connections = CONNECTIONS, label = ''): Promise<void> {
    for (let r = 0; r < rounds; r++) {
      if (label) log(`${label}: round ${r + 1}/${rounds}`);
      const order = r % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) await this.sample(side, seconds, connections);
    }
  }

  /** The mock alone and the bare proxy, alternately: the load generator's headroom. */
  async measureDirect(): Promise<{ direct: Direct; bare: LoadSamples }> {
    const direct: Direct = { load: emptyLoad(), oneConnP50Ms: [], firstChunkMs: [] };
    const bare = emptyLoad();
    await this.warm(this.mock, SMALL, 1, 1);
    await this.warm(this.bare, SMALL);
    await this.alternate(
      [
        { target: this.mock, shape: SMALL, samples: direct.load },
        { target: this.bare, shape: SMALL, samples: bare },
      ],
      Math.max(2, this.mode.rounds / 2),
      this.mode.seconds,
    );
    direct.oneConnP50Ms.push((await latency(this.mock.url, this.mode.oneConnSec, SMALL)).p50Ms);
    direct.firstChunkMs.push((await firstChunk(this.mock.url, this.mode.firstChunks, shapeOf({ stream: true }))).medianMs);
    return { direct, bare };
  }

  private emptySide(oneConn: boolean, chunks: boolean): SideResult {
    return { load: emptyLoad(), oneConn: oneConn ? { p50Ms: [], p99Ms: [] } : null, firstChunkMs: chunks ? [] : null, peakMb: 0, failures: 0 };
  }

  async measureCase(spec: CaseSpec): Promise<CaseResult> {
    const file = join(CONFIG_DIR, spec.config);
    const invalid = await this.validate(file);
    if (invalid) {
      log(`${spec.name}: skipped, the config does not validate: ${invalid}`);
      return { name: spec.name, status: 'skipped', reason: invalid };
    }
    const gw = await this.startGateway(spec.name, file, true);
    try {
      const gateway = this.emptySide(!!spec.oneConnection, !!spec.firstChunk);
      const bare = this.emptySide(!!spec.oneConnection, !!spec.firstChunk);
      await this.warm(gw, spec.shape);
      if (spec.shape !== SMALL) await this.warm(this.bare, spec.shape, 1, 1);
      await this.alternate(
        [
          { target: this.bare, shape: spec.shape, samples: bare.load },
          { target: gw, shape: spec.shape, samples: gateway.load },
        ],
        this.mode.rounds,
        this.mode.seconds,
        CONNECTIONS,
        spec.name,
      );
      // One request at a time, and streams' first chunks: four passes each, interleaved
      // A/B B/A A/B B/A, so that a slow spell of the machine falls on both sides alike.
      // First chunks are compared with the mock reached directly: it takes its passes in
      // the same sequence (D A/B B/A D), not once before every case.
      const direct = spec.firstChunk ? this.emptySide(false, true) : null;
      const passes: Array<readonly [SideResult, Target]> = [[bare, this.bare], [gateway, gw], [gateway, gw], [bare, this.bare]];
      if (direct) {
        passes.unshift([direct, this.mock]);
        passes.push([direct, this.mock]);
      }
      // Before them, one uncounted one-connection pass per side: right after the load rounds
      // one-request-at-a-time latency decays for a few seconds (on both sides), steeply at
      // first, and A/B B/A cancels only a linear drift: the decay fell on the side measured
      // second and third (once +0.08 ms on the gateway).
      if (gateway.oneConn) for (const target of [this.bare, gw]) await latency(target.url, this.mode.oneConnSec, spec.shape);
      for (const [side, target] of [...passes, ...passes]) {
        if (side.oneConn) {
          const lat = await latency(target.url, this.mode.oneConnSec, spec.shape);
          side.oneConn.p50Ms.push(lat.p50Ms);
          side.oneConn.p99Ms.push(lat.p99Ms);
          side.failures += lat.failures;
        }
        if (side.firstChunkMs) {
          const first = await firstChunk(target.url, this.mode.firstChunks, spec.shape);
          side.firstChunkMs.push(first.medianMs);
          side.failures += first.failures;
        }
      }
      gateway.peakMb = gw.child.memory().peakMb;
      bare.peakMb = this.bare.child.memory().peakMb;
      const overhead = await scrapeOverhead(gw.adminUrl);
      await gw.child.stop();
      const profile = this.opts.cpuProf ? join(this.opts.cpuProf, `${spec.name}.cpuprofile`) : null;
      if (profile && existsSync(profile)) log(`${spec.name} profile (${profile}), top self time:\n${summarizeProfile(profile, 25)}`);
      return { name: spec.name, status: 'measured', cpuTarget: spec.cpuTarget ?? null, gateway, bare, directFirstChunkMs: direct?.firstChunkMs ?? null, overhead, profile };
    } finally {
      await gw.child.stop();
    }
  }

  /**
   * CPU per request with 1, 100 and 10,000 routers: three gateways and the bare proxy in
   * rotation. The judged rows send the same requests to each (they name router `r0`), so
   * they differ by the config's size alone. One more row sends the largest gateway requests
   * spread over 16 of its routers: what a wider working set costs (more router objects
   * touched per second, far apart in a large heap), shown beside them and not judged.
   */
  async measureRouters(): Promise<GrowthRow[]> {
    const gateways: Array<{ routers: number; gw: Gateway; side: Side }> = [];
    const same = shapeOf({ models: routerModels(1) });
    const bare: Side = { target: this.bare, shape: same, samples: emptyLoad() };
    try {
      for (const routers of this.mode.routers) {
        const file = join(this.workDir, `routers-${routers}.yaml`);
        writeFileSync(file, routerConfig(routers));
        const gw = await this.startGateway(`routers-${routers}`, file);
        gateways.push({ routers, gw, side: { target: gw, shape: same, samples: emptyLoad() } });
      }
      const largest = gateways.at(-1)!;
      const spreadModels = routerModels(largest.routers);
      const spread: Side = { target: largest.gw, shape: shapeOf({ models: spreadModels }), samples: emptyLoad() };
      for (const g of gateways) await this.warm(g.gw, same);
      await this.warm(largest.gw, spread.shape);
      await this.rotateUnrecorded([bare, ...gateways.map((g) => g.side), spread]);
      await this.alternate([bare, ...gateways.map((g) => g.side), spread], this.mode.flatRounds, this.mode.growthSeconds, CONNECTIONS, 'routers');
      const row = (routers: number, side: Side, traffic?: string): GrowthRow => ({
        group: 'routers', label: routers.toLocaleString('en-US'), size: routers, ...(traffic && { traffic }), connections: CONNECTIONS, gateway: side.samples, bare: bare.samples,
      });
      return [...gateways.map((g) => row(g.routers, g.side)), row(largest.routers, spread, `over ${spreadModels.length} routers`)];
    } finally {
      await Promise.all(gateways.map((g) => g.gw.child.stop()));
    }
  }

  /**
   * What each feature and interceptor of `full` costs alone: the main router with that one
   * item, against the same router with none, alternately, varied bodies (nothing cached).
   */
  async measureFeatures(): Promise<GrowthRow[]> {
    const [none, ...all] = featureConfigs(FULL_CONFIG(REPO));
    // A smoke run only shows that the part works: one item.
    const items = this.mode.name === 'smoke' ? all.slice(0, 1) : all;
    const shape = shapeOf({ vary: true });
    const baseFile = join(this.workDir, 'feature-none.yaml');
    writeFileSync(baseFile, none!.text);
    const base = await this.startGateway('feature-none', baseFile);
    const rows: GrowthRow[] = [];
    try {
      await this.warm(base, shape);
      for (const [i, item] of items.entries()) {
        const file = join(this.workDir, `feature-${i}.yaml`);
        writeFileSync(file, item.text);
        const gw = await this.startGateway(`feature-${i}`, file);
        try {
          // As long a warm-up as a case's: a gateway just started runs its first seconds
          // unoptimized, which a short one counted against the item (against a base warm for minutes).
          await this.warm(gw, shape);
          const baseSide: Side = { target: base, shape, samples: emptyLoad() };
          const side: Side = { target: gw, shape, samples: emptyLoad() };
          // Short rounds (1 s): the run measures 26 items. The figure is the median of the
          // differences within each round (both sides measured in the same two seconds), over
          // four rounds: the machine's speed drifts more from one item to the next than that.
          const rounds = this.mode.name === 'smoke' ? 2 : Math.max(4, this.mode.growthRounds * 2);
          await this.alternate([baseSide, side], rounds, 1, CONNECTIONS, `feature ${item.name}`);
          rows.push({ group: 'features', label: item.name, size: i, connections: CONNECTIONS, gateway: side.samples, bare: baseSide.samples });
        } finally {
          await gw.child.stop();
        }
      }
      return rows;
    } finally {
      await base.child.stop();
    }
  }

  /** CPU per request with 1 and 10,000 gateway keys (tenancy on): the key lookup must stay flat. */
  async measureKeys(): Promise<GrowthRow[]> {
    const gateways: Array<{ keys: number; gw: Gateway; side: Side }> = [];
    const bare: Side = { target: this.bare, shape: SMALL, samples: emptyLoad() };
    try {
      for (const keys of this.mode.keys) {
        const file = join(this.workDir, `keys-${keys}.yaml`);
        writeFileSync(file, keysConfig(keys));
        const gw = await this.startGateway(`keys-${keys}`, file);
        const side: Side = { target: gw, shape: SMALL, samples: emptyLoad() };
        gateways.push({ keys, gw, side });
        await this.warm(gw, SMALL);
      }
      await this.rotateUnrecorded([bare, ...gateways.map((g) => g.side)]);
      await this.alternate([bare, ...gateways.map((g) => g.side)], this.mode.flatRounds, this.mode.growthSeconds, CONNECTIONS, 'keys');
      return gateways.map((g) => ({ group: 'keys', label: g.keys.toLocaleString('en-US'), size: g.keys, connections: CONNECTIONS, gateway: g.side.samples, bare: bare.samples }));
    } finally {
      await Promise.all(gateways.map((g) => g.gw.child.stop()));
    }
  }

  /** CPU per request with growing bodies, and p99 with growing connection counts, on one `default` gateway. */
  async measureBodiesAndConnections(): Promise<GrowthRow[]> {
    const gw = await this.startGateway('growth', join(CONFIG_DIR, 'default.yaml'));
    const rows: GrowthRow[] = [];
    try {
      await this.warm(gw, SMALL);
      for (const bytes of this.mode.bodies) {
        const shape = shapeOf({ bodyBytes: bytes });
        await this.warm(gw, shape, 1, 1);
        await this.warm(this.bare, shape, 1, 1);
        const sides: Side[] = [
          { target: this.bare, shape, samples: emptyLoad() },
          { target: gw, shape, samples: emptyLoad() },
        ];
        const label = bytes >= 1024 * KB ? `${bytes / (1024 * KB)} MB` : `${bytes / KB} KB`;
        await this.alternate(sides, this.mode.growthRounds * 2, this.mode.growthSeconds, CONNECTIONS, `body ${label}`);
        rows.push({ group: 'body', label, size: bytes, connections: CONNECTIONS, gateway: sides[1]!.samples, bare: sides[0]!.samples });
      }
      for (const connections of this.mode.connections) {
        const sides: Side[] = [
          { target: this.bare, shape: SMALL, samples: emptyLoad() },
          { target: gw, shape: SMALL, samples: emptyLoad() },
        ];
        await this.alternate(sides, this.mode.growthRounds * 2, this.mode.growthSeconds, connections, `${connections} connections`);
        rows.push({ group: 'connections', label: String(connections), size: connections, connections, gateway: sides[1]!.samples, bare: sides[0]!.samples });
      }
      return rows;
    } finally {
      await gw.child.stop();
    }
  }

  /** RSS of a fresh `default` gateway after rssAt[0] and rssAt[1] requests. */
  async measureRss(): Promise<RssResult> {
    const [first, second] = this.mode.rssAt;
    const gw = await this.startGateway('default-rss', join(CONFIG_DIR, 'default.yaml'));
    try {
      const settleMs = this.mode.name === 'full' ? 2000 : 300;
      let requests = 0;
      let failures = 0;
      const until = async (count: number): Promise<void> => {
        while (requests < count) {
          const r = await this.wrkRun(gw, SMALL, this.mode.seconds);
          requests += r.requests;
          failures += r.failures;
        }
        await sleep(settleMs);
      };
      await until(first);
      const at1 = gw.child.memory();
      const n1 = requests;
      log(`rss: ${n1} requests, ${at1.rssMb.toFixed(1)} MB`);
      await until(second);
      const at2 = gw.child.memory();
      log(`rss: ${requests} requests, ${at2.rssMb.toFixed(1)} MB`);
      return { requests: [n1, requests], rssMb: [at1.rssMb, at2.rssMb], peakMb: at2.peakMb, growth: (at2.rssMb - at1.rssMb) / at1.rssMb, failures };
    } finally {
      await gw.child.stop();
    }
  }

  /**
   * Saves `texts` over the config one after another, evenly spread over a wrk run; the
   * CLI's file watcher reloads each (applied, or rejected when it is a bomb). Returns the
   * run, the compile times seen in /stats, and how many reloads were applied and rejected.
   * With `cover`, the run lasts at least `seconds` and until a second after the last reload
   * was handled: however long the reloads take, all of each is under load.
   */
  private async reloadUnderLoad(gw: Gateway, file: string, texts: readonly string[], seconds: number, shape: Shape, cover = false) {
    const startup = await stats(gw.adminUrl);
    let done = (): void => {};
    const reloaded = new Promise<void>((resolve) => (done = resolve));
    const running = cover
      ? this.wrkRun(gw, shape, seconds + (texts.length * RELOAD_TIMEOUT_MS) / 1000, CONNECTIONS, Promise.all([sleep(seconds * 1000), reloaded.then(() => sleep(1000))]))
      : this.wrkRun(gw, shape, seconds);
    const compileMs: number[] = [];
    let last = startup;
    const gapMs = ((seconds - 1) * 1000) / texts.length;
    for (const [i, text] of texts.entries()) {
      await sleep(i === 0 ? 500 : gapMs / 2);
      writeAtomically(file, text);
      const deadline = performance.now() + RELOAD_TIMEOUT_MS;
      do {
        await sleep(20);
        last = await stats(gw.adminUrl);
      } while (last.config.reloads.success + last.config.reloads.error < i + 1 && performance.now() < deadline);
      if (last.config.reloads.success === compileMs.length + 1) compileMs.push(last.config.compile_ms);
      await sleep(gapMs / 2);
    }
    done();
    const result = await running;
    return { startup, result, compileMs, applied: last.config.reloads.success, errors: last.config.reloads.error };
  }

  /** A 100-router config rewritten under load: every reload applied, no request failed, compile time. */
  async measureReload(): Promise<ReloadResult> {
    const dir = join(this.workDir, 'reload');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'gateway.yaml');
    writeAtomically(file, routerConfig(RELOAD_ROUTERS, 0));
    const gw = await this.startGateway('reload', file);
    const shape = shapeOf({ models: ['r0', 'r17', 'alias-42', 'r99'] });
    try {
      await this.warm(gw, shape, 1, 1);
      const seconds = Math.max(2, Math.ceil(this.mode.reloads * 0.3) + 1);
      const texts = Array.from({ length: this.mode.reloads }, (_, i) => routerConfig(RELOAD_ROUTERS, i + 1));
      const run = await this.reloadUnderLoad(gw, file, texts, seconds, shape);
      log(`reload: ${run.applied}/${this.mode.reloads} applied, ${run.result.failures} failed of ${run.result.requests}`);
      return {
        routers: RELOAD_ROUTERS,
        reloads: this.mode.reloads,
        applied: run.applied,
        reloadErrors: run.errors,
        startupCompileMs: run.startup.config.compile_ms,
        compileMs: run.compileMs,
        requests: run.result.requests,
        failures: run.result.failures,
      };
    } finally {
      await gw.child.stop();
    }
  }

  /**
   * The slowest request under load without reloads, then over reloads of a 10,000-router
   * config with the hostile files saved between them (an alias bomb, a merge-key bomb and a
   * file over the 4 MB limit, each over the live 10,000-router config): the good ones
   * applied, the bombs rejected, none of them allowed to stall a request.
   */
  async measureStall(): Promise<StallResult> {
    const routers = this.mode.stallRouters;
    const dir = join(this.workDir, 'stall');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'gateway.yaml');
    writeAtomically(file, routerConfig(routers, 0));
    const gw = await this.startGateway('stall', file, true);
    const shape = shapeOf({ models: routerModels(routers) });
    const bombs = [billionLaughs, mergeKeyBomb, (base: string) => padded(base, OVERSIZED_CONFIG_BYTES)];
    const texts: string[] = [];
    for (let i = 1; i <= this.mode.stallReloads; i++) {
      texts.push(routerConfig(routers, i));
      if (i <= bombs.length && this.mode.name !== 'smoke') texts.push(bombs[i - 1]!(routerConfig(routers, i)));
    }
    const rejects = texts.length - this.mode.stallReloads;
    try {
      await this.warm(gw, shape, 2, 2);
      const quiet = await this.wrkRun(gw, shape, this.mode.stallSeconds);
      const run = await this.reloadUnderLoad(gw, file, texts, this.mode.stallSeconds, shape, true);
      log(
        `stall: slowest request ${quiet.maxMs.toFixed(1)} ms quiet (${this.mode.stallSeconds} s), ` +
          `${run.result.maxMs.toFixed(1)} ms over ${run.applied} reloads of ${routers} routers and ${run.errors} rejected bombs (${run.result.seconds.toFixed(1)} s)`,
      );
      return {
        routers,
        reloads: this.mode.stallReloads,
        applied: run.applied,
        bombs: rejects,
        rejected: run.errors,
        compileMs: run.compileMs,
        quiet: { maxMs: quiet.maxMs, p99Ms: quiet.p99Ms },
        reloading: { maxMs: run.result.maxMs, p99Ms: run.result.p99Ms },
        failures: quiet.failures + run.result.failures,
      };
    } finally {
      await gw.child.stop();
      const profile = this.opts.cpuProf ? join(this.opts.cpuProf, 'stall.cpuprofile') : null;
      if (profile && existsSync(profile)) log(`stall profile (${profile}), top self time:\n${summarizeProfile(profile, 25)}`);
    }
  }

  /** `validate` of the example config, and `start` until /readyz 200: fresh processes, wall time. */
  async measureStartup(): Promise<StartupResult> {
    const result: StartupResult = { validateMs: [], readyMs: [] };
    const example = join(REPO, 'gateway.example.yaml');
    for (let i = 0; i < this.mode.startupRuns; i++) {
      result.validateMs.push(await timeToExit(this.children, 'validate-example', [...this.gatewayArgs, 'validate', example], {}));
      const [listen, admin] = await freePorts(2);
      const args = [...this.gatewayArgs, 'start', '-c', join(CONFIG_DIR, 'default.yaml')];
      const { ms, child } = await timeToReady(this.children, 'start-ready', args, this.env(listen, admin), admin, START_TIMEOUT_MS);
      result.readyMs.push(ms);
      await child.stop();
    }
    log(`startup: validate ${median(result.validateMs).toFixed(0)} ms, start to /readyz ${median(result.readyMs).toFixed(0)} ms`);
    return result;
  }
}

interface Stats {
  config: { compile_ms: number; reloads: { success: number; error: number; unchanged: number } };
}

/** The gateway's part of /stats (reload counts): without the per-router section, which a 10,000-router config makes the bench's own load. */
async function stats(adminUrl: string): Promise<Stats> {
  const res = await fetch(`${adminUrl}/stats?routers=false`, { signal: AbortSignal.timeout(30_000) });
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

async function runBench(bench: Bench): Promise<boolean> {
  const { opts, pinning } = bench;
  const mode = opts.mode;
  const started = performance.now();
  const machineBefore = machineBusyMs();
  const oursBefore = processCpuMs(process.pid, true);
  await bench.startFixtures();
  log(`mode ${mode.name}; ${pinning.note}`);
  const { direct, bare } = await bench.measureDirect();
  const headroom = { directRps: median(direct.load.rps), bareRps: median(bare.rps), ratio: median(direct.load.rps) / median(bare.rps), needed: HEADROOM_NEEDED };
  log(`headroom: the mock answers ${Math.round(headroom.directRps)} req/s directly, the bare proxy ${Math.round(headroom.bareRps)}: ${headroom.ratio.toFixed(1)}×`);
  if (headroom.ratio < HEADROOM_NEEDED) log(`WARNING: no headroom (${headroom.ratio.toFixed(1)}× < ${HEADROOM_NEEDED}×): the load generator, not the proxy, limits the figures`);

  const has = (part: Part): boolean => opts.parts.includes(part);
  const cases: CaseResult[] = [];
  if (has('cases')) for (const spec of CASES.filter((c) => !opts.cases || opts.cases.includes(c.name))) cases.push(await bench.measureCase(spec));
  const growth: GrowthRow[] = [];
  if (has('growth')) growth.push(...(await bench.measureRouters()), ...(await bench.measureKeys()), ...(await bench.measureBodiesAndConnections()));
  if (has('features')) growth.push(...(await bench.measureFeatures()));
  const rss = has('rss') ? await bench.measureRss() : null;
  const reload = has('reload') ? await bench.measureReload() : null;
  const stall = has('stall') ? await bench.measureStall() : null;
  const startup = has('startup') ? await bench.measureStartup() : null;
  const micro = has('micro') ? measureMicro(mode.name === 'full' ? 400 : 100) : null;
  if (micro) log(`micro: 100 KB token count p50 ${micro.tokens100kb.p50.toFixed(2)} ms; local embedding p50 ${(micro.embedPrompt.p50 * 1000).toFixed(1)} µs`);

  // CPU the rest of the machine used meanwhile (e.g. a test suite): figures are only as good as the machine was quiet.
  const elapsedMs = performance.now() - started;
  const oursMs = processCpuMs(process.pid, true) - oursBefore + bench.children.cpuMs();
  const otherCpu = Math.max(0, (machineBusyMs() - machineBefore - oursMs) / elapsedMs);
  const meta = {
    mode: mode.name,
    date: new Date().toISOString(),
    node: process.version,
    gateway: opts.src ? 'src/cli.ts (tsx)' : 'dist/cli.js',
    load_generator: `wrk -t1 (${bench.wrk})`,
    pinning: pinning.note,
    connections: CONNECTIONS,
    rounds: mode.rounds,
    seconds_per_run: mode.seconds,
    upstream_latency_ms: opts.latencyMs,
    seconds: Math.round(elapsedMs / 100) / 10,
    other_processes_cpu: Math.round(otherCpu * 100) / 100,
  };
  const caseTargets = Object.fromEntries(CASES.map((c) => [c.name, c.cpuTarget ?? null]));
  const report = buildReport({ meta, headroom, direct, cases, caseTargets, growth, rss, reload, stall, startup, micro });
  const noHeadroom = headroom.ratio < HEADROOM_NEEDED;
  process.stdout.write(
    `\nsidegate bench (${mode.name}, ${meta.seconds} s): node ${process.version}, ${pinning.note}\n` +
      `load: wrk -t1 -c${CONNECTIONS} unless a row says otherwise; headroom: the mock directly ${Math.round(headroom.directRps).toLocaleString('en-US')} req/s = ` +
      `${headroom.ratio.toFixed(1)}× the bare proxy's ${Math.round(headroom.bareRps).toLocaleString('en-US')} (needs ≥ ${HEADROOM_NEEDED}×)` +
      `${noHeadroom ? ': NO HEADROOM, THE LOAD GENERATOR IS THE BOTTLENECK AND THE RATIOS BELOW MEAN NOTHING' : ''}\n` +
      `medians of ${mode.rounds} alternating rounds of ${mode.seconds} s; CPU = user + system time of the process under test (/proc/PID/stat) per request;\n` +
      `ratio = bare CPU per request ÷ sidegate's (1.00× costs what the bare proxy costs; higher is better); for latencies, sidegate − bare\n` +
      `other processes on this machine used ${Math.round(otherCpu * 100)} % of a CPU meanwhile${otherCpu > 0.1 ? ': WARNING, the figures are noisy; run again on a quiet machine' : ''}\n\n` +
      `${report.table}\n`,
  );
  const failed = report.targets.filter((t) => t.pass === false);
  process.stdout.write(`\ntargets: ${report.targets.filter((t) => t.pass).length} pass, ${failed.length} fail, ${report.targets.filter((t) => t.pass === null).length} not judged in this run\n`);
  for (const t of failed) process.stdout.write(`  FAIL ${t.name}: ${t.value} (target ${t.target})\n`);
  if (opts.out) {
    mkdirSync(opts.out, { recursive: true });
    writeFileSync(join(opts.out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    const subtitle = `${mode.name} run ${meta.date.slice(0, 10)}, node ${process.version}, headroom ${headroom.ratio.toFixed(1)}×; CPU per request, bare ÷ sidegate`;
    writeFileSync(join(opts.out, 'latest.svg'), ratioChart(report.ratios, 'sidegate: CPU per request against the bare Node proxy', subtitle));
    log(`wrote ${join(opts.out, 'latest.json')} and latest.svg`);
  }
  if (noHeadroom && mode.name !== 'smoke') {
    process.stderr.write(`\nbench: NO HEADROOM: the mock answered only ${headroom.ratio.toFixed(1)}× the bare proxy's rate (needs ≥ ${HEADROOM_NEEDED}×); the machine is too busy or the load generator too slow\n`);
    return false;
  }
  return true;
}

async function main(): Promise<void> {
  let bench: Bench | null = null;
  let ok = false;
  let workDir: string | null = null;
  let keep = false;
  const abort = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping every process`);
    void (bench?.children.stopAll() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  process.once('exit', () => bench?.children.killNow());
  try {
    const opts = options(process.argv.slice(2));
    keep = opts.keep;
    const pinning = planPinning();
    workDir = mkdtempSync(join(tmpdir(), 'sidegate-bench-'));
    bench = new Bench(opts, pinning, workDir);
    ok = await runBench(bench);
  } catch (err) {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  } finally {
    await bench?.children.stopAll();
    if (workDir) {
      if (ok && !keep) rmSync(workDir, { recursive: true, force: true });
      else log(`logs kept in ${workDir}`);
    }
  }
  process.exit(ok ? 0 : 1);
}

void main();
