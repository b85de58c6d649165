import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config/types.js';

export type { Logger };

/**
 * The gateway's JSON logger. Nothing that could hold a credential is ever passed to it:
 * request headers are not logged, and config is logged only in its redacted form.
 *
 * Lines go to stdout through an asynchronous destination: under load, lines written
 * while a write is in flight leave together in the next one (one write per batch rather
 * than per request); when idle, each line is written at once. `time` is epoch
 * milliseconds, which costs nothing to format. Call `flushLogger()` before exiting.
 */
export function createLogger(level: LogLevel = 'info'): Logger {
  return pino(
    {
      level,
      base: { service: 'sidegate' },
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 1, sync: false }),
  );
}

/** Writes out what the logger still holds; resolves when it is on its way. */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
