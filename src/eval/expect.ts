/**
 * Checking one answer against a case's expectation. Every key of `expect` must hold;
 * the first that does not is the failure's reason. `llm` is judged separately (judge.ts).
 */
import type { CompiledCase } from './cases.js';

/** What the pipeline answered to a case. */
export interface Answer {
  readonly status: number;
  /** The answer's text: the message content (or the error message for an error). */
  readonly text: string;
  /** The upstream that answered (`x-sidegate-target`), or null. */
  readonly target: string | null;
  /** The `model` the answer names, or null. */
  readonly model: string | null;
}

const list = (value: string | readonly string[] | undefined): readonly string[] => (value === undefined ? [] : typeof value === 'string' ? [value] : value);

/** Shows at most this much of an answer in a failure's reason. */
const SHOWN = 160;

export function excerpt(text: string): string {
  return JSON.stringify(text.length > SHOWN ? `${text.slice(0, SHOWN - 3)}...` : text);
}

/** Null when every expectation but `llm` holds, else why not. */
export function checkAnswer(c: CompiledCase, answer: Answer): string | null {
  const e = c.expect;
  if (e.status !== undefined ? answer.status !== e.status : answer.status < 200 || answer.status > 299) {
    return `status ${answer.status}, expected ${e.status ?? '2xx'}; answer ${excerpt(answer.text)}`;
  }
  if (e.target !== undefined && answer.target !== e.target) return `answered by ${JSON.stringify(answer.target)}, expected ${JSON.stringify(e.target)}`;
  if (e.model !== undefined && answer.model !== e.model) return `the answer names model ${JSON.stringify(answer.model)}, expected ${JSON.stringify(e.model)}`;
  if (e.exact !== undefined && answer.text !== e.exact) return `expected exactly ${excerpt(e.exact)}; got ${excerpt(answer.text)}`;
  for (const needle of list(e.contains)) {
    if (!answer.text.includes(needle)) return `expected to contain ${JSON.stringify(needle)}; got ${excerpt(answer.text)}`;
  }
  for (const needle of list(e.not_contains)) {
    if (answer.text.includes(needle)) return `expected not to contain ${JSON.stringify(needle)}; got ${excerpt(answer.text)}`;
  }
  if (c.pattern && !c.pattern.test(answer.text)) return `expected to match /${c.pattern.source}/; got ${excerpt(answer.text)}`;
  if (c.schema) {
    let value: unknown;
    try {
      value = JSON.parse(answer.text);
    } catch {
      return `expected JSON; got ${excerpt(answer.text)}`;
    }
    if (!c.schema(value)) {
      const first = c.schema.errors?.[0];
      return `the JSON does not match the schema: ${first ? `${first.instancePath || '(root)'} ${first.message ?? first.keyword}` : 'invalid'}`;
    }
  }
  return null;
}
