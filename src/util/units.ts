/** Durations and sizes as the config writes them: `250ms`, `30s`, `5m`, `1h`, `7d`; `64kb`, `10mb`. */

export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$';
export const SIZE_PATTERN = '^[0-9]+(\\.[0-9]+)?(b|kb|mb|gb)$';

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Milliseconds in a duration string; throws on a malformed one (the schema rejects those first). */
export function parseDuration(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`invalid duration "${text}"`);
  return Number(m[1]) * DURATION_MS[m[2]!]!;
}

/** Bytes in a size string (1kb = 1024 bytes). */
export function parseSize(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(b|kb|mb|gb)$/i.exec(text);
  if (!m) throw new Error(`invalid size "${text}"`);
  return Math.floor(Number(m[1]) * SIZE_BYTES[m[2]!.toLowerCase()]!);
}
