/**
 * gateway.yaml → a validated, frozen GatewayConfig, or a ConfigError listing every problem
 * with its YAML path and line:column.
 *
 * Pipeline: size check → parse (yaml, one document) → expanded-size check (aliases) →
 * `${VAR}` interpolation on the YAML tree → schema validation (ajv, compiled once per
 * process) → reference checks → deep freeze. Synchronous; a running gateway calls it on
 * a worker thread (load-worker.ts), so a large or hostile file never stalls requests.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { GatewayConfig } from './types.js';
import { interpolateDocument, type InterpolationOptions, type Placeholder } from './interpolate.js';
import { Locator } from './positions.js';
import { checkReferences } from './references.js';
import { checkSchema } from './validate.js';
import { redactConfig } from './redact.js';
import type { KeyConfig } from './types.js';
import { keysFilePath, loadKeysFile } from './keys-file.js';
import { checkTenancy, type PlacedKey } from './tenancy-references.js';
import { deepFreeze } from './freeze.js';
import { aliasTargets, duplicateKeyOffsets, toPlain } from './anchors.js';
import { expandedSize, MAX_CONFIG_BYTES, MAX_CONFIG_VALUES, tooLargeMessage } from './limits.js';

export interface ConfigIssue {
  /** The YAML path, `routers.chat.targets[1].upstream`; '' for the file as a whole. */
  path: string;
  /** 1-based position of the offending node (the key, for unknown keys). */
  line?: number;
  column?: number;
  message: string;
  /** The file path, or '<inline>'. */
  source: string;
  /** The closest valid alternative, when there is one: printed as `did you mean "…"?`. */
  suggestion?: string;
}

/** `routers.chat.targets[1].upstream: unknown upstream "opnai" (gateway.yaml:42:17), did you mean "openai"?` */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line === undefined ? basename(issue.source) : `${basename(issue.source)}:${issue.line}:${issue.column ?? 1}`;
  const suggestion = issue.suggestion === undefined ? '' : `, did you mean ${JSON.stringify(issue.suggestion)}?`;
  return `${issue.path ? `${issue.path}: ` : ''}${issue.message} (${where})${suggestion}`;
}

/** One issue per line. */
export function formatIssues(issues: ConfigIssue[]): string {
  return issues.map(formatIssue).join('\n');
}

/** A config that cannot be used; `issues` lists every problem found, `message` prints them. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(formatIssues(issues));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export interface LoadedConfig {
  /** Interpolated, validated, references checked, deep-frozen. Defaults are NOT filled in (see CONFIG_DEFAULTS). */
  readonly config: GatewayConfig;
  /** The file path, or '<inline>'. */
  readonly source: string;
  /** sha256 hex of the raw text (and of the keys file's, when there is one). */
  readonly hash: string;
  /** Tenancy's keys (`auth.keys` and the keys file's), or null when the config has no `auth`. */
  readonly keys: readonly KeyConfig[] | null;
  /** The keys file's absolute path, or null. */
  readonly keysFile: string | null;
  /** The config with secrets, values from the environment and URL passwords replaced by "[redacted]" (frozen). */
  readonly redacted: unknown;
  /** Loaded with `placeholders`: the `${NAME}` kept for want of a value (else empty). */
  readonly placeholders: readonly Placeholder[];
}

/** How a config is loaded; the gateway uses the defaults. */
export type LoadOptions = InterpolationOptions;

function byPosition(a: ConfigIssue, b: ConfigIssue): number {
  return (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? Infinity) - (b.column ?? Infinity);
}

