/**
 * A request's abort switch. A real AbortController costs several microseconds per request
 * (EventTarget machinery), and every request needs one so that a client that leaves
 * aborts its upstream call. undici accepts any emitter with `aborted`, `reason` and an
 * `abort` event, so the request path uses this small one, and a standard AbortSignal is
 * made only when something needs one (timers, AbortSignal.any).
 */
export class RequestAbort {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Array<() => void> | null = null;
  private standard: AbortController | null = null;

  on(_event: 'abort', listener: () => void): this {
    (this.listeners ??= []).push(listener);
    return this;
  }

  /** An abort happens once, so every listener is a once-listener. */
  once(event: 'abort', listener: () => void): this {
    return this.on(event, listener);
  }

  removeListener(_event: 'abort', listener: () => void): this {
    const list = this.listeners;
    if (list) {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    }
    return this;
  }

  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const list = this.listeners;
    this.listeners = null;
    if (list) for (const listener of list) listener();
    this.standard?.abort(reason);
  }

  /** A standard AbortSignal that aborts with this one, made on first use. */
  get signal(): AbortSignal {
    if (!this.standard) {
      this.standard = new AbortController();
      if (this.aborted) this.standard.abort(this.reason);
    }
    return this.standard.signal;
  }
}

/** What an attempt may carry: the request's light switch, or a standard signal. */
export type AbortLike = RequestAbort | AbortSignal;

/** A standard AbortSignal for APIs that need one (timers/promises, AbortSignal.any). */
export function standardSignal(signal: AbortLike): AbortSignal {
  return signal instanceof RequestAbort ? signal.signal : signal;
}

/** A light switch that aborts when `parent` does, and can also be aborted on its own. */
export function linkedAbort(parent: AbortLike): RequestAbort {
  const child = new RequestAbort();
  if (parent.aborted) child.abort(parent.reason);
  else if (parent instanceof RequestAbort) parent.once('abort', () => child.abort(parent.reason));
  else parent.addEventListener('abort', () => child.abort(parent.reason), { once: true });
  return child;
}
