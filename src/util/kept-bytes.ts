/**
 * The chunks' bytes (the first `size` of them, when given) in a buffer of its own, for bytes
 * kept a long time (cache entries, semantic cache records). Node hands out small buffers
 * (Buffer.concat, Buffer.from, under 4 KB) as slices of a shared 8 KB slab, and one kept
 * slice keeps its whole slab alive: a cache of 400-byte answers held about three times the
 * memory its `max_size` counted.
 */
export function keptBytes(chunks: readonly Uint8Array[], size?: number): Buffer {
  let total = size ?? 0;
  if (size === undefined) for (const chunk of chunks) total += chunk.length;
  const out = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const chunk of chunks) {
    if (at >= total) break;
    // Like Buffer.concat with a length: bytes past `size` are left out.
    out.set(chunk.length <= total - at ? chunk : chunk.subarray(0, total - at), at);
    at += chunk.length;
  }
  return out;
}

/** `text` as UTF-8 in a buffer of its own (`Buffer.from` of a short text is a slab slice, which keptBytes would copy a second time). */
export function keptText(text: string): Buffer {
  const out = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  out.write(text);
  return out;
}
