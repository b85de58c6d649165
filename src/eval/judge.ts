/**
 * `expect.llm`: a named router grades the answer against a rubric. The judge is asked for
 * a JSON object `{"score": 0..1, "reason": "..."}`; the case passes when the score reaches
 * the threshold (default 0.7). An answer with no score fails the case and says so.
 */
import type { LlmExpectation } from './cases.js';

export const DEFAULT_JUDGE_THRESHOLD = 0.7;

const INSTRUCTIONS =
  'You grade an AI assistant\'s answer against a rubric. Reply with only a JSON object: ' +
  '{"score": <a number from 0 (fails the rubric) to 1 (fully meets it)>, "reason": "<one sentence>"}.';

/** The judge's request body. */
export function judgeRequest(llm: LlmExpectation, question: string, answer: string): Record<string, unknown> {
  return {
    model: llm.model ?? llm.router,
    temperature: 0,
    messages: [
      { role: 'system', content: INSTRUCTIONS },
      { role: 'user', content: `Rubric:\n${llm.rubric}\n\nThe user asked:\n${question}\n\nThe answer:\n${answer}` },
    ],
  };
}

export interface Verdict {
  readonly score: number;
  readonly reason: string;
}

/** The score in a judge's answer (the first JSON object in it), or null. */
export function parseVerdict(text: string): Verdict | null {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end < start) return null;
  let value: unknown;
  try {
    value = JSON.parse(text.slice(start, end + 1));
  } catch {
    return null;
  }
  const { score, reason } = (value ?? {}) as { score?: unknown; reason?: unknown };
  if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 1) return null;
  return { score, reason: typeof reason === 'string' ? reason : '' };
}
