/**
 * The processes the bench starts: each pinned to a CPU with taskset when it can be, its
 * output in a log file, its memory read from /proc, and every one of them stopped at the
 * end, whatever happened (SIGTERM, then SIGKILL after a grace period; SIGKILL at exit).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import ts from 'typescript';

export { sleep };

export interface Pinning {
  /** The taskset binary, or null when processes are not pinned. */
  taskset: string | null;
  /** CPU of the process under test (sidegate or the bare proxy). */
  gatewayCpu: string;
  /** CPU of the load generator (this process) and the mock upstream. */
  loadCpu: string;
  note: string;
}

/** Expands a taskset CPU list such as `0-2,5`. */
function expandCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.trim().split(',')) {
    const [lo, hi] = part.split('-').map(Number);
    for (let c = lo!; c <= (hi ?? lo!); c++) cpus.push(c);
  }
  return cpus;
}

/** The two CPUs to use: the first two this process may run on, when taskset exists. */
export function planPinning(): Pinning {
  const taskset = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p)) ?? null;
  const unpinned = (note: string): Pinning => ({ taskset: null, gatewayCpu: '', loadCpu: '', note });
  if (!taskset) return unpinned('taskset not found: processes are not pinned, figures are noisier');
  const out = execFileSync(taskset, ['-cp', String(process.pid)], { encoding: 'utf8' });
  const cpus = expandCpuList(out.slice(out.lastIndexOf(':') + 1));
  if (cpus.length < 2) return unpinned(`only ${cpus.length} CPU available: processes are not pinned`);
  const [gatewayCpu, loadCpu] = [String(cpus[0]), String(cpus[1])];
  execFileSync(taskset, ['-a', '-cp', loadCpu, String(process.pid)], { stdio: 'ignore' });
  return { taskset, gatewayCpu, loadCpu, note: `proxy under test on cpu ${gatewayCpu}; load generator and mock upstream on cpu ${loadCpu}` };
}

export const REPO = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const SCRIPT_CACHE = join(REPO, 'node_modules', '.cache', 'sidegate-bench');

/**
 * Transpiles a standalone bench script (node: builtins and packages only) to plain
 * JavaScript, so it runs without a loader thread that would add to its memory and CPU.
 * Written under node_modules/ so that its package imports resolve.
 */
export function compileScript(tsPath: string): string {
  const { outputText } = ts.transpileModule(readFileSync(tsPath, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: tsPath,
  });
  mkdirSync(SCRIPT_CACHE, { recursive: true });
  const out = join(SCRIPT_CACHE, basename(tsPath).replace(/\.ts$/, '.mjs'));
  writeFileSync(out, outputText);
  return out;
}

