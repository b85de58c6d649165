/**
 * What a client gets when Node's HTTP parser or its timers refuse a connection before the
 * gateway sees a request: 431 for a request head over the size limit, 408 for a request
 * that took longer than `server.timeouts`, 400 for anything else malformed. These answers
 * are written on the raw socket (there is no response object yet), in the OpenAI error
 * format, and always close the connection.
 */
import type { Duplex } from 'node:stream';

const ANSWERS: Record<string, readonly [number, string, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'request_header_too_large', 'The request line and headers are larger than the gateway accepts (16 KB).'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'request_timeout', 'The request was not received in time (server.timeouts).'],
  HPE_HEADERS_TIMEOUT: [408, 'Request Timeout', 'request_timeout', 'The request headers were not received in time (server.timeouts.headers).'],
};
const BAD_REQUEST = [400, 'Bad Request', 'invalid_request', 'The request is not valid HTTP.'] as const;

function answer(status: number, reason: string, code: string, message: string): string {
  const body = JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code } });
  return (
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** The data plane's `clientError` listener. */
export function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const pending = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || pending?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] = ANSWERS[err.code ?? ''] ?? BAD_REQUEST;
  socket.end(answer(status, reason, code, message));
}

export interface RequestTimeouts {
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

/**
 * Node's request timers from `server.timeouts`: `headersTimeout` for the head, and
 * `requestTimeout` (head and body) = headers + body. Node checks them every
 * `connectionsCheckingInterval`, which is set at creation: a quarter of the shorter one,
 * between 50 ms and 1 s, so a request is cut within 25% of its limit.
 */
export function timeoutOptions(t: RequestTimeouts): { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number } {
  return {
    headersTimeout: t.headersTimeoutMs,
    requestTimeout: t.headersTimeoutMs + t.bodyTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(Math.min(t.headersTimeoutMs, t.bodyTimeoutMs) / 4))),
  };
}
