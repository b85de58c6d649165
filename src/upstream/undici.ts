/**
 * undici's dispatchers and its `request()`, each required from its own file when first
 * used (at compile time). undici's index also loads fetch, WebSocket, EventSource, the
 * caches and the mocks: 110 modules against 24 for a pool, an agent and `request`, which
 * is most of undici's share of a start and several MB of a sidecar's memory. The index is
 * what adds `request()` to every dispatcher; without it, `dispatchRequest` calls the same
 * function on one. A test checks that these are the very ones undici exports.
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';
import type { Dispatcher } from 'undici';

const require = createRequire(import.meta.url);

export const undiciPool = (): typeof Undici.Pool => require('undici/lib/dispatcher/pool.js') as typeof Undici.Pool;
/** The proxy agent tunnels with the `connect()` that undici's index adds to dispatchers: it needs the index (only an upstream with `proxy:` loads it). */
export const undiciProxyAgent = (): typeof Undici.ProxyAgent => (require('undici') as typeof Undici).ProxyAgent;
export const undiciAgent = (): typeof Undici.Agent => require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;

type Callback = (err: Error | null, data: Dispatcher.ResponseData) => void;

/** The legacy handler interface of undici's `request()` (lib/api/api-request.js), as far as a subclass uses it. */
interface RequestHandler {
  abort: ((err: Error) => void) | null;
  onConnect(abort: (err: Error) => void, context: unknown): void;
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage: string): void;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: Buffer[] | null): void;
  onError(err: Error): void;
}
type RequestHandlerClass = new (opts: Dispatcher.RequestOptions, callback: Callback) => RequestHandler;

interface TimeoutErrors {
  HeadersTimeoutError: new () => Error;
  BodyTimeoutError: new () => Error;
}

/** Both limits are in milliseconds; 0 is none. */
type TimedHandlerClass = new (opts: Dispatcher.RequestOptions, callback: Callback, headersMs: number, bodyMs: number) => RequestHandler;
let TimedHandler: TimedHandlerClass | undefined;

/**
 * undici's `request()` handler with its headers and body timeouts on Node's own timers.
 * undici's parser makes a new timer of its own wheel for every request (its keep-alive
 * timer in between is a native one), and a cleared one leaves the wheel only on its next
 * 500 ms tick: at a few thousand requests a second each of them outlives two scavenges and
 * is promoted, which is most of what a proxied request leaves in the old generation (and
 * the sidecar's RSS sawtooth). A native timer is unlinked when cleared and dies young.
 * Same meaning as undici's: the headers limit runs from the moment the request is written
 * (1xx answers restart it), the body limit is the longest gap between chunks; past one,
 * the request is aborted with undici's own error (its `code` is what callers classify),
 * and the connection is closed.
 */
function timedHandler(): TimedHandlerClass {
  if (TimedHandler) return TimedHandler;
  const { RequestHandler } = require('undici/lib/api/api-request.js') as { RequestHandler: RequestHandlerClass };
  const errors = require('undici/lib/core/errors.js') as TimeoutErrors;
  const expire = (handler: Timed): void => {
    handler.timer = null;
    handler.abort?.(handler.waitingForHeaders ? new errors.HeadersTimeoutError() : new errors.BodyTimeoutError());
  };
  class Timed extends RequestHandler {
    timer: NodeJS.Timeout | null = null;
    waitingForHeaders = true;
    constructor(
      opts: Dispatcher.RequestOptions,
      callback: Callback,
      private readonly headersMs: number,
      private readonly bodyMs: number,
    ) {
      super(opts, callback);
    }

    private stop(): void {
      if (this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
      }
    }

    override onConnect(abort: (err: Error) => void, context: unknown): void {
      super.onConnect(abort, context);
      this.stop();
      if (this.abort !== null && this.headersMs > 0) this.timer = setTimeout(expire, this.headersMs, this).unref();
    }

    override onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusMessage: string): void {
      if (statusCode < 200) {
        this.timer?.refresh();
      } else {
        this.waitingForHeaders = false;
        // The usual case, one limit for both (an upstream's `timeout`): the same timer goes on.
        if (this.timer !== null && this.bodyMs === this.headersMs) {
          this.timer.refresh();
        } else {
          this.stop();
          if (this.bodyMs > 0) this.timer = setTimeout(expire, this.bodyMs, this).unref();
        }
      }
      super.onHeaders(statusCode, rawHeaders, resume, statusMessage);
    }

    override onData(chunk: Buffer): boolean {
      this.timer?.refresh();
      return super.onData(chunk);
    }

    override onComplete(trailers: Buffer[] | null): void {
      this.stop();
      super.onComplete(trailers);
    }

    override onError(err: Error): void {
      this.stop();
      super.onError(err);
    }
  }
  TimedHandler = Timed;
  return Timed;
}

/**
 * `dispatcher.request(options)`, as undici's index defines it, except that `headersTimeout`
 * and `bodyTimeout` (when given) run on native timers (see `timedHandler`); undici's own
 * are then off for the request. `options` is the caller's own object for this call: the two
 * fields are set to 0 in it.
 */
export function dispatchRequest(dispatcher: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  const Handler = timedHandler();
  const headersMs = options.headersTimeout ?? 0;
  const bodyMs = options.bodyTimeout ?? 0;
  if (options.headersTimeout != null) options.headersTimeout = 0;
  if (options.bodyTimeout != null) options.bodyTimeout = 0;
  return new Promise((resolve, reject) => {
    const handler = new Handler(options, (err, data) => (err ? reject(err) : resolve(data)), headersMs, bodyMs);
    dispatcher.dispatch(options, handler as unknown as Dispatcher.DispatchHandler);
  });
}
