import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request the gateway sends through its own pipeline, in process (no socket, no port). */
export interface InjectRequest {
  readonly method?: 'GET' | 'POST' | 'DELETE';
  /** `/v1/...` or `/router/{name}/v1/...`. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as JSON when an object. */
  readonly body?: unknown;
}

export interface InjectedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | number | undefined>>;
  readonly body: Buffer;
  json<T = unknown>(): T;
}

export type Inject = (request: InjectRequest) => Promise<InjectedResponse>;

/** How deep requests may nest (a summary router whose own features inject again…). */
export const MAX_INJECT_DEPTH = 3;
/** Carries the nesting depth of an injected request. */
export const INJECT_DEPTH_HEADER = 'x-sidegate-inject-depth';

/**
 * Runs requests through a Node request handler in process, the way a client's request
 * runs: the same routing, stages and response side. Used by features that ask a router
 * for something (summaries, cache warming) and by the offline evaluator. The whole answer
 * is collected (streams too). The engine (light-my-request) is imported on first use; the
 * features that inject import it with their own module (inject-engine.ts), so it is loaded
 * at compile time, never by a request, and a config without them never loads it.
 */
export function injector(handler: (req: IncomingMessage, res: ServerResponse) => void): Inject {
  return async (request) => {
    const depth = Number(request.headers?.[INJECT_DEPTH_HEADER] ?? 0);
    if (depth >= MAX_INJECT_DEPTH) throw new Error(`requests the gateway sends to itself nest at most ${MAX_INJECT_DEPTH} deep`);
    const payload = request.body === undefined ? undefined : typeof request.body === 'string' || Buffer.isBuffer(request.body) ? request.body : JSON.stringify(request.body);
    const { injectRequest } = await import('./inject-engine.js');
    const response = await injectRequest(handler as never, {
      method: request.method ?? (payload === undefined ? 'GET' : 'POST'),
      url: request.url,
      headers: { ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...request.headers, [INJECT_DEPTH_HEADER]: String(depth + 1) },
      payload,
      remoteAddress: '127.0.0.1',
    });
    const body = response.rawPayload;
    return {
      status: response.statusCode,
      headers: response.headers,
      body,
      json: <T>() => JSON.parse(body.toString('utf8')) as T,
    };
  };
}
