import type { RequestContext } from '../pipeline/context.js';
import type { Detection, Detector } from '../pipeline/detections.js';
import type { SseEvent, Stage } from '../pipeline/stage.js';
import { applySpans, releaseSpans, TextWindow, type Release, type Span, type WindowScanner } from '../pipeline/text-window.js';
import type { TextPart, TextRole } from '../formats/text.js';
import { looksAtRequest, looksAtResponse, type Findings, type Side } from './kit.js';
import { requestTextOf } from '../pipeline/request-text.js';

export interface TextGuardOptions {
  readonly name: string;
  readonly side: Side;
  readonly action: 'block' | 'redact' | 'log';
  readonly detect: Detector;
  /** Chars of a streamed answer held back so a value split over deltas is seen whole. */
  readonly window: number;
  /** On the request, only texts of these roles are read; null: every role. */
  readonly requestRoles: ReadonlySet<TextRole> | null;
  readonly findings: Findings;
}

/**
 * A span-finding interceptor (PII, content terms): on the request it reads the texts the
 * model will see, on the response the answer (JSON, or a stream through a TextWindow),
 * and blocks, redacts or logs what `detect` finds.
 */
export class TextGuard implements Stage, WindowScanner {
  readonly name: string;
  readonly onRequest?: (ctx: RequestContext) => void;
  readonly onResponseBody?: (ctx: RequestContext, body: unknown) => unknown;
  readonly onChunk?: TextWindow['onChunk'];
  readonly onStreamEnd?: (ctx: RequestContext) => readonly SseEvent[];

  constructor(private readonly options: TextGuardOptions) {
    this.name = options.name;
    if (looksAtRequest(options.side)) this.onRequest = this.checkRequest;
    if (looksAtResponse(options.side)) {
      const window = new TextWindow(this);
      this.onResponseBody = this.checkAnswer;
      this.onChunk = window.onChunk.bind(window);
      this.onStreamEnd = window.onStreamEnd.bind(window);
    }
  }

  /** Handles the detections of one whole text; returns its new text when redacted. */
  private handle(ctx: RequestContext, part: TextPart, on: 'request' | 'response'): boolean {
    const found = this.options.detect(part.text);
    if (found.length === 0) return false;
    this.count(ctx, found, on);
    if (this.options.action !== 'redact') return false;
    part.set(applySpans(part.text, found));
    return true;
  }

  private count(ctx: RequestContext, found: readonly Detection[], on: 'request' | 'response'): void {
    const { action, findings } = this.options;
    if (action === 'block') {
      findings.record(ctx, action, found[0]!.category, on);
      throw findings.blocked(found[0]!.category, on);
    }
    for (const d of found) findings.record(ctx, action, d.category, on);
  }

  private checkRequest(ctx: RequestContext): void {
    if (ctx.body === undefined) return;
    const roles = this.options.requestRoles;
    let changed = false;
    for (const part of requestTextOf(ctx)) {
      if (roles !== null && !roles.has(part.role)) continue;
      if (this.handle(ctx, part, 'request')) changed = true;
    }
    if (changed) ctx.markBodyChanged();
  }

  private checkAnswer(ctx: RequestContext, body: unknown): unknown {
    let changed = false;
    for (const part of ctx.format.answerText(body)) if (this.handle(ctx, part, 'response')) changed = true;
    return changed ? body : undefined;
  }

  release(ctx: RequestContext, pending: string, final: boolean): Release {
    const { action, window } = this.options;
    const found = this.options.detect(pending);
    if (found.length === 0) return releaseSpans(pending, final, window, found);
    if (action === 'block') this.count(ctx, found, 'response'); // a finding blocks even while it may still grow
    const release = releaseSpans(pending, final, window, found);
    const released = found.filter((d) => d.end <= release.length);
    if (released.length) this.count(ctx, released, 'response');
    return action === 'redact' ? release : { length: release.length, text: pending.slice(0, release.length) };
  }

  /** Whole texts repeat what the deltas said (and were counted for): rewritten the same way, not counted again. */
  whole(_ctx: RequestContext, text: string): string {
    if (this.options.action !== 'redact') return text;
    const found = this.options.detect(text);
    return found.length === 0 ? text : applySpans(text, found);
  }
}
