/**
 * What the text detectors share (PII patterns, content categories, prompt-guard signals):
 * a detection is a span of text with its category and what `redact` writes instead, and
 * a detector lists them sorted and never overlapping.
 */
import type { Span } from './text-window.js';

/** A stretch of text a detector found: its category and what `redact` writes instead. */
export interface Detection extends Span {
  readonly category: string;
}

/** Finds what an interceptor looks for in one text: sorted by start, never overlapping (see `settle`). */
export type Detector = (text: string) => Detection[];

/** Calls `found` with every non-empty match of the global regex `re` in `text`. */
export function eachMatch(re: RegExp, text: string, found: (m: RegExpExecArray) => void): void {
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0].length === 0) re.lastIndex++;
    else found(m);
  }
}

/** Sorts detections and drops those that overlap an earlier (or, at the same start, a longer) one. */
export function settle(found: Detection[]): Detection[] {
  if (found.length < 2) return found;
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Detection[] = [];
  let end = -1;
  for (const d of found) {
    if (d.start < end) continue;
    out.push(d);
    end = d.end;
  }
  return out;
}
