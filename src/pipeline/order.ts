/**
 * The pipeline's one ordered line (CONFIG.md "The pipeline"). Every stage has a place on
 * it: a built-in feature its module's number, the n-th interceptor of a router
 * `INTERCEPTORS + n`, a user hook its `priority` (default `HOOK_DEFAULT`). Request-side
 * handlers run in ascending order, response-side handlers in descending order, and
 * `wrapCall`s nest in it (the lowest is outermost). Equal numbers keep built-ins first,
 * then hooks in registration order.
 *
 * A reply made by a stage on the request side (a cache hit, a 429, a block) walks the
 * response side of the stages placed before it: the stages after it never saw the
 * request, so they never see its answer either (the onion of every middleware stack).
 */
export const STAGE_ORDER = Object.freeze({
  /** Streamed completions ask for usage; first, so every answer's extra usage event is hidden on the way out. */
  stream_usage: 10,
  /** Early, so a refused request is logged with the answer it got. */
  payload_log: 50,
  /** Who the caller is (tenancy keys, an authentication hook). */
  authenticate: 100,
  rate_limit: 200,
  budget: 300,
  cache: 400,
  /** Just inside the cache: sees the answers it stores, then warms it with follow-ups. */
  response_prefetch: 405,
  semantic_cache: 420,
  request_coalescing: 450,
  /**
   * Request shaping features that act on what the model sees, in this order: loss-free
   * shrinking first, then a summary of old turns, then the hard token limit last.
   */
  request_transforms: 460,
  token_optimization: 460,
  context_compression: 465,
  context_trimming: 470,
  /**
   * Reads answers as the client gets them from the upstream side (after the interceptors'
   * edits, before the caches store them), so only answers the upstream made are counted.
   */
  response_fingerprinting: 480,
  /** Semantic memory: what earlier turns said, injected before the call; statements stored after. */
  semantic_memory: 490,
  /** The first interceptor of a router's list; the n-th is at `interceptors + n`. */
  interceptors: 500,
  /** The most interceptors a router may list (they fit between 500 and 600). */
  max_interceptors: 99,
  /** Target selection (`filterTargets`): cost_aware_routing reorders the candidates here. */
  target_selection: 600,
  /**
   * Outside fallback and retry: a check that repairs the request between its tries
   * (structured_output appends the validation errors and asks again), each try with the
   * full fallback and retry chain inside it.
   */
  structured_output: 650,
  /**
   * The MCP tool loop: each model call it makes (one per round) gets the whole fallback,
   * hedging and retry chain inside it; inside structured_output, which so checks only the
   * final answer, never a round that calls tools.
   */
  mcp_tools: 680,
  fallback: 700,
  hedging: 750,
  retry: 800,
  /**
   * Inside retry and fallback: an answer that fails a check (quality_gate) is a failed
   * try, retried and then moved to the next target like a 5xx, with no `on:` entry.
   */
  quality_gate: 850,
  timeout: 900,
  /** Innermost, so its wrapCall sees the outcome of every single try. */
  health_check: 950,
  /**
   * Per try, once the target is known: provider prompt-cache marks depend on the target's
   * API (Anthropic `cache_control`, OpenAI `prompt_cache_key`), so they are set on each try.
   */
  prompt_caching: 960,
  /** Where a user hook without a `priority` goes: after every built-in stage. */
  hook_default: 1000,
});
