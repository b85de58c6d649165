/**
 * A large plain value carried from the loader's worker thread as JSON in pieces, so that
 * the event loop parses it a piece at a time between requests: one JSON.parse of a
 * 10 000-router config holds the loop for tens of milliseconds. Each map or list whose
 * JSON is over PIECE_BYTES travels empty in its parent, its entries following in pieces
 * of about that size (and its own large entries after them, the same way). Key order is
 * kept. Only JSON values cross (what a loaded config is made of).
 */
import type { Steps } from '../util/slices.js';

export interface JsonPiece {
  /** The keys from the root to the map or list these entries belong to. */
  readonly at: readonly (string | number)[];
  /** A JSON object (some of a map's entries) or array (the next items of a list). */
  readonly json: string;
}

export interface ChunkedJson {
  /** The value's JSON, with each large map or list left empty. */
  readonly head: string;
  /** In order: a container's pieces come after the piece that holds it. */
  readonly pieces: readonly JsonPiece[];
}

/** About the JSON one parse step reads: well under a millisecond of work. */
const PIECE_BYTES = 32 * 1024;

const isContainer = (value: unknown): value is Record<string, unknown> | unknown[] =>
  value !== null && typeof value === 'object' && (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null);

/**
 * The JSON of `value` (JSON.stringify's), or, for a map or list whose JSON is over
 * `pieceBytes`, an empty one whose entries are pushed to `pieces` in groups, followed by
 * the pieces of its own large entries. `path` is shared: restored on return.
 */
function encode(value: unknown, json: string, path: (string | number)[], pieceBytes: number, pieces: JsonPiece[]): string {
  if (json.length <= pieceBytes || !isContainer(value)) return json;
  const array = Array.isArray(value);
  const [open, close] = array ? ['[', ']'] : ['{', '}'];
  const at = [...path];
  const own: JsonPiece[] = [];
  const later: JsonPiece[] = [];
  let group: string[] = [];
  let groupBytes = 0;
  const add = (entry: string): void => {
    group.push(entry);
    groupBytes += entry.length + 1;
    if (groupBytes < pieceBytes) return;
    own.push({ at, json: open + group.join(',') + close });
    group = [];
    groupBytes = 0;
  };
  const child = (item: unknown, key: string | number): string | undefined => {
    const text = JSON.stringify(item);
    if (text === undefined || text.length <= pieceBytes) return text;
    path.push(key);
    const out = encode(item, text, path, pieceBytes, later);
    path.pop();
    return out;
  };
  if (array) for (let i = 0; i < value.length; i++) add(child(value[i], i) ?? 'null');
  else {
    for (const key of Object.keys(value)) {
      const text = child(value[key], key);
      if (text !== undefined) add(`${JSON.stringify(key)}:${text}`); // an undefined value is left out, as JSON.stringify does
    }
  }
  if (group.length > 0) own.push({ at, json: open + group.join(',') + close });
  for (const piece of own) pieces.push(piece);
  for (const piece of later) pieces.push(piece);
  return open + close;
}

/** On the worker: the value as a head and pieces. */
export function encodeChunked(value: unknown, pieceBytes = PIECE_BYTES): ChunkedJson {
  const pieces: JsonPiece[] = [];
  const head = encode(value, JSON.stringify(value) ?? 'null', [], pieceBytes, pieces);
  return { head, pieces };
}

/** Adds an entry as JSON.parse would (a `__proto__` key is an own property, never the prototype). */
function place(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** On the main thread: the value back, one piece parsed per step. */
export function* decodeChunked(chunked: ChunkedJson): Steps<unknown> {
  const root: unknown = JSON.parse(chunked.head);
  for (const piece of chunked.pieces) {
    yield;
    let target = root as Record<string | number, unknown>;
    for (const key of piece.at) target = target[key] as Record<string | number, unknown>;
    const part = JSON.parse(piece.json) as Record<string, unknown> | unknown[];
    if (Array.isArray(target)) for (const item of part as unknown[]) target.push(item);
    else for (const key of Object.keys(part)) place(target, key, (part as Record<string, unknown>)[key]);
  }
  return root;
}
