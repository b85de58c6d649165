import { CREDENTIAL_HEADERS } from '../upstream/headers.js';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';
import type { CompiledTarget } from '../pipeline/compiled.js';
import type { RequestContext } from '../pipeline/context.js';
import { requestKey } from '../pipeline/request-key.js';
import { RequestAbort } from '../pipeline/abort.js';
import type { HeaderMap, UpstreamResponse } from '../providers/provider.js';
import { HeldBody } from '../upstream/held-body.js';
import { MAX_HELD_ANSWER, readAnswerWhole } from '../upstream/read-whole.js';
import { GatewayError } from '../errors.js';

export interface RequestCoalescingConfig {
  key_headers?: string[];
}

const DEFAULT_KEY_HEADERS = CREDENTIAL_HEADERS;

/** One upstream answer, held whole so every waiting request gets its own copy. */
interface Shared {
  status: number;
  headers: HeaderMap;
  body: Buffer;
  headersMs: number;
  target: CompiledTarget | undefined;
}

/** A call several identical requests wait on; it is aborted only when all of them left. */
interface InFlight {
  answer: Promise<Shared>;
  controller: RequestAbort;
  waiting: number;
}

function copy(shared: Shared): UpstreamResponse {
  return { status: shared.status, headers: { ...shared.headers }, body: new HeldBody(shared.body), headersMs: shared.headersMs, target: shared.target };
}

async function hold(response: UpstreamResponse): Promise<Shared> {
  const upstream = response.target?.upstream.name ?? 'upstream';
  const body = await readAnswerWhole(
    response.body,
    MAX_HELD_ANSWER,
    () => new GatewayError('upstream_error', `upstream "${upstream}" sent an answer larger than ${MAX_HELD_ANSWER} bytes, too large to share between identical requests (request_coalescing)`),
  );
  return { status: response.status, headers: response.headers, body, headersMs: response.headersMs, target: response.target };
}

/**
 * `request_coalescing`: identical non-streaming requests in flight at the same time
 * (same method, path, `key_headers` and canonical body: the response cache's key) share
 * one upstream call; each gets a copy of the answer.
 */
export const requestCoalescing: FeatureModule<RequestCoalescingConfig> = {
  name: 'request_coalescing',
  order: ORDER.request_coalescing,
  describe(c) {
    return `identical in-flight non-streaming requests (by method, path, ${(c.key_headers ?? DEFAULT_KEY_HEADERS).join(', ')}, body) share one upstream call`;
  },
  schema: {
    description: 'Identical non-streaming requests in flight at the same time share one upstream call.',
    type: 'object',
    additionalProperties: false,
    properties: {
      key_headers: {
        description: 'Request headers that must also be equal to share a call (default `[authorization, x-api-key, api-key]`, every API\'s credential header, so callers with different keys never share). At most 32.',
        type: 'array',
        maxItems: 32,
        items: { description: 'A header name.', type: 'string', minLength: 1 },
        default: DEFAULT_KEY_HEADERS,
      },
    },
  },
  create(config, deps) {
    const keyHeaders = (config.key_headers ?? DEFAULT_KEY_HEADERS).map((h) => h.toLowerCase());
    const inFlight = new Map<string, InFlight>();
    const coalesced = deps.metrics.counter('ai_gateway_coalesced_requests_total', 'Requests answered by sharing another identical request\'s upstream call, by router.', ['router']);
    const child = coalesced.labels(deps.routerName);

    /** Counts the request among those waiting; the last one to leave aborts the shared call. */
    const join = (ctx: RequestContext, entry: InFlight): void => {
      entry.waiting++;
      ctx.abort.once('abort', () => {
        if (--entry.waiting === 0) entry.controller.abort(ctx.abort.reason);
      });
    };

    return {
      name: 'request_coalescing',
      wrapCall(next) {
        return async (ctx, attempt) => {
          if (ctx.stream || ctx.body === undefined) return next(ctx, attempt);
          const key = requestKey(ctx, keyHeaders);
          const existing = inFlight.get(key);
          if (existing) {
            child.inc();
            join(ctx, existing);
            return copy(await existing.answer);
          }
          const controller = new RequestAbort();
          const entry: InFlight = {
            controller,
            waiting: 0,
            answer: next(ctx, { ...attempt, signal: controller }).then(hold),
          };
          join(ctx, entry);
          inFlight.set(key, entry);
          try {
            return copy(await entry.answer);
          } finally {
            inFlight.delete(key);
          }
        };
      },
      stats() {
        return { in_flight_keys: inFlight.size };
      },
    };
  },
};
