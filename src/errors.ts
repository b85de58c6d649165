/**
 * The one error type of the gateway. Anything the gateway itself refuses or fails is a
 * GatewayError with a stable `code`; only the server turns it into bytes, always in the
 * OpenAI error format: {"error":{"message","type","param","code"}}.
 */

export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  /** OpenAI's 429 types: which rate limit was hit, and a spend cap. */
  | 'requests'
  | 'tokens'
  | 'insufficient_quota'
  | 'timeout_error'
  | 'api_error';

interface CodeSpec {
  readonly status: number;
  readonly type: OpenAIErrorType;
}

/** Every code the gateway can emit, with its HTTP status and OpenAI error type. */
export const ERROR_CODES = {
  invalid_json: { status: 400, type: 'invalid_request_error' },
  invalid_request: { status: 400, type: 'invalid_request_error' },
  request_too_large: { status: 413, type: 'invalid_request_error' },
  /** No known, enabled, unexpired gateway key (tenancy): the same answer whatever the reason. */
  invalid_api_key: { status: 401, type: 'invalid_request_error' },
  /** The key may not use the router it asked for. */
  router_not_allowed: { status: 403, type: 'permission_error' },
  not_found: { status: 404, type: 'not_found_error' },
  router_not_found: { status: 404, type: 'invalid_request_error' },
  model_not_found: { status: 404, type: 'invalid_request_error' },
  upstream_connect_error: { status: 502, type: 'api_error' },
  upstream_error: { status: 502, type: 'api_error' },
  upstream_timeout: { status: 504, type: 'timeout_error' },
  stream_error: { status: 502, type: 'api_error' },
  unavailable: { status: 503, type: 'api_error' },
  /** A rate_limit feature refused the request; the type says which limit (`requests` or `tokens`). */
  rate_limit_exceeded: { status: 429, type: 'requests' },
  /** A budget feature's spend for the period is used up. */
  budget_exceeded: { status: 429, type: 'insufficient_quota' },
  /** structured_output: the answer never matched its JSON Schema within `attempts` tries. */
  invalid_structured_output: { status: 422, type: 'invalid_request_error' },
  /** quality_gate: every try's answer failed a check (a retryable failure until the last). */
  answer_rejected: { status: 502, type: 'api_error' },
  /** context_trimming: even the system prompt and the last user turn do not fit. */
  context_length_exceeded: { status: 400, type: 'invalid_request_error' },
  /** An interceptor blocked the request or the answer; the message names the interceptor and the category, never the content. */
  content_blocked: { status: 400, type: 'invalid_request_error' },
  internal_error: { status: 500, type: 'api_error' },
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface GatewayErrorOptions {
  param?: string | null;
  cause?: unknown;
  /** Extra response headers, e.g. Retry-After on a 429. */
  headers?: Record<string, string>;
  /** Overrides the code's OpenAI error type (a 429 says `requests` or `tokens`). */
  type?: OpenAIErrorType;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: OpenAIErrorType;
  readonly param: string | null;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.type = options.type ?? ERROR_CODES[code].type;
    this.param = options.param ?? null;
    this.headers = options.headers;
  }

  /** The OpenAI-format body, as the client sees it. */
  toJSON(): { error: { message: string; type: string; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** What kind of failure an upstream try ended in, as `retry.on` / `fallback.on` name them. */
export type FailureKind = 'connect_error' | 'timeout' | 'aborted' | 'rejected' | 'error';

export function failureKind(err: unknown): FailureKind {
  if (err instanceof GatewayError) {
    if (err.code === 'upstream_connect_error') return 'connect_error';
    if (err.code === 'upstream_timeout') return 'timeout';
    if (err.code === 'answer_rejected') return 'rejected';
    return 'error';
  }
  const { code, name } = (err ?? {}) as { code?: string; name?: string };
  switch (code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'UND_ERR_CONNECT_TIMEOUT':
    // A connection closed before any response byte: nothing was answered, like a refusal.
    // (Errors after the response head come from its body, which is not classified here.)
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return 'connect_error';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'timeout';
    case 'UND_ERR_ABORTED':
    case 'ABORT_ERR':
      return 'aborted';
  }
  return name === 'AbortError' ? 'aborted' : 'error';
}

const RESETS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/**
 * Classifies a failure of an upstream call by undici's stable `err.code` (never by
 * `instanceof`, which breaks across undici copies).
 */
export function upstreamFailure(err: unknown, upstream: string): GatewayError {
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: string } | null)?.code ?? '';
  switch (failureKind(err)) {
    case 'connect_error':
      return new GatewayError(
        'upstream_connect_error',
        RESETS.has(code) ? `upstream "${upstream}" closed the connection before answering (${code})` : `could not connect to upstream "${upstream}" (${code})`,
        { cause: err },
      );
    case 'timeout':
      return new GatewayError('upstream_timeout', `upstream "${upstream}" timed out (${code})`, { cause: err });
    default:
      return new GatewayError('upstream_error', `upstream "${upstream}" failed${code ? ` (${code})` : ''}`, { cause: err });
  }
}
