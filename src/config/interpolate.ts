/**
 * `${VAR}` and `${VAR:-default}` in string values, resolved from the environment at load time.
 *
 * - Several references per string are fine: `http://${HOST}:${PORT:-8080}`.
 * - `${VAR:-default}` uses the default when VAR is unset or empty (as in the shell).
 *   A default cannot contain `}`; references do not nest.
 * - `$${` writes a literal `${`.
 * - A PLAIN (unquoted) scalar that is exactly one reference takes the type its result
 *   would have had if written there: `connections: ${CONN:-64}` is the integer 64,
 *   `access: ${ACCESS:-true}` the boolean true. Quoted scalars always stay strings, and so
 *   does an empty result.
 * - Map keys are never interpolated (they are names, not values).
 *
 * Works on the YAML tree in place, before it becomes a plain value, so every issue points
 * at its node and the paths of values that came from the environment can be redacted.
 */
import { isAlias, isMap, isScalar, isSeq, Scalar, type Alias, type Document, type Node } from 'yaml';
import { aliasTargets } from './anchors.js';
import type { ConfigIssue } from './load.js';
import { toPointer, type Locator, type PathSegment } from './positions.js';

export interface Interpolated {
  /** The text with every reference resolved (references that failed resolve to ''). */
  value: string;
  /** At least one referenced variable was read from the environment. */
  fromEnv: boolean;
  /** The text was exactly one `${...}` reference (a candidate for typing). */
  whole: boolean;
  /** Missing variables and malformed references, as messages. */
  errors: string[];
  /** With `placeholders`: the variables that had no value and were kept as written. */
  missing?: string[];
}

export interface InterpolationOptions {
  /**
   * Checking a file without the environment it will run in (`validate --no-env`): a
   * variable with no value and no default is kept as written (`${NAME}`) and listed
   * instead of being an error.
   */
  readonly placeholders?: boolean;
}

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(:-([^]*))?$/;

/** Resolve the references in one string. */
export function interpolateString(text: string, env: NodeJS.ProcessEnv, options: InterpolationOptions = {}): Interpolated {
  const result: Interpolated = { value: text, fromEnv: false, whole: false, errors: [] };
  if (!text.includes('${')) return result;
  let out = '';
  let i = 0;
  let references = 0;
  for (let at = text.indexOf('$', i); at !== -1; at = text.indexOf('$', i)) {
    if (text.startsWith('$${', at)) {
      out += text.slice(i, at) + '${';
      i = at + 3;
      references += 2; // an escape never makes the string a whole reference
      continue;
    }
    if (!text.startsWith('${', at)) {
      out += text.slice(i, at + 1);
      i = at + 1;
      continue;
    }
    out += text.slice(i, at);
    const close = text.indexOf('}', at + 2);
    if (close === -1) {
      result.errors.push('unclosed "${" (write "$${" for a literal "${")'); // the text is not echoed: it may hold a credential
      i = text.length;
      break;
    }
    const inner = text.slice(at + 2, close);
    i = close + 1;
    references++;
    const m = REFERENCE.exec(inner);
    if (!m) {
      result.errors.push(`invalid reference "\${${inner}}": expected \${NAME} or \${NAME:-default} (write "$\${" for a literal "\${")`);
      continue;
    }
    const name = m[1]!;
    const hasDefault = m[2] !== undefined;
    const set = env[name];
    if (set !== undefined && !(hasDefault && set === '')) {
      out += set;
      result.fromEnv = true;
    } else if (hasDefault) {
      out += m[3]!;
    } else if (options.placeholders) {
      out += `\${${name}}`;
      (result.missing ??= []).push(name);
    } else {
      result.errors.push(`environment variable "${name}" is not set (write \${${name}:-default} to give a default)`);
    }
  }
  out += text.slice(i);
  result.value = out;
  result.whole = references === 1 && /^\$\{[^}]*\}$/.test(text);
  return result;
}

const INTEGER = /^[-+]?[0-9]+$/;
const FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const BOOLEAN: Record<string, boolean> = { true: true, True: true, TRUE: true, false: false, False: false, FALSE: false };

/** The typed value a plain scalar with this text would have had (YAML 1.2 core schema: int, float, bool). */
function typed(text: string): string | number | boolean {
  if (INTEGER.test(text) || FLOAT.test(text)) return Number(text);
  return BOOLEAN[text] ?? text;
}

export interface DocumentInterpolation {
  issues: ConfigIssue[];
  /** Pointers of values that came (at least partly) from the environment: redacted. */
  fromEnv: Set<string>;
  /** Pointers of values whose interpolation failed: their validation errors are noise. */
  failed: Set<string>;
  /** With `placeholders`: every value that kept a `${NAME}` for want of a value. */
  placeholders: Placeholder[];
}

/** A `${NAME}` left in a value because the variable had no value (`validate --no-env`). */
export interface Placeholder {
  /** The variable's name. */
  readonly name: string;
  /** The YAML path of the value, `upstreams.openai.auth.bearer`. */
  readonly path: string;
  /** The JSON Pointer of the value (what schema errors are matched against). */
  readonly pointer: string;
  readonly line?: number;
  readonly column?: number;
}

/** Interpolate every string value of the document in place. */
export function interpolateDocument(
  doc: Document,
  env: NodeJS.ProcessEnv,
  locator: Locator,
  options: InterpolationOptions = {},
  targets: ReadonlyMap<Alias, Node> = aliasTargets(doc),
): DocumentInterpolation {
  const out: DocumentInterpolation = { issues: [], fromEnv: new Set(), failed: new Set(), placeholders: [] };
  const done = new Map<Scalar, Interpolated>();
  const active = new Set<unknown>();

  const visit = (node: unknown, path: PathSegment[]): void => {
    if (isAlias(node)) node = targets.get(node);
    if (!node || active.has(node)) return;
    if (isScalar(node)) {
      if (typeof node.value !== 'string') return;
      let result = done.get(node);
      if (!result) {
        result = interpolateString(node.value, env, options);
        done.set(node, result);
        for (const message of result.errors) out.issues.push(locator.issue(path, message));
        for (const name of result.missing ?? []) {
          const { path: shown, line, column } = locator.issue(path, '');
          out.placeholders.push({ name, path: shown, pointer: toPointer(path), ...(line === undefined ? {} : { line, column }) });
        }
        const plain = node.type === Scalar.PLAIN && !node.tag;
        node.value = plain && result.whole && result.errors.length === 0 && result.value !== '' ? typed(result.value) : result.value;
      }
      if (result.fromEnv) out.fromEnv.add(toPointer(path));
      if (result.errors.length > 0) out.failed.add(toPointer(path));
      return;
    }
    active.add(node);
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        visit(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => visit(item, [...path, index]));
    }
    active.delete(node);
  };

  visit(doc.contents, []);
  return out;
}