let ticks = 0;
function clockTicks(): number {
  if (ticks === 0) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/**
 * CPU time of a process from /proc/PID/stat, in ms; with `children`, also that of its
 * children that have exited (and were waited for). NaN off Linux.
 */
export function processCpuMs(pid: number, children = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    // utime, stime, cutime, cstime are fields 14-17 of the line, 11-14 after the command.
    const ticks = fields[11]! + fields[12]! + (children ? fields[13]! + fields[14]! : 0);
    return (ticks * 1000) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

/** CPU time used by the whole machine since boot (user, system, irq, steal), in ms; NaN off Linux. */
export function machineBusyMs(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return ((user! + nice! + system! + irq! + softirq! + (steal ?? 0)) * 1000) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

export interface Memory {
  rssMb: number;
  /** Peak RSS (VmHWM) since the process started. */
  peakMb: number;
}

export class Child {
  readonly exited: Promise<void>;
  exitStatus: string | null = null;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    readonly logPath: string,
  ) {
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exitStatus = signal ?? `code ${code}`;
        resolve();
      });
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get alive(): boolean {
    return this.exitStatus === null;
  }

  /** RSS and peak RSS from /proc/PID/status (Linux); NaN elsewhere. */
  memory(): Memory {
    let status = '';
    try {
      status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    } catch {
      return { rssMb: Number.NaN, peakMb: Number.NaN };
    }
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
  }

  /** CPU time (user + system) it has used so far, in ms; NaN off Linux. */
  cpuMs(): number {
    return processCpuMs(this.pid);
  }

  /** The last lines of its output, to explain a failure. */
  tail(lines = 15): string {
    try {
      return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no output)';
    }
  }

  private failure(what: string): Error {
    return new Error(`${this.name} ${what}; its last output (${this.logPath}):\n${this.tail()}`);
  }

  /** The first IPC message it sends, within `timeoutMs`. */
  async message<T>(timeoutMs: number): Promise<T> {
    const got = once(this.proc, 'message').then(([m]) => m as T);
    const result = await Promise.race([got, this.exited.then(() => null), sleep(timeoutMs).then(() => undefined)]);
    if (result === null) throw this.failure(`exited (${this.exitStatus}) while starting`);
    if (result === undefined) throw this.failure(`did not report its port within ${timeoutMs} ms`);
    return result;
  }

  /** Resolves once `port` accepts connections, polling every 25 ms for at most `timeoutMs`. */
  async waitForPort(port: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (!this.alive) throw this.failure(`exited (${this.exitStatus}) while starting`);
      const ok = await new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      if (ok) return;
      await sleep(25);
    }
    throw this.failure(`did not listen on port ${port} within ${timeoutMs} ms`);
  }

  /** SIGTERM, then SIGKILL if it is still there after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.alive) return;
    this.proc.kill('SIGTERM');
    await Promise.race([this.exited, sleep(graceMs)]);
    if (!this.alive) return;
    this.proc.kill('SIGKILL');
    await Promise.race([this.exited, sleep(2000)]);
  }
}

export interface StartOptions {
  name: string;
  /** The program (default: this node). */
  command?: string;
  /** Arguments to the program; for node: flags, then the script and its arguments. */
  args: string[];
  /** CPU to pin it to (ignored when not pinning). */
  cpu: 'gateway' | 'load';
  env?: Record<string, string>;
  /** Open an IPC channel (the bench's own scripts report their port on it). */
  ipc?: boolean;
}

/** Every process the bench started, so that all of them can be stopped. */
export class Children {
  private readonly all = new Set<Child>();
  private count = 0;

  constructor(
    private readonly logDir: string,
    private readonly pinning: Pinning,
  ) {
    mkdirSync(logDir, { recursive: true });
  }

  start(opts: StartOptions): Child {
    const logPath = join(this.logDir, `${++this.count}-${opts.name.replace(/[^\w.-]+/g, '_')}.log`);
    const fd = openSync(logPath, 'a');
    const cpu = opts.cpu === 'gateway' ? this.pinning.gatewayCpu : this.pinning.loadCpu;
    const program = opts.command ?? process.execPath;
    const [command, args] = this.pinning.taskset ? [this.pinning.taskset, ['-c', cpu, program, ...opts.args]] : [program, opts.args];
    const env: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: undefined, ...opts.env };
    try {
      const proc = spawn(command, args, { cwd: REPO, env, stdio: ['ignore', fd, fd, ...(opts.ipc ? ['ipc' as const] : [])] });
      const child = new Child(opts.name, proc, logPath);
      proc.on('error', () => {}); // a failed spawn shows as an exit
      this.all.add(child);
      void child.exited.then(() => this.all.delete(child));
      return child;
    } finally {
      closeSync(fd);
    }
  }

  /** CPU time of the processes still running, ms. */
  cpuMs(): number {
    return [...this.all].reduce((sum, c) => sum + c.cpuMs(), 0);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.all].map((c) => c.stop()));
  }

  /** Last resort, synchronous (for process 'exit'): SIGKILL whatever is left. */
  killNow(): void {
    for (const child of this.all) {
      try {
        child.proc.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
