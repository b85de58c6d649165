import type { CacheEntry } from './store.js';
import { keptBytes } from '../util/kept-bytes.js';

/** A cache entry as one Redis value: a 4-byte length, the metadata JSON, the body, the body without usage. */
export function encodeEntry(entry: CacheEntry): Buffer {
  const meta = Buffer.from(
    JSON.stringify({
      status: entry.status,
      headers: entry.headers,
      kind: entry.kind,
      storedAt: entry.storedAt,
      expiresAt: entry.expiresAt,
      bodyLength: entry.body.length,
      noUsage: entry.bodyNoUsage !== null,
    }),
  );
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(meta.length, 0);
  // The memory backend keeps it as a semantic cache record: memory of its own, not a slab slice
  // (a Redis value, sent and dropped, pays one allocation for it).
  return keptBytes(entry.bodyNoUsage ? [head, meta, entry.body, entry.bodyNoUsage] : [head, meta, entry.body]);
}

export function decodeEntry(raw: Buffer): CacheEntry {
  const metaLength = raw.readUInt32BE(0);
  const meta = JSON.parse(raw.subarray(4, 4 + metaLength).toString('utf8')) as {
    status: number;
    headers: Record<string, string>;
    kind: CacheEntry['kind'];
    storedAt: number;
    expiresAt: number;
    bodyLength: number;
    noUsage: boolean;
  };
  const bodyStart = 4 + metaLength;
  const bodyEnd = bodyStart + meta.bodyLength;
  return {
    status: meta.status,
    headers: meta.headers,
    kind: meta.kind,
    storedAt: meta.storedAt,
    expiresAt: meta.expiresAt,
    body: raw.subarray(bodyStart, bodyEnd),
    bodyNoUsage: meta.noUsage ? raw.subarray(bodyEnd) : null,
  };
}
