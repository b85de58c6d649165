/**
 * How fast sidegate starts, as a sidecar racing its app: `sidegate validate FILE` from spawn
 * to exit, and `sidegate start` from spawn to the first `/readyz` 200. Each run is a fresh
 * process pinned like the gateway under load; the figure is the median of the runs.
 */
import { request } from 'node:http';
import type { Child, Children } from './procs.js';
import { sleep } from './procs.js';

const POLL_MS = 2;

/** Wall ms from spawning `args` to its exit; throws when it fails. */
export async function timeToExit(children: Children, name: string, args: string[], env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const child = children.start({ name, args, cpu: 'gateway', env });
  await child.exited;
  const ms = performance.now() - t0;
  if (child.exitStatus !== 'code 0') throw new Error(`${name} failed (${child.exitStatus}):\n${child.tail()}`);
  return ms;
}

function readyzStatus(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Wall ms from spawning the gateway to the first `/readyz` 200 on `adminPort`; the child is left running. */
export async function timeToReady(children: Children, name: string, args: string[], env: Record<string, string>, adminPort: number, timeoutMs: number): Promise<{ ms: number; child: Child }> {
  const t0 = performance.now();
  const child = children.start({ name, args, cpu: 'gateway', env });
  while (performance.now() - t0 < timeoutMs) {
    if (!child.alive) throw new Error(`${name} exited (${child.exitStatus}) while starting:\n${child.tail()}`);
    if ((await readyzStatus(adminPort)) === 200) return { ms: performance.now() - t0, child };
    await sleep(POLL_MS);
  }
  await child.stop();
  throw new Error(`${name}: /readyz did not answer 200 within ${timeoutMs} ms:\n${child.tail()}`);
}
