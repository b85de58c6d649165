import type { IncomingMessage } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { GatewayError } from '../errors.js';
import { LIMITS } from '../server/limits.js';
import { scanJson } from './json-guard.js';
import { readWhole } from '../upstream/read-whole.js';

function tooLarge(limit: number): GatewayError {
  return new GatewayError('request_too_large', `Request body is larger than the gateway's limit of ${limit} bytes (server.max_body).`);
}

/**
 * Refuses a body whose declared length is over the limit, before reading a byte of it,
 * and framing that proxies disagree on: `Transfer-Encoding` on an HTTP/1.0 request (which
 * has no chunked encoding) is refused rather than guessed at.
 */
export function checkDeclaredLength(req: IncomingMessage, limit: number): void {
  if (req.httpVersionMinor === 0 && req.httpVersionMajor === 1 && req.headers['transfer-encoding'] !== undefined) {
    throw new GatewayError('invalid_request', 'Transfer-Encoding is not allowed on an HTTP/1.0 request.');
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
}

/** Reads a whole request body, refusing it (413) as soon as it passes `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  checkDeclaredLength(req, limit);
  return readWhole(req, limit, () => tooLarge(limit)) as Promise<Buffer>;
}

/** Counts a streamed body's bytes and fails it with 413 once they pass the limit. */
class LimitedBody extends Transform {
  private size = 0;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.limit) callback(tooLarge(this.limit));
    else callback(null, chunk);
  }
}

/**
 * The body to stream upstream for a pass-through request. With a Content-Length the
 * parser already holds it to that length (checked against the limit up front); a chunked
 * body has none, so its bytes are counted on the way and the upstream call fails with 413
 * `request_too_large` once they pass `limit`.
 */
export function streamedBody(req: IncomingMessage, limit: number): Readable {
  if (req.headers['content-length'] !== undefined) return req;
  const limited = new LimitedBody(limit);
  req.on('error', (err) => limited.destroy(err));
  return req.pipe(limited);
}

/**
 * Parses a JSON request body; anything but a JSON object is a 400, and so are a body that
 * nests deeper than LIMITS.json_depth and one that writes a top-level key twice.
 */
export function parseJsonBody(raw: Buffer): Record<string, unknown> {
  let value: unknown;
  const text = raw.toString('utf8');
  try {
    value = JSON.parse(text);
  } catch {
    throw new GatewayError('invalid_json', 'Request body is not valid JSON.');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatewayError('invalid_request', 'Request body must be a JSON object.');
  }
  const body = value as Record<string, unknown>;
  const shape = scanJson(text);
  if (shape.depth > LIMITS.json_depth) {
    throw new GatewayError('invalid_json', `Request body nests deeper than ${LIMITS.json_depth} levels.`);
  }
  // JSON.parse keeps one property per name, so a name written twice leaves fewer keys than the text writes.
  if (shape.topLevelKeys > Object.keys(body).length) {
    throw new GatewayError('invalid_json', 'Request body names the same top-level key twice.');
  }
  return body;
}
