/** Anthropic `stop_reason` → OpenAI `finish_reason`. */
const TO_OPENAI: Readonly<Record<string, string>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

/** OpenAI `finish_reason` → Anthropic `stop_reason`. */
const TO_ANTHROPIC: Readonly<Record<string, string>> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

export function finishReasonOf(stopReason: unknown): string {
  return (typeof stopReason === 'string' && TO_OPENAI[stopReason]) || 'stop';
}

export function stopReasonOf(finishReason: unknown): string {
  return (typeof finishReason === 'string' && TO_ANTHROPIC[finishReason]) || 'end_turn';
}
