import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
/** tsx by path, so the command also runs with another working directory. */
const TSX = import.meta.resolve('tsx');

/** A `sidegate` process started from source, with its JSON log lines parsed as they come. */
export class CliProcess {
  readonly logs: any[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private waiters: Array<{ match: (line: any) => boolean; resolve: (line: any) => void }> = [];

  constructor(readonly child: ChildProcess) {
    this.exited = once(child, 'exit').then(([code]) => code as number | null);
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: any;
      try {
        line = JSON.parse(text);
      } catch {
        line = { msg: text };
      }
      this.logs.push(line);
      this.waiters = this.waiters.filter((w) => (w.match(line) ? (w.resolve(line), false) : true));
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  /** Resolves with the first log line (already seen or to come) that matches. */
  waitForLog(match: (line: any) => boolean): Promise<any> {
    const seen = this.logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null) this.child.kill(signal);
  }
}

/** Runs `sidegate ARGS…` from source. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new CliProcess(child);
}

/** Runs a short CLI command to completion: exit code, stdout, stderr. */
export async function runCliToEnd(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env, ...options.env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name]; // unset
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

/** Starts `sidegate start -c FILE` and resolves once it listens, with its addresses. */
export async function startCli(file: string, extra: string[] = []): Promise<{ cli: CliProcess; url: string; adminUrl: string }> {
  const cli = runCli(['start', '-c', file, ...extra]);
  const listening = await Promise.race([
    cli.waitForLog((l) => l.msg === 'sidegate listening'),
    cli.exited.then((code) => {
      throw new Error(`sidegate exited (${code}) before listening: ${cli.stderr}`);
    }),
  ]);
  return { cli, url: listening.url, adminUrl: listening.admin };
}
