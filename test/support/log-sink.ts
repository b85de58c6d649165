import { Writable } from 'node:stream';
import pino from 'pino';

/** A logger whose JSON lines a test reads back, with a way to wait for access lines. */
export function logSink(level = 'info') {
  const lines: any[] = [];
  let onLine: (() => void) | null = null;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      onLine?.();
      done();
    },
  });
  return {
    lines,
    logger: pino({ level }, sink),
    /** Resolves once `count` access lines were logged (all of them so far). */
    async accessLines(count: number): Promise<any[]> {
      for (;;) {
        const access = lines.filter((l) => l.msg === 'request');
        if (access.length >= count) return access;
        await new Promise<void>((resolve) => (onLine = resolve));
      }
    },
  };
}
