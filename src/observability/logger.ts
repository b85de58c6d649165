import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/types.js';

export type { Logger };

/** Lines are written out at least this often, so a quiet gateway's logs are never stale. */
const FLUSH_EVERY_MS = 100;
/** Lines are gathered up to this many bytes per write (pino's asynchronous logging). */
const WRITE_BYTES = 4096;

type Stdout = DestinationStream & { flush(): void };

/** One stdout writer per process, shared by every gateway in it (and its one flush timer). */
let stdout: Stdout | null = null;
function stdoutDestination(): Stdout {
  if (stdout) return stdout;
  const destination = pino.destination({ dest: 1, sync: false, minLength: WRITE_BYTES });
  setInterval(() => destination.flush(), FLUSH_EVERY_MS).unref();
  stdout = destination;
  return destination;
}

/**
 * The gateway's JSON logger. Nothing that could hold a credential is ever passed to it:
 * request headers are not logged, and config is logged only in its redacted form.
 *
 * An access line per request is the most expensive thing the gateway does after the
 * network, so lines are gathered in memory and written 4 KB at a time (at least every
 * 100 ms), instead of one write per request. `time` is epoch milliseconds, which costs
 * nothing to format. `flushLogger()` before exiting writes what is left.
 */
export function createLogger(level: LogLevel = 'info'): Logger {
  return pino(
    {
      level,
      base: { service: 'sidegate' },
      formatters: { level: (label) => ({ level: label }) },
    },
    stdoutDestination(),
  );
}

/** Writes out what the logger still holds; resolves when it is on its way. */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
