import type { GatewayError } from '../errors.js';
import type { EventText, TextPart } from './text.js';

/** The wire formats a caller may speak, and an upstream may: the inbound path decides the caller's. */
export type ApiFormat = 'openai' | 'anthropic';

/** A gateway error as one wire format renders it. */
export interface RenderedError {
  readonly status: number;
  readonly body: Buffer;
}

/**
 * What the gateway knows about one API's wire format: which endpoints carry a JSON body
 * (parsed once, routed by its `model`), and how a gateway-made error looks to a client
 * of that API, before a response started and as a stream's last event.
 */
export interface WireFormat {
  readonly name: ApiFormat;
  /** Paths (no query) whose POST body is JSON. */
  readonly jsonEndpoints: ReadonlySet<string>;
  renderError(error: GatewayError, requestId: string): RenderedError;
  /** The final SSE event of a stream that failed after it started. */
  errorEvent(error: GatewayError, requestId: string): Buffer;
  /** Every text of a parsed request body the model will read, with its role and a setter. */
  requestText(body: Record<string, unknown>): TextPart[];
  /** The texts of a parsed JSON answer, with setters. */
  answerText(body: unknown): TextPart[];
  /** The texts of one parsed stream event (its `data:` JSON): deltas of growing texts, and whole texts. */
  eventText(value: unknown): EventText;
  /**
   * Puts `text` first among the request's system instructions (a system message, the
   * Responses `instructions`, Anthropic's `system`); false when this kind of request has
   * no place for one (embeddings, completions).
   */
  addSystemText(body: Record<string, unknown>, text: string): boolean;
}
