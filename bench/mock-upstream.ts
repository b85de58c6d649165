/**
 * The bench's upstream: an OpenAI-shaped chat endpoint that costs as little as possible.
 * Every answer is precomputed: a chat completion as JSON, or (for `"stream":true`) an SSE
 * stream whose first event is sent at once and the rest `BENCH_STREAM_GAP_MS` later, so a
 * client can time the first chunk. `BENCH_LATENCY_MS` delays every answer (default 0).
 *
 * Started by bench/run.ts as a child process (plain node, no loader): it listens on a free
 * loopback port, sends `{ port }` over IPC and exits when the parent goes away.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const latencyMs = Number(process.env.BENCH_LATENCY_MS ?? 0);
const streamGapMs = Number(process.env.BENCH_STREAM_GAP_MS ?? 2);

const COMPLETION = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1700000000,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello! How can I help you today?', refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 24, completion_tokens: 9, total_tokens: 33 },
    system_fingerprint: 'fp_bench',
  }),
);
const COMPLETION_HEADERS = { 'content-type': 'application/json', 'content-length': COMPLETION.length, 'x-request-id': 'req_bench' };

function sseEvent(delta: Record<string, unknown>, finish: string | null, usage: unknown = null): string {
  const chunk = {
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'gpt-4o-mini-2024-07-18',
    choices: usage ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(usage ? { usage } : {}),
  };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

const WORDS = ['Hello', '!', ' How', ' can', ' I', ' help', ' you', ' today', '?'];
const STREAM_FIRST = Buffer.from(sseEvent({ role: 'assistant', content: '' }, null));
const STREAM_REST = Buffer.from(
  WORDS.map((w) => sseEvent({ content: w }, null)).join('') +
    sseEvent({}, 'stop') +
    sseEvent({}, null, { prompt_tokens: 24, completion_tokens: 9, total_tokens: 33 }) +
    'data: [DONE]\n\n',
);
const STREAM_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': 'req_bench' };
const STREAM_MARK = Buffer.from('"stream":true');

function answer(res: ServerResponse, stream: boolean): void {
  if (!stream) {
    res.writeHead(200, COMPLETION_HEADERS);
    res.end(COMPLETION);
    return;
  }
  res.writeHead(200, STREAM_HEADERS);
  res.write(STREAM_FIRST);
  setTimeout(() => res.end(STREAM_REST), streamGapMs);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  let stream = false;
  req.on('data', (chunk: Buffer) => {
    if (!stream && chunk.includes(STREAM_MARK)) stream = true;
  });
  req.on('end', () => {
    if (latencyMs > 0) setTimeout(answer, latencyMs, res, stream);
    else answer(res, stream);
  });
}

const server = createServer({ keepAliveTimeout: 65_000 }, handle);
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
