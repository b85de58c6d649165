/**
 * The bench's cases: a config from bench/configs/ and the requests sent to it. Each is
 * measured against the bare proxy in alternating rounds. A config that `sidegate validate`
 * rejects is skipped with the reason (that is how a case waits for the features it needs).
 */
import { SMALL, shapeOf, type Shape } from './shape.js';

export interface CaseSpec {
  name: string;
  /** A file in bench/configs/. */
  config: string;
  shape: Shape;
  /** CPU per request: the least bare µs ÷ sidegate µs allowed. */
  cpuTarget?: number;
  /** Also time one request at a time (p50/p99 at one connection). */
  oneConnection?: boolean;
  /** Also time the first SSE chunk (one streaming request at a time). */
  firstChunk?: boolean;
}

export const LARGE_PROMPT_BYTES = 100 * 1024;

export const CASES: readonly CaseSpec[] = [
  { name: 'minimal', config: 'minimal.yaml', shape: SMALL, cpuTarget: 0.95, oneConnection: true },
  { name: 'default', config: 'default.yaml', shape: SMALL, cpuTarget: 0.85, oneConnection: true },
  { name: 'default_total', config: 'default_total.yaml', shape: SMALL, cpuTarget: 0.85, oneConnection: true },
  // Varied bodies: nothing is cached or coalesced, so every feature does its whole work.
  // Every other request names the translated route (OpenAI in, Anthropic out).
  { name: 'full', config: 'full.yaml', shape: shapeOf({ vary: true, models: ['gpt-4o-mini', 'translated'] }), cpuTarget: 0.6 },
  { name: 'cache_hit', config: 'cache_hit.yaml', shape: SMALL, cpuTarget: 2.0, oneConnection: true },
  // The same request again and again, with only the semantic cache: each one is embedded and matched.
  { name: 'semantic_hit', config: 'semantic_hit.yaml', shape: SMALL, oneConnection: true },
  // Every request translated: OpenAI chat in, Anthropic Messages to the upstream, and back.
  { name: 'translated', config: 'translated.yaml', shape: SMALL },
  // `default` with OpenTelemetry exporting every request's spans.
  { name: 'default_otel', config: 'default_otel.yaml', shape: SMALL },
  { name: 'streaming', config: 'default.yaml', shape: shapeOf({ stream: true }), firstChunk: true },
  { name: 'large_prompt', config: 'default.yaml', shape: shapeOf({ bodyBytes: LARGE_PROMPT_BYTES }) },
];
