import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config/types.js';

export type { Logger };

/**
 * The gateway's JSON logger. Nothing that could hold a credential is ever passed to it:
 * request headers are not logged, and config is logged only in its redacted form.
 */
export function createLogger(level: LogLevel = 'info'): Logger {
  return pino({
    level,
    base: { service: 'sidegate' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
