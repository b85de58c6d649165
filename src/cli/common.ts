/** What the `sidegate` commands share: usage errors, reading a config (a file or `git:REF:path`), loading it. */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, loadConfigText, type LoadedConfig } from '../config/load.js';
import { Locator } from '../config/positions.js';
import { MAX_CONFIG_BYTES, tooLargeMessage } from '../config/limits.js';

/** A command line that cannot be run as written: exit 2 with the message and the usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface ConfigText {
  /** The name issues print: the path, or `git:REF:path`. */
  readonly source: string;
  readonly text: string;
}

/**
 * A config's text: a file path, or `git:REF:path` read with `git show REF:path` in the
 * current directory (the path is from the repository's root, or `./x` from here).
 */
export function readConfigText(spec: string): ConfigText {
  if (spec.startsWith('git:')) {
    const rest = spec.slice(4);
    const colon = rest.indexOf(':');
    if (colon <= 0 || colon === rest.length - 1) throw new UsageError(`"${spec}": expected git:REF:path, e.g. git:origin/main:gateway.yaml`);
    try {
      const text = execFileSync('git', ['show', `${rest.slice(0, colon)}:${rest.slice(colon + 1)}`], {
        encoding: 'utf8',
        maxBuffer: MAX_CONFIG_BYTES,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      return { source: spec, text };
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
      throw new ConfigError([{ path: '', message: `cannot read it from git: ${stderr || (err as Error).message}`, source: spec }]);
    }
  }
  let size: number;
  let text: string;
  try {
    size = statSync(spec).size; // checked before the file is read
    text = size > MAX_CONFIG_BYTES ? '' : readFileSync(spec, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read the config file: ${(err as Error).message}`, source: spec }]);
  }
  if (size > MAX_CONFIG_BYTES) throw new ConfigError([{ path: '', message: tooLargeMessage(size), source: spec }]);
  return { source: spec, text };
}

export interface EnvChoice {
  /** Read no environment: `${VAR:-default}` takes its default, `${VAR}` stays a placeholder. */
  readonly noEnv: boolean;
  /** A `${VAR}` with no value stays a placeholder even when the environment is read. Default: noEnv. */
  readonly placeholders?: boolean;
}

/** Loads a config text; throws ConfigError. */
export function loadText(config: ConfigText, { noEnv, placeholders = noEnv }: EnvChoice): LoadedConfig {
  return loadConfigText(config.text, config.source, noEnv ? {} : process.env, { placeholders });
}

/** Reads and loads a config (file or git:REF:path); throws ConfigError. */
export function loadSpec(spec: string, env: EnvChoice): LoadedConfig {
  return loadText(readConfigText(spec), env);
}

/** Positions in a config text, for findings made after loading (warnings). */
export function locatorFor(config: ConfigText): Locator {
  const lineCounter = new LineCounter();
  return new Locator(parseDocument(config.text, { lineCounter }), lineCounter, config.source);
}

/** One of the allowed values of an option, or a usage error. */
export function choice<T extends string>(option: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`--${option} must be one of ${allowed.join(', ')} (got "${value}")`);
}

export function write(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function writeErr(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}
