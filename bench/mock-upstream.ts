/**
 * The bench's upstream: an OpenAI-shaped chat endpoint that costs as little as possible, so
 * that the load generator and the mock together leave the proxy under test the bottleneck
 * (the bench checks it: the mock reached directly must answer at least 3× what the bare
 * proxy does). It speaks just enough HTTP/1.1 on a raw TCP socket (keep-alive,
 * content-length and chunked request bodies) and writes precomputed bytes:
 *  - a chat completion as JSON for any request (an Anthropic message for `POST /v1/messages`), or
 *  - for a body with `"stream":true`, an SSE stream of `BENCH_STREAM_EVENTS` events (50),
 *    the first at once and each next one on its own turn of the event loop, so that a proxy
 *    sees them as separate chunks, as it would from a real model.
 * `BENCH_LATENCY_MS` delays every answer (default 0).
 *
 * Started by bench/run.ts as a child process (plain node, no loader): it listens on a free
 * loopback port, sends `{ port }` over IPC and exits when the parent goes away.
 */
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

const latencyMs = Number(process.env.BENCH_LATENCY_MS ?? 0);
const streamEvents = Math.max(3, Number(process.env.BENCH_STREAM_EVENTS ?? 50));
/** Larger request heads are refused (the bench never sends one). */
const MAX_HEAD = 16 * 1024;

const COMPLETION = JSON.stringify({
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
});
const COMPLETION_RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n' +
    `content-length: ${Buffer.byteLength(COMPLETION)}\r\nx-request-id: req_bench\r\n\r\n${COMPLETION}`,
);

/** What an Anthropic upstream answers to `POST /v1/messages` (the bench's translated route). */
const MESSAGE = JSON.stringify({
  id: 'msg_bench',
  type: 'message',
  role: 'assistant',
  model: 'claude-haiku-4-5-20251001',
  content: [{ type: 'text', text: 'Hello! How can I help you today?' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 24, output_tokens: 9, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
});
const MESSAGE_RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n' +
    `content-length: ${Buffer.byteLength(MESSAGE)}\r\nrequest-id: req_bench\r\n\r\n${MESSAGE}`,
);

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

/** One HTTP/1.1 chunk of a chunked response body. */
const asChunk = (text: string): Buffer => Buffer.from(`${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`);

const STREAM_HEAD = Buffer.from(
  'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n' +
    'x-request-id: req_bench\r\ntransfer-encoding: chunked\r\n\r\n',
);
/** The first event goes with the head; then the words, a finish event, usage and [DONE]. */
const STREAM_EVENTS: Buffer[] = [
  Buffer.concat([STREAM_HEAD, asChunk(sseEvent({ role: 'assistant', content: '' }, null))]),
  ...Array.from({ length: streamEvents - 3 }, (_, i) => asChunk(sseEvent({ content: i === 0 ? 'Hello' : ` w${i}` }, null))),
  asChunk(sseEvent({}, 'stop')),
  Buffer.concat([
    asChunk(sseEvent({}, null, { prompt_tokens: 24, completion_tokens: streamEvents - 3, total_tokens: 24 + streamEvents - 3 })),
    asChunk('data: [DONE]\n\n'),
    Buffer.from('0\r\n\r\n'),
  ]),
];
const STREAM_MARK = Buffer.from('"stream":true');
const HEAD_END = Buffer.from('\r\n\r\n');

function sendStream(socket: Socket, i = 0): void {
  if (socket.destroyed) return;
  socket.write(STREAM_EVENTS[i]!);
  if (i + 1 < STREAM_EVENTS.length) setImmediate(sendStream, socket, i + 1);
}

function answer(socket: Socket, stream: boolean, messages: boolean): void {
  if (socket.destroyed) return;
  if (stream) sendStream(socket);
  else socket.write(messages ? MESSAGE_RESPONSE : COMPLETION_RESPONSE);
}

/** Per connection: parses request heads, skips their bodies, answers each request in turn. */
function serve(socket: Socket): void {
  socket.setNoDelay(true);
  let buffered: Buffer | null = null;
  /** Body bytes still to skip (content-length), or -1 for a chunked body, or 0 between requests. */
  let bodyLeft = 0;
  let chunked = false;
  let stream = false;
  /** The request is Anthropic's `POST /v1/messages`. */
  let messages = false;

  const finishRequest = (): void => {
    if (latencyMs > 0) setTimeout(answer, latencyMs, socket, stream, messages);
    else answer(socket, stream, messages);
    stream = false;
    messages = false;
  };

  socket.on('data', (data: Buffer) => {
    let buf: Buffer = buffered ? Buffer.concat([buffered, data]) : data;
    buffered = null;
    while (buf.length > 0) {
      if (bodyLeft > 0) {
        const take = Math.min(bodyLeft, buf.length);
        if (!stream && buf.subarray(0, take).includes(STREAM_MARK)) stream = true;
        bodyLeft -= take;
        buf = buf.subarray(take);
        if (bodyLeft === 0) finishRequest();
        continue;
      }
      if (chunked) {
        // Chunk size line, then data; a zero-size chunk (and its blank line) ends the body.
        const eol = buf.indexOf('\r\n');
        if (eol < 0) break;
        const size = parseInt(buf.subarray(0, eol).toString('latin1'), 16);
        if (size === 0) {
          if (buf.length < eol + 4) break;
          buf = buf.subarray(eol + 4);
          chunked = false;
          finishRequest();
          continue;
        }
        if (buf.length < eol + 2 + size + 2) break;
        if (!stream && buf.subarray(eol + 2, eol + 2 + size).includes(STREAM_MARK)) stream = true;
        buf = buf.subarray(eol + 2 + size + 2);
        continue;
      }
      const end = buf.indexOf(HEAD_END);
      if (end < 0) {
        if (buf.length > MAX_HEAD) return void socket.destroy();
        break;
      }
      const head = buf.subarray(0, end).toString('latin1').toLowerCase();
      messages = head.startsWith('post /v1/messages');
      buf = buf.subarray(end + 4);
      const length = /\r\ncontent-length: *(\d+)/.exec(head);
      if (length) bodyLeft = Number(length[1]);
      else chunked = /\r\ntransfer-encoding: *chunked/.test(head);
      if (bodyLeft === 0 && !chunked) finishRequest();
    }
    if (buf.length > 0) buffered = Buffer.from(buf);
  });
  socket.on('error', () => socket.destroy());
}

const server = createServer(serve);
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
