import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/types.js';

export type { Logger };

/** Lines are written out at least this often, so a quiet gateway's logs are never stale. */
const FLUSH_EVERY_MS = 100;
/** Lines are gathered up to this many characters per write (each write costs the main thread tens of microseconds: a hand-off to the thread pool). */
const BATCH_CHARS = 65_536;
/** The writer holds what it gets below this size (with a length, its flush(cb) waits for the write to land). */
const WRITER_MIN_BYTES = 4096;

type Stdout = DestinationStream & { flush(): void; flushSync(): void };

/**
 * Lines gathered in one string and handed to the writer (pino's asynchronous sonic-boom)
 * 64 KB at a time, or at least every 100 ms. Every line of every logger on stdout passes
 * here, so their order is kept. The writer's own bookkeeping (a byte count per write) is
 * then paid once per batch instead of once per access line.
 */
class BatchedLines implements Stdout {
  private pending = '';
  /** Lines were handed to the writer since its last flush (it may hold some). */
  private handed = false;

  constructor(private readonly out: SonicBoom) {}

  write(line: string): void {
    this.pending += line;
    if (this.pending.length >= BATCH_CHARS) this.hand();
  }

  private hand(): void {
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    this.handed = true;
    this.out.write(text);
  }

  /** With nothing handed since the last flush and no callback, nothing: the writer would write an empty string (a thread-pool round trip every 100 ms of an idle sidecar). */
  flush(cb?: (err?: Error) => void): void {
    this.hand();
    if (!this.handed && !cb) return;
    this.handed = false;
    this.out.flush(cb);
  }

  flushSync(): void {
    this.hand();
    this.out.flushSync();
  }
}

type SonicBoom = ReturnType<typeof pino.destination>;

/** One stdout writer per process, shared by every gateway in it (and its one flush timer). */
let stdout: Stdout | null = null;
function stdoutDestination(): Stdout {
  if (stdout) return stdout;
  const destination = new BatchedLines(pino.destination({ dest: 1, sync: false, minLength: WRITER_MIN_BYTES }));
  setInterval(() => destination.flush(), FLUSH_EVERY_MS).unref();
  stdout = destination;
  return destination;
}

/**
 * The gateway's JSON logger. Nothing that could hold a credential is ever passed to it:
 * request headers are not logged, and config is logged only in its redacted form.
 *
 * An access line per request is the most expensive thing the gateway does after the
 * network, so lines are gathered in memory and written 64 KB at a time (at least every
 * 100 ms), instead of one write per request. `time` is epoch milliseconds, which costs
 * nothing to format. `flushLogger()` before exiting writes what is left. `destination`
 * replaces stdout (tests).
 */
export function createLogger(level: LogLevel = 'info', destination: DestinationStream = stdoutDestination()): Logger {
  const logger = pino(
    {
      level,
      base: { service: 'sidegate' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  ownFormat.add(logger);
  return logger;
}

/** Loggers made by createLogger: their line format is known, so infoLine may write it directly. */
const ownFormat = new WeakSet<Logger>();

/**
 * Logs `record` at info with message `msg`, as `logger.info(record, msg)` would, when info
 * is enabled. For a logger of createLogger (the access log's, once per request) the line
 * costs one JSON.stringify of the record and one write: pino's own path serialises field
 * by field. Any other logger (a library user's, a child) gets `logger.info`. The record
 * must be a plain object of JSON values without a `msg` key.
 */
export function infoLine(logger: Logger, record: Record<string, unknown>, msg: string): void {
  if (!logger.isLevelEnabled('info')) return;
  if (!ownFormat.has(logger)) return void logger.info(record, msg);
  const own = logger as unknown as Record<symbol, unknown>;
  const bindings = own[pino.symbols.chindingsSym] as string;
  record.msg = msg;
  const json = JSON.stringify(record);
  // toFixed, not `${n}`: V8 caches each number it makes a string of, so a fresh time every
  // millisecond would be held there long enough to reach the old generation.
  (own[pino.symbols.streamSym] as DestinationStream).write(`{"level":"info","time":${Date.now().toFixed(0)}${bindings},${json.slice(1)}\n`);
}

/** Writes out what the logger still holds; resolves when it is on its way. */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