/** Load a config from YAML text. Throws ConfigError listing every issue. */
export function loadConfigText(
  text: string,
  source = '<inline>',
  env: NodeJS.ProcessEnv = process.env,
  options: LoadOptions = {},
): LoadedConfig {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_CONFIG_BYTES) throw new ConfigError([{ path: '', message: tooLargeMessage(bytes), source }]);
  const hash = createHash('sha256').update(text).digest('hex');
  const lineCounter = new LineCounter();
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false }); // checked below, in linear time
  } catch (error) {
    if (error instanceof RangeError) throw tooDeep(source); // nesting deep enough to exhaust the parser's stack
    throw error;
  }
  const locator = new Locator(doc, lineCounter, source);

  const duplicates = doc.errors.length === 0 ? duplicateKeyOffsets(doc) : [];
  if (duplicates.length > 0) {
    throw new ConfigError(duplicates.map((offset) => ({ path: '', ...locator.at(offset), message: 'YAML syntax error: Map keys must be unique', source })));
  }
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((error) => ({
        path: '',
        ...locator.at(error.pos[0]),
        message:
          error.code === 'MULTIPLE_DOCS'
            ? 'the file holds more than one YAML document; a config is exactly one'
            : /call stack/i.test(error.message)
              ? TOO_DEEP
              : `YAML syntax error: ${error.message}`,
        source,
      })).sort(byPosition),
    );
  }
  if (doc.contents === null) {
    throw new ConfigError([{ path: '', message: 'the config is empty; it needs at least version, upstreams and routers', source }]);
  }

  const targets = aliasTargets(doc);
  let values: number;
  try {
    values = expandedSize(doc, targets);
  } catch (error) {
    if (error instanceof RangeError) throw tooDeep(source);
    throw error;
  }
  if (values > MAX_CONFIG_VALUES) {
    throw new ConfigError([
      { path: '', message: `the config expands to more than ${MAX_CONFIG_VALUES} values (YAML aliases repeat what they name); the limit is ${MAX_CONFIG_VALUES}`, source },
    ]);
  }
  const interpolation = interpolateDocument(doc, env, locator, options, targets);
  let data: unknown;
  try {
    data = toPlain(doc, targets);
  } catch (error) {
    throw new ConfigError([...interpolation.issues, { path: '', message: `cannot read the YAML: ${(error as Error).message}`, source }]);
  }
  // A placeholder stands for a value to come: what the schema says of its text is noise.
  const unchecked = new Set([...interpolation.failed, ...interpolation.placeholders.map((p) => p.pointer)]);
  const context = { locator, fromEnv: interpolation.fromEnv, failed: unchecked };
  const schema = checkSchema(data, context);
  const issues = [...interpolation.issues, ...schema.issues, ...checkReferences(data, context)];
  if (issues.length > 0) throw new ConfigError(issues.sort(byPosition));

  const config = data as GatewayConfig;
  let keys: KeyConfig[] | null = null;
  let keysFile: string | null = null;
  let fullHash = hash;
  if (config.auth) {
    const placed: PlacedKey[] = (config.auth.keys ?? []).map((key, i) => ({ key, path: ['auth', 'keys', i], locator }));
    if (config.auth.keys_file !== undefined) {
      keysFile = keysFilePath(config.auth.keys_file, source);
      const file = loadKeysFile(keysFile, env);
      if (Array.isArray(file)) throw new ConfigError(file);
      placed.push(...file.keys.map((key, i) => ({ key, path: [i], locator: file.locator })));
      fullHash = createHash('sha256').update(text).update('\0').update(file.text).digest('hex');
    }
    const tenancyIssues = checkTenancy(config, placed, locator);
    if (tenancyIssues.length > 0) throw new ConfigError(tenancyIssues);
    keys = placed.map((p) => p.key);
  }

  const redacted = redactConfig(data, new Set([...interpolation.fromEnv, ...schema.secrets]));
  const placeholders = Object.freeze(interpolation.placeholders.map((p) => Object.freeze(p)));
  return Object.freeze({ config: deepFreeze(config), source, hash: fullHash, redacted, placeholders, keys: keys && deepFreeze(keys), keysFile });
}

const TOO_DEEP = 'the config nests too deeply to be read';

function tooDeep(source: string): ConfigError {
  return new ConfigError([{ path: '', message: TOO_DEEP, source }]);
}

/** Read and load a config file. Throws ConfigError, also when the file cannot be read or is over the size limit. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): LoadedConfig {
  let text: string;
  try {
    const fd = openSync(path, 'r');
    try {
      const { size } = fstatSync(fd);
      if (size > MAX_CONFIG_BYTES) throw new ConfigError([{ path: '', message: tooLargeMessage(size), source: path }]);
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError([{ path: '', message: `cannot read the config file: ${(error as Error).message}`, source: path }]);
  }
  return loadConfigText(text, path, env, options);
}
