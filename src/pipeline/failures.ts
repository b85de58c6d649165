import { failureKind, type FailureKind } from '../errors.js';
import type { UpstreamResponse } from '../providers/provider.js';
import type { SchemaFragment } from '../features/feature.js';

/** What `retry.on` and `fallback.on` may list: HTTP statuses and failure names. */
export type FailureName = number | 'connect_error' | 'timeout';

export const DEFAULT_FAILURES: readonly FailureName[] = Object.freeze([429, 500, 502, 503, 504, 529, 'connect_error', 'timeout']);

/** The schema of an `on:` list. */
export function failureListSchema(description: string): SchemaFragment {
  return {
    description: `${description} HTTP statuses (400–599) and \`connect_error\` (the upstream could not be reached), \`timeout\` (no response headers in time). Default [429, 500, 502, 503, 504, 529 (Anthropic\'s overloaded), connect_error, timeout].`,
    type: 'array',
    minItems: 1,
    uniqueItems: true,
    items: {
      description: 'An HTTP status, `connect_error` or `timeout`.',
      anyOf: [
        { title: 'an HTTP status (400-599)', type: 'integer', minimum: 400, maximum: 599 },
        { title: 'connect_error or timeout', enum: ['connect_error', 'timeout'] },
      ],
    },
  };
}

/** A compiled `on:` list. */
export class FailureSet {
  private readonly statuses: ReadonlySet<number>;
  private readonly kinds: ReadonlySet<FailureKind>;

  constructor(names: readonly FailureName[] = DEFAULT_FAILURES) {
    this.statuses = new Set(names.filter((n): n is number => typeof n === 'number'));
    this.kinds = new Set(names.filter((n): n is 'connect_error' | 'timeout' => typeof n === 'string'));
  }

  hasStatus(status: number): boolean {
    return this.statuses.has(status);
  }

  /**
   * True for a thrown failure this list names (an abort never matches). An answer an
   * answer check rejected (quality_gate) always matches: it is a failed try by definition.
   */
  hasError(err: unknown): boolean {
    const kind = failureKind(err);
    return kind === 'rejected' || this.kinds.has(kind);
  }
}

/** Releases a response nobody will read, letting undici reuse the connection when it can. */
export function discard(response: UpstreamResponse): void {
  const body = response.body as UpstreamResponse['body'] & { dump?: () => Promise<void> };
  if (typeof body.dump === 'function') body.dump().catch(() => {});
  else body.destroy();
}

/**
 * How long an upstream asked us to wait (`retry-after-ms`, or `Retry-After` in seconds or
 * as an HTTP date), in ms; null when it did not say.
 */
export function retryAfterMs(headers: UpstreamResponse['headers'], now = Date.now()): number | null {
  const ms = headers['retry-after-ms'];
  if (typeof ms === 'string' && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const after = headers['retry-after'];
  if (typeof after !== 'string' || after.trim() === '') return null;
  if (/^\d+(\.\d+)?$/.test(after.trim())) return Number(after) * 1000;
  const date = Date.parse(after);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
