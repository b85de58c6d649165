import type { Readable } from 'node:stream';
import { heldBytes } from './held-body.js';

/** What a stream closed early rejects with (the code an async iterator over it would throw). */
function prematureClose(): Error {
  return Object.assign(new Error('the body closed before it ended'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/**
 * Reads a body to its end: its bytes, or null once it grew past `limit` bytes (then no
 * longer read; each caller says what too large means for it: an upstream's answer is
 * destroyed, a client's request is answered 413 on the same connection). A body held whole
 * (HeldBody) is taken as it is. Listeners rather than `for await`: an async iterator
 * costs a promise and its bookkeeping per chunk, and every checked, translated or
 * coalesced answer is read this way. Rejects with the stream's error, or when it closes
 * before its end. With `tooLarge`, a body past the limit rejects with its error instead
 * (the request body's 413, without a second promise on every request).
 */
export function readWhole(body: Readable, limit: number, tooLarge: (() => Error) | null = null): Promise<Buffer | null> {
  const held = heldBytes(body);
  if (held !== null) return held.length <= limit ? Promise.resolve(held) : tooLarge === null ? Promise.resolve(null) : Promise.reject(tooLarge());
  if (body.errored) return Promise.reject(body.errored);
  if (body.readableEnded) return Promise.resolve(Buffer.alloc(0));
  if (body.destroyed) return Promise.reject(prematureClose());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      stop();
      if (tooLarge === null) resolve(null);
      else reject(tooLarge());
    };
    const onEnd = (): void => {
      stop();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      stop();
      reject(err);
    };
    const onClose = (): void => {
      stop();
      reject(body.errored ?? prematureClose());
    };
    // `on`, not `once`: stop() takes every listener off at the first of them, and once's wrappers cost on every body.
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

/**
 * The most bytes of one upstream answer the gateway holds whole: to share it between
 * coalesced requests, to translate it, to pass it through the response side's JSON steps,
 * or as the answer to a call of its own (embeddings). A larger one fails (a 502 to the
 * client) instead of filling memory.
 */
export const MAX_HELD_ANSWER = 32 * 1024 * 1024;

/**
 * An upstream's answer read whole, at most `limit` bytes. Past the limit the body is
 * destroyed (the connection is not worth keeping) and `tooLarge()` is thrown: each
 * caller says what the answer was too large for.
 */
export async function readAnswerWhole(body: Readable, limit: number, tooLarge: () => Error): Promise<Buffer> {
  const bytes = await readWhole(body, limit);
  if (bytes === null) {
    body.destroy();
    throw tooLarge();
  }
  return bytes;
}
