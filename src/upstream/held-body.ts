import { Readable } from 'node:stream';

/**
 * An answer body already read whole, as a stream that replays its bytes. Stages that must
 * see a whole answer before the client does (structured_output, quality_gate, request
 * coalescing, translation) hand it on as this, and the next one that needs the whole
 * answer takes `bytes` instead of reading the stream again: one read per answer, however
 * many stages look at it.
 */
export class HeldBody extends Readable {
  private sent = false;

  constructor(readonly bytes: Buffer) {
    super();
  }

  override _read(): void {
    if (this.sent) return;
    this.sent = true;
    this.push(this.bytes);
    this.push(null);
  }
}

/** The bytes of a body that is held whole, or null for a stream still to be read. */
export function heldBytes(body: Readable): Buffer | null {
  return body instanceof HeldBody ? body.bytes : null;
}

/**
 * The JSON value a stage parsed from a held answer's bytes, kept for the response side,
 * which parses the same answer again when a later stage reads or rewrites it: one parse
 * per answer. Taken once, so only one reader ever owns (and may change) the value; keyed
 * weakly, so a value nobody takes goes with its bytes.
 */
const PARSED = new WeakMap<Buffer, unknown>();

export function keepParsed(bytes: Buffer, value: unknown): void {
  PARSED.set(bytes, value);
}

/** The value kept for `bytes` (removed as it is taken), or undefined. */
export function takeParsed(bytes: Buffer): unknown {
  const value = PARSED.get(bytes);
  if (value !== undefined) PARSED.delete(bytes);
  return value;
}
