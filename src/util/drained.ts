import type { EventEmitter } from 'node:events';

/** Resolves when a writable that refused a write can take more bytes (`drain`), or is gone (`close`). */
export function drained(stream: EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
