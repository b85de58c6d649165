import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before } from 'node:test';
import { MockUpstream } from './mock-upstream.js';
import { freePorts } from '../../bench/lib/ports.js';
import { startGateway, type Running } from './gateway.js';

/**
 * A real `redis-server` per test file, on a free port, that a test may kill and start
 * again. Without redis-server: in CI (`CI=true`) the tests fail loudly; elsewhere they are
 * skipped with the reason below.
 */
const installed = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

export const REDIS_SKIP: string | false =
  installed || process.env.CI === 'true'
    ? false
    : 'redis-server is not installed here (apt-get install redis-server; .ci/run installs it in CI)';

export { freePorts };

export class RedisServer {
  private child: ChildProcess | null = null;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    if (!installed) throw new Error('redis-server is not installed: apt-get install -y redis-server (.ci/run does this)');
    const server = new RedisServer((await freePorts(1))[0]!);
    await server.restart();
    return server;
  }

  /** Starts redis-server on this port (again) and resolves once it accepts connections. */
  async restart(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (data: Buffer): void => {
        output += data.toString();
        if (output.includes('Ready to accept connections')) {
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.resume();
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
    });
  }

  /** Kills the server at once (SIGKILL), as a crash would; resolves once it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  stop(): Promise<void> {
    if (this.child?.signalCode === 'SIGSTOP') this.child.kill('SIGCONT');
    return this.kill();
  }

  /** Freezes the server (SIGSTOP): connections stay open and nothing is answered, as with a hung host. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  /** Thaws a paused server (SIGCONT). */
  resume(): void {
    this.child?.kill('SIGCONT');
  }
}

/** The YAML `state:` section for this server, with a prefix of its own per test. */
export function redisState(server: RedisServer, prefix: string): string {
  return `state:\n  backend: redis\n  redis: { url: "${server.url}", prefix: "${prefix}" }\n`;
}

/** A frozen clock a test moves by hand (passed as GatewayOptions.now). */
export class Clock {
  constructor(public t = Date.UTC(2025, 0, 15, 12, 0, 0)) {}
  readonly now = (): number => this.t;
}

/** A gateway config: one upstream, router `main` with `features`, optional `state` and top-level YAML. */
export function featureYaml(upstreamUrl: string, features: string, opts: { state?: string; top?: string; router?: string } = {}): string {
  return `
version: 1
logging: { level: silent }
${opts.state ?? ''}${opts.top ?? ''}upstreams:
  up: { provider: openai, url: ${upstreamUrl} }
default_router: main
routers:
  main:
    targets: [{ upstream: up }]
    features:
${features
  .trim()
  .split('\n')
  .map((line) => `      ${line}`)
  .join('\n')}
${opts.router ?? ''}`;
}

/**
 * What every per-backend feature test needs: a mock upstream, a redis-server when the
 * backend is redis, a fresh key prefix per gateway (so tests never share counters), and
 * every gateway started closed at the end. Registers its own before/after hooks.
 */
export function backendFixture(backend: 'memory' | 'redis', prefix: string) {
  let upstream: MockUpstream | null = null;
  let redis: RedisServer | null = null;
  let prefixes = 0;
  const open: Running[] = [];
  before(async () => {
    upstream = await MockUpstream.start();
    if (backend === 'redis') redis = await RedisServer.start();
  });
  after(async () => {
    for (const gw of open) await gw.close();
    await upstream?.close();
    await redis?.stop();
  });
  return {
    get upstream(): MockUpstream {
      return upstream!;
    },
    get redis(): RedisServer | null {
      return redis;
    },
    /** The `state:` section of a new gateway: a Redis one with a prefix of its own, or none (memory). */
    state(): string {
      return redis ? redisState(redis, `${prefix}${++prefixes}:`) : '';
    },
    /** Starts a gateway (on `clock`, or real time without one) and closes it when the tests are done. */
    async start(yaml: string, clock?: Clock): Promise<Running> {
      const gw = await startGateway(yaml, clock ? { now: clock.now } : {});
      open.push(gw);
      return gw;
    },
  };
}
