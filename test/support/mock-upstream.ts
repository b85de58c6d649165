import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';

/** One request as the mock upstream received it. */
export interface Received {
  readonly n: number;
  /** performance.now() when the request's head arrived. */
  readonly at: number;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
  /** Resolves when the gateway closed this request's connection before the answer ended. */
  readonly aborted: Promise<void>;
  json(): any;
}

/** What the mock does with one request; `n` counts from 1. */
export type Step = (req: Received, res: ServerResponse) => void | Promise<void>;

/** A port that was free a moment ago: nothing listens there (a dead upstream). */
export async function deadPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Checks `condition` until it holds, for state that changes on a timer (health probes):
 * at most `tries` checks, `everyMs` apart; throws with `what` if it never holds.
 */
export async function eventually(what: string, condition: () => Promise<boolean> | boolean, tries = 100, everyMs = 20): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await condition()) return;
    await sleep(everyMs);
  }
  throw new Error(`never happened: ${what}`);
}

/** A chat completion in OpenAI's shape, naming the model it was asked for. */
export function chatCompletion(model: string, content = 'hello from upstream', usage = { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 }) {
  return {
    id: 'chatcmpl-upstream',
    object: 'chat.completion',
    created: 1700000000,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage,
  };
}

export function chunk(model: string, content: string | null, finish: string | null = null) {
  return {
    id: 'chatcmpl-upstream',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model,
    choices: [{ index: 0, delta: content === null ? {} : { content }, logprobs: null, finish_reason: finish }],
  };
}

/** Steps for common scripts. */
export const steps = {
  json(status: number, body: unknown, headers: Record<string, string> = {}): Step {
    return (_req, res) => {
      const bytes = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(bytes), ...headers });
      res.end(bytes);
    };
  },
  /** Answers a chat request with a completion naming the model it received. */
  chat(content = 'hello from upstream'): Step {
    return (req, res) => steps.json(200, chatCompletion(req.json().model, content))(req, res);
  },
  /** An SSE stream of `events` (objects are JSON-encoded), `gapMs` apart, then [DONE]. */
  sse(events: unknown[], gapMs = 0, done = true): Step {
    return async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const e of events) {
        res.write(`data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`);
        if (gapMs) await sleep(gapMs);
      }
      if (done) res.write('data: [DONE]\n\n');
      res.end();
    };
  },
  /** Sends `events`, then resets the connection mid-stream. */
  sseThenReset(events: unknown[]): Step {
    return async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const e of events) res.write(`data: ${JSON.stringify(e)}\n\n`);
      await sleep(20);
      res.socket?.resetAndDestroy();
    };
  },
  /** The default: a chat completion for chat, a model list for GET /v1/models, else `{}`. */
  auto(): Step {
    return (req, res) => {
      if (req.url.startsWith('/v1/chat/completions') || req.url.endsWith('/chat/completions')) return steps.chat()(req, res);
      if (req.method === 'GET' && req.url.startsWith('/v1/models')) {
        return steps.json(200, { object: 'list', data: [{ id: 'gpt-4o', object: 'model', created: 1, owned_by: 'openai' }] })(req, res);
      }
      return steps.json(200, {})(req, res);
    };
  },
  /** Never answers (until the connection is closed by the other side). */
  hang(): Step {
    return () => new Promise<void>(() => {});
  },
  /** Answers after `ms` with `then`. */
  delay(ms: number, then: Step): Step {
    return async (req, res) => {
      await sleep(ms);
      if (!res.destroyed) await then(req, res);
    };
  },
};

/**
 * A real HTTP server on port 0 standing in for a provider. Each request takes the next
 * scripted step; when the script is used up, `fallback` answers.
 */
export class MockUpstream {
  readonly received: Received[] = [];
  private queue: Step[] = [];
  private sockets = new Set<Socket>();
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
    public fallback: Step,
  ) {}

  static async start(fallback: Step = steps.auto()): Promise<MockUpstream> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const mock = new MockUpstream(server, `http://127.0.0.1:${port}`, fallback);
    server.on('connection', (socket) => {
      mock.sockets.add(socket);
      socket.once('close', () => mock.sockets.delete(socket));
    });
    server.on('request', (req, res) => void mock.handle(req, res));
    return mock;
  }

  /** Queues steps for the next requests, in order. */
  script(...next: Step[]): this {
    this.queue.push(...next);
    return this;
  }

  /** Resolves once `count` requests have arrived. */
  waitFor(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = performance.now();
    const chunks: Buffer[] = [];
    let cut = false;
    try {
      for await (const c of req) chunks.push(c as Buffer);
    } catch {
      cut = true; // the gateway aborted the upload: recorded with what arrived, never answered
    }
    const body = Buffer.concat(chunks);
    const aborted = new Promise<void>((resolve) => {
      res.once('close', () => {
        if (!res.writableFinished) resolve();
      });
    });
    const received: Received = {
      n: this.received.length + 1,
      at,
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      body,
      aborted,
      json: () => JSON.parse(body.toString('utf8')),
    };
    this.received.push(received);
    this.waiters = this.waiters.filter((w) => (this.received.length >= w.count ? (w.resolve(), false) : true));
    if (cut) return;
    const step = this.queue.shift() ?? this.fallback;
    try {
      await step(received, res);
    } catch {
      res.destroy();
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
