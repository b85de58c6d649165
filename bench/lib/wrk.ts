/**
 * The load generator: wrk (C, one thread, epoll), which needs a few microseconds of CPU per
 * request where a Node load generator needs tens, so it saturates a Node proxy from half a
 * core. Installed from Debian when missing (`apt-get install -y wrk`; root only).
 *
 * Each run gets a Lua script written for its request shape: fixed bodies are formatted
 * once per connection thread, varied ones (`vary`) get a counter spliced in per request.
 * The script's `done` prints one JSON line the bench parses.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHAT_PATH, chatBody, type Shape } from './shape.js';
import type { Children } from './procs.js';

const WRK_PATHS = ['/usr/bin/wrk', '/usr/local/bin/wrk'];

/** The wrk binary, installing it from Debian when it is missing; throws with what to do otherwise. */
export function ensureWrk(log: (m: string) => void): string {
  const found = (): string | undefined => WRK_PATHS.find((p) => existsSync(p));
  let wrk = found();
  if (wrk) return wrk;
  log('wrk is missing: installing it (apt-get install -y wrk)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): void => void execFileSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'ignore', env, timeout: 300_000 });
  try {
    try {
      install();
    } catch {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 300_000 });
      install();
    }
  } catch (err) {
    throw new Error(`the bench needs wrk and could not install it (${(err as Error).message}); install it with: apt-get install -y wrk`);
  }
  wrk = found();
  if (!wrk) throw new Error('apt-get installed wrk but it is not in /usr/bin: install it with: apt-get install -y wrk');
  return wrk;
}

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  /** Non-2xx/3xx answers, socket errors and timeouts. */
  failures: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** A Lua long string that cannot be closed by the text inside it. */
function luaString(text: string): string {
  let level = '=';
  while (text.includes(`]${level}]`)) level += '=';
  return `[${level}[${text}]${level}]`;
}

let scripts = 0;

/** Writes the Lua script for `shape` into `dir`; returns its path. */
export function wrkScript(dir: string, shape: Shape): string {
  const headers = '{ ["content-type"] = "application/json", ["authorization"] = "Bearer sk-bench" }';
  const run = `${process.pid.toString(36)}${Date.now().toString(36)}${(++scripts).toString(36)}`;
  const lines = [`local path = "${CHAT_PATH}"`, `local headers = ${headers}`, 'local n = 0'];
  if (shape.vary) {
    // The counter goes into a `user` field: every body differs, across runs too.
    const MARK = '@@SEQ@@';
    const parts = shape.models.map((m) => chatBody(m, shape, `${run}-${MARK}`).split(MARK));
    lines.push(
      `local heads = { ${parts.map((p) => luaString(p[0]!)).join(', ')} }`,
      `local tails = { ${parts.map((p) => luaString(p[1]!)).join(', ')} }`,
      'request = function()',
      '  n = n + 1',
      '  local i = (n % #heads) + 1',
      '  return wrk.format("POST", path, headers, heads[i] .. n .. tails[i])',
      'end',
    );
  } else {
    lines.push(
      `local bodies = { ${shape.models.map((m) => luaString(chatBody(m, shape, null))).join(', ')} }`,
      'local reqs = {}',
      'init = function(args) for i, b in ipairs(bodies) do reqs[i] = wrk.format("POST", path, headers, b) end end',
      'request = function()',
      '  n = n + 1',
      '  return reqs[(n % #reqs) + 1]',
      'end',
    );
  }
  lines.push(
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format("WRKJSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"failures\\":%d,\\"p50_us\\":%d,\\"p99_us\\":%d,\\"max_us\\":%d}\\n",',
    '    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,',
    '    latency:percentile(50), latency:percentile(99), latency.max))',
    'end',
  );
  const file = join(dir, `wrk-${scripts}.lua`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

export interface WrkOptions {
  connections: number;
  /** Whole seconds (wrk's smallest unit); with `until`, the longest the run may last. */
  seconds: number;
  script: string;
  /** Ends the run when it resolves (wrk stops on SIGINT and reports the requests it completed). */
  until?: Promise<unknown>;
}

/** Runs wrk against `baseUrl` on the load CPU; resolves with its figures, throws when it fails. */
export async function runWrk(children: Children, wrk: string, baseUrl: string, opts: WrkOptions): Promise<WrkResult> {
  const seconds = Math.max(1, Math.round(opts.seconds));
  const child = children.start({
    name: 'wrk',
    command: wrk,
    args: ['-t1', `-c${opts.connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', opts.script, baseUrl + CHAT_PATH],
    cpu: 'load',
  });
  const deadline = setTimeout(() => void child.stop(), (seconds + 30) * 1000);
  void opts.until?.then(() => child.alive && child.proc.kill('SIGINT'));
  await child.exited;
  clearTimeout(deadline);
  const out = readFileSync(child.logPath, 'utf8');
  const line = /^WRKJSON (.*)$/m.exec(out)?.[1];
  if (!line) throw new Error(`wrk (${child.exitStatus}) printed no result; its output (${child.logPath}):\n${out.slice(-2000)}`);
  const r = JSON.parse(line) as { requests: number; duration_us: number; failures: number; p50_us: number; p99_us: number; max_us: number };
  const secs = r.duration_us / 1e6;
  return {
    requests: r.requests,
    seconds: secs,
    rps: r.requests / secs,
    failures: r.failures,
    p50Ms: r.p50_us / 1000,
    p99Ms: r.p99_us / 1000,
    maxMs: r.max_us / 1000,
  };
}
