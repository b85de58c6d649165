/**
 * The files `custom` interceptors name (`module: ./hooks/audit.js`), loaded before a
 * config is compiled so that compiling stays synchronous and never touches the file
 * system. Paths are relative to the config file (to the working directory for inline
 * config). At start the modules are loaded synchronously (`require` of an ES module,
 * Node 20.19+; no top-level await); on reload each file is read again and, when its bytes
 * changed, imported afresh (an `import()` whose URL carries the content hash, so Node's
 * module cache keeps the old version for requests still running on it). A file that fails
 * to load fails the load or the reload, and the running config stays.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { GatewayConfig, InterceptorItem } from '../config/types.js';
import { runSteps, type Steps } from '../util/slices.js';

export interface HookModule {
  readonly path: string;
  /** sha256 of the file's bytes (first 16 hex digits). */
  readonly hash: string;
  /** The module's namespace (or, for CommonJS, its exports). */
  readonly exports: unknown;
}

/** Loaded modules by absolute path. */
export type HookModules = ReadonlyMap<string, HookModule>;

export const NO_HOOK_MODULES: HookModules = new Map();

/** Where a `module:` value points, for a config loaded from `source` ('<inline>' and '<object>' resolve from the working directory). */
export function hookModulePath(spec: string, source: string): string {
  if (isAbsolute(spec)) return spec;
  const base = source.startsWith('<') ? process.cwd() : dirname(resolve(source));
  return resolve(base, spec);
}

/** Every module the config's `custom` interceptors name (routers and defaults), as absolute paths. */
export function hookModulePaths(config: GatewayConfig, source: string): string[] {
  return runSteps(hookModulePathSteps(config, source));
}

/** Routers read per step of hookModulePathSteps. */
const ROUTERS_PER_STEP = 500;

/** `hookModulePaths` in steps (a reload reads it on the event loop). */
export function* hookModulePathSteps(config: GatewayConfig, source: string): Steps<string[]> {
  const out = new Set<string>();
  const add = (list: readonly InterceptorItem[] | undefined): void => {
    if (list === undefined) return;
    for (const item of list) {
      const custom = item.custom as { module?: unknown } | undefined;
      if (typeof custom?.module === 'string') out.add(hookModulePath(custom.module, source));
    }
  };
  add(config.defaults?.interceptors);
  let count = 0;
  for (const name in config.routers) {
    if (++count % ROUTERS_PER_STEP === 0) yield;
    add(config.routers[name]!.interceptors);
  }
  return [...out];
}

const hashOf = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

function failed(path: string, err: unknown): Error {
  return new Error(`custom: cannot load module ${path}: ${(err as Error).message}`, { cause: err });
}

const requireHere = createRequire(import.meta.url);

/** Loads the modules synchronously (at start, and for `sidegate explain`). */
export function loadHookModulesSync(paths: readonly string[]): HookModules {
  const out = new Map<string, HookModule>();
  for (const path of paths) {
    try {
      const hash = hashOf(readFileSync(path));
      out.set(path, Object.freeze({ path, hash, exports: requireHere(path) as unknown }));
    } catch (err) {
      throw failed(path, err);
    }
  }
  return out;
}

/** Loads the modules for a reload: an unchanged file keeps the module loaded before, a changed one is imported afresh. */
export async function loadHookModules(paths: readonly string[], previous: HookModules): Promise<HookModules> {
  const out = new Map<string, HookModule>();
  for (const path of paths) {
    try {
      const hash = hashOf(await readFile(path));
      const before = previous.get(path);
      if (before?.hash === hash) {
        out.set(path, before);
        continue;
      }
      const exports: unknown = await import(`${pathToFileURL(path).href}?v=${hash}`);
      out.set(path, Object.freeze({ path, hash, exports }));
    } catch (err) {
      throw failed(path, err);
    }
  }
  return out;
}

/** True when both name the same files with the same bytes. */
export function sameHookModules(a: HookModules, b: HookModules): boolean {
  if (a.size !== b.size) return false;
  for (const [path, m] of a) if (b.get(path)?.hash !== m.hash) return false;
  return true;
}
