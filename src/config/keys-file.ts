/**
 * `auth.keys_file`: a second YAML file holding a list of keys in the shape of `auth.keys`
 * (a mounted Kubernetes Secret, so keys change without touching the reviewed config). It
 * is read with the config, checked against the same schema (issues name its own
 * line:column), and its text is part of the config's hash, so a reload sees its changes.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { KeyConfig } from './types.js';
import type { ConfigIssue } from './load.js';
import { interpolateDocument } from './interpolate.js';
import { Locator } from './positions.js';
import { checkDefinition } from './validate.js';

/** The largest keys file read (10 000 keys of a few hundred bytes each fit easily). */
const MAX_KEYS_FILE_BYTES = 8 * 1024 * 1024;

export interface KeysFile {
  /** The absolute path (the gateway watches its directory). */
  readonly path: string;
  readonly text: string;
  readonly keys: readonly KeyConfig[];
  readonly locator: Locator;
}

/** The keys file's path: relative to the config file's directory (or the working directory for inline YAML). */
export function keysFilePath(keysFile: string, configSource: string): string {
  if (isAbsolute(keysFile)) return keysFile;
  const base = configSource.startsWith('<') ? process.cwd() : dirname(resolve(configSource));
  return resolve(base, keysFile);
}

/** Reads and checks a keys file: the keys, or the issues naming its line:column. */
export function loadKeysFile(path: string, env: NodeJS.ProcessEnv): KeysFile | ConfigIssue[] {
  const fail = (message: string): ConfigIssue[] => [{ path: '', message, source: path }];
  let text: string;
  try {
    if (statSync(path).size > MAX_KEYS_FILE_BYTES) return fail(`the keys file is larger than ${MAX_KEYS_FILE_BYTES / 1024 / 1024} MB`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return fail(`cannot read the keys file (auth.keys_file): ${(err as Error).message}`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locator = new Locator(doc, lineCounter, path);
  if (doc.errors.length > 0) {
    return doc.errors.map((e): ConfigIssue => ({ path: '', ...locator.at(e.pos[0]), message: `YAML syntax error: ${e.message}`, source: path }));
  }
  const interpolation = interpolateDocument(doc, env, locator);
  const data: unknown = doc.contents === null ? [] : doc.toJS();
  const context = { locator, fromEnv: interpolation.fromEnv, failed: interpolation.failed };
  const issues = [...interpolation.issues, ...checkDefinition('tenant_keys', data, context).issues];
  if (issues.length > 0) return issues;
  return { path, text, keys: data as KeyConfig[], locator };
}
