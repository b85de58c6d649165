/**
 * From a path in the loaded value (`['routers', 'chat', 'targets', 1, 'upstream']`) to the
 * YAML node it came from, its line:column, and the `routers.chat.targets[1].upstream` form
 * that issues print.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter } from 'yaml';
import type { ConfigIssue } from './load.js';

export type PathSegment = string | number;
export type DataPath = readonly PathSegment[];

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** `routers.chat.targets[1].upstream`; keys that are not plain words print as `["a.b"]`. */
export function formatPath(path: DataPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** The JSON Pointer of a path (the form ajv reports and redaction keys on). */
export function toPointer(path: DataPath): string {
  return path.map((seg) => `/${String(seg).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** A JSON Pointer back to a path; segments that index an array in `root` become numbers. */
export function pathFromPointer(pointer: string, root: unknown): PathSegment[] {
  if (pointer === '') return [];
  const path: PathSegment[] = [];
  let cur: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const seg: PathSegment = Array.isArray(cur) && /^[0-9]+$/.test(key) ? Number(key) : key;
    path.push(seg);
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<PathSegment, unknown>)[seg] : undefined;
  }
  return path;
}

/** The value at a path, or undefined. */
export function valueAt(root: unknown, path: DataPath): unknown {
  let cur = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PathSegment, unknown>)[seg];
  }
  return cur;
}

export interface Position {
  line: number;
  column: number;
}

export interface IssueOptions {
  /** Point at this key of the map at `path` (an unknown or malformed key) instead of at the value. */
  key?: string | undefined;
  /** The closest valid alternative, printed as `did you mean "…"?`. */
  suggestion?: string | undefined;
}

type Ranged = { range?: readonly [number, number, number] | null };

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/** Turns paths into issues that carry the source and the line:column of the node. */
export class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    readonly source: string,
  ) {}

  /** Line and column (1-based) of a character offset in the text. */
  at(offset: number): Position {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  /**
   * Where the node at `path` starts: its key with `at: 'key'`, else its value (or its key
   * when the value is empty). A path that leaves the document points at the deepest node
   * that exists.
   */
  position(path: DataPath, at: 'key' | 'value' = 'value'): Position | undefined {
    let cur: unknown = this.doc.contents;
    let found = cur as Ranged | null | undefined;
    for (const seg of path) {
      if (isAlias(cur)) cur = cur.resolve(this.doc);
      let key: Ranged | undefined;
      let value: unknown;
      if (isMap(cur)) {
        const pair = cur.items.find((p) => keyText(p.key) === String(seg));
        if (!pair) break;
        key = pair.key as Ranged;
        value = pair.value;
      } else if (isSeq(cur) && typeof seg === 'number' && seg < cur.items.length) {
        value = cur.items[seg];
      } else {
        break;
      }
      const valueNode = value as Ranged | null | undefined;
      found = at === 'key' && key?.range ? key : valueNode?.range ? valueNode : (key ?? found);
      cur = value;
    }
    const range = (found as Ranged | null | undefined)?.range;
    return range ? this.at(range[0]) : undefined;
  }

  issue(path: DataPath, message: string, options: IssueOptions = {}): ConfigIssue {
    const issue: ConfigIssue = { path: formatPath(path), message, source: this.source };
    const pos = options.key === undefined ? this.position(path) : this.position([...path, options.key], 'key');
    if (pos) Object.assign(issue, pos);
    if (options.suggestion !== undefined) issue.suggestion = options.suggestion;
    return issue;
  }
}
