/**
 * `sidegate diff`: what changes between two compiled pipelines, grouped by what it
 * belongs to (a router, an upstream, the listeners…). Credentials are never shown; one
 * that changed says so.
 */
import { isSecret, type Leaf, type PipelineModel } from './describe.js';

export type ChangeKind = 'added' | 'removed' | 'changed';

export interface Change {
  /** The path inside its section: `features.retry.attempts`, or '' for a section that is one value. */
  readonly key: string;
  readonly kind: ChangeKind;
  readonly before?: Leaf;
  readonly after?: Leaf;
}

export interface Section {
  /** `routers.chat`, `upstreams.openai`, `server`, `default_router`… */
  readonly id: string;
  /** `router chat`, `upstream openai`, `server`… */
  readonly title: string;
  readonly kind: ChangeKind;
  readonly changes: readonly Change[];
}

const NAMED = new Map([
  ['routers', 'router'],
  ['upstreams', 'upstream'],
  ['pricing', 'pricing of'],
]);

/** `routers.chat.features.retry` → [`routers.chat`, `features.retry`]. */
function split(path: string): [string, string] {
  const m = /^([A-Za-z_]+)(?:\.([A-Za-z0-9_-]+)|\[("(?:[^"\\]|\\.)*")\])?/.exec(path)!;
  const top = m[1]!;
  if (!NAMED.has(top)) {
    const rest = path.slice(top.length);
    return [top, rest.startsWith('.') ? rest.slice(1) : rest];
  }
  const id = m[0];
  const rest = path.slice(id.length);
  return [id, rest.startsWith('.') ? rest.slice(1) : rest];
}

function titleOf(id: string): string {
  const [top] = id.split(/[.[]/, 1);
  const noun = NAMED.get(top!);
  if (!noun) return id;
  const name = id.slice(top!.length);
  return `${noun} ${name.startsWith('.') ? name.slice(1) : JSON.parse(name.slice(1, -1))}`;
}

function same(a: Leaf | undefined, b: Leaf | undefined): boolean {
  if (isSecret(a) && isSecret(b)) return a.digest === b.digest;
  return a === b;
}

/** The sections that differ, in a stable order. Empty: no effective change. */
export function diffModels(before: PipelineModel, after: PipelineModel): Section[] {
  const paths = [...new Set([...before.keys(), ...after.keys()])];
  const bySection = new Map<string, { changes: Change[]; inBefore: boolean; inAfter: boolean }>();
  for (const path of paths) {
    const [id, key] = split(path);
    let section = bySection.get(id);
    if (!section) bySection.set(id, (section = { changes: [], inBefore: false, inAfter: false }));
    const a = before.get(path);
    const b = after.get(path);
    if (before.has(path)) section.inBefore = true;
    if (after.has(path)) section.inAfter = true;
    if (!before.has(path)) section.changes.push({ key, kind: 'added', after: b! });
    else if (!after.has(path)) section.changes.push({ key, kind: 'removed', before: a! });
    else if (!same(a, b)) section.changes.push({ key, kind: 'changed', before: a!, after: b! });
  }
  const out: Section[] = [];
  for (const [id, s] of bySection) {
    if (s.changes.length === 0) continue;
    const kind: ChangeKind = !s.inBefore ? 'added' : !s.inAfter ? 'removed' : 'changed';
    out.push({ id, title: titleOf(id), kind, changes: s.changes });
  }
  const rank = (id: string): number => ['server', 'logging', 'state', 'upstreams', 'default_router', 'routers', 'pricing'].indexOf(id.split(/[.[]/, 1)[0]!);
  return out.sort((x, y) => rank(x.id) - rank(y.id) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

/** A value as diff prints it. */
export function show(value: Leaf | undefined): string {
  if (value === undefined) return '(unset)';
  if (isSecret(value)) return value.shown;
  if (value === null) return '(none)';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A change as diff prints it: `2 → 3`, or `changed (redacted)` for a credential. */
export function showChange(change: Change): string {
  if (change.kind === 'changed' && show(change.before) === show(change.after)) return `${show(change.after)}, changed (the value is redacted)`;
  if (change.kind === 'added') return show(change.after);
  if (change.kind === 'removed') return `${show(change.before)} → (unset)`;
  return `${show(change.before)} → ${show(change.after)}`;
}

/** The `sidegate diff` text. */
export function formatDiff(sections: readonly Section[], from: string, to: string): string {
  const lines = [`sidegate diff: ${from} → ${to}`];
  if (sections.length === 0) return [...lines, 'no effective change'].join('\n');
  for (const s of sections) {
    lines.push('', `${s.title}: ${s.kind}`);
    for (const c of s.changes) {
      const mark = s.kind !== 'changed' ? ' ' : c.kind === 'added' ? '+' : c.kind === 'removed' ? '-' : '~';
      lines.push(`  ${mark} ${c.key || '(value)'}: ${showChange(c)}`);
    }
  }
  return lines.join('\n');
}

function cell(text: string): string {
  return text === '' ? '' : `\`${text.replace(/`/g, "'").replace(/\|/g, '\\|')}\``;
}

/** The `sidegate diff --format markdown` text: a table per section, then the new pipeline drawn. */
export function formatDiffMarkdown(sections: readonly Section[], from: string, to: string, mermaid: string): string {
  const lines = [`### sidegate: effective changes to the gateway pipeline`, '', `${cell(from)} → ${cell(to)}`, ''];
  if (sections.length === 0) {
    lines.push('**No effective change**: the compiled pipeline is the same (reordered keys, comments or formatting only).');
  } else {
    lines.push(`${sections.length} part${sections.length === 1 ? '' : 's'} of the pipeline change${sections.length === 1 ? 's' : ''}.`);
    for (const s of sections) {
      lines.push('', `#### ${s.title} (${s.kind})`, '', '| key | before | after |', '| --- | --- | --- |');
      for (const c of s.changes) {
        const secretChange = c.kind === 'changed' && show(c.before) === show(c.after);
        const before = c.kind === 'added' ? '' : cell(show(c.before));
        const after = c.kind === 'removed' ? '' : secretChange ? `${cell(show(c.after))} (changed)` : cell(show(c.after));
        lines.push(`| ${cell(c.key || '(value)')} | ${before} | ${after} |`);
      }
    }
  }
  lines.push('', '<details><summary>The pipeline after this change</summary>', '', '```mermaid', mermaid, '```', '', '</details>');
  return lines.join('\n');
}
