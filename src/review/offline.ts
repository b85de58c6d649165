/**
 * Compiling a config with no network: every upstream, whatever its provider, becomes the
 * in-process `mock` provider, and state lives in memory. `diff` and `route` read the
 * compiled pipeline this way (health probes then never leave the process), and `eval`
 * answers its cases from it, with each case's scripted answer.
 */
import type { LoadedConfig } from '../config/load.js';
import { createLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { compile } from '../pipeline/compile.js';
import { hookModulePaths, loadHookModulesSync } from '../pipeline/hook-modules.js';
import type { Pipeline } from '../pipeline/compiled.js';
import { createMockProvider, type MockOptions } from '../providers/mock.js';
import type { ProviderFactory } from '../providers/provider.js';
import { PROVIDER_MODULES } from '../providers/registry.js';
import { MemoryStore } from '../state/memory.js';

/** A factory for every provider name the config may use, each making a mock. */
export function offlineProviders(options: MockOptions = {}): Record<string, ProviderFactory> {
  const mock: ProviderFactory = (config, deps) => createMockProvider(config, deps, options);
  return Object.fromEntries(Object.keys(PROVIDER_MODULES).map((name) => [name, mock]));
}

/** A config that loads but does not compile (a placeholder where a typed value goes). */
export class CompileError extends Error {
  override readonly name = 'CompileError';
}

/**
 * The pipeline of `loaded`, compiled offline. A `${VAR}` placeholder standing where a typed
 * value goes (a duration, a number) cannot be compiled: the error says so.
 */
export async function compileOffline(loaded: LoadedConfig): Promise<Pipeline> {
  try {
    return await compile(loaded, {
      logger: createLogger('silent'),
      metrics: new Metrics(),
      hooks: [],
      providers: offlineProviders(),
      state: new MemoryStore(),
      offline: true,
      modules: loadHookModulesSync(hookModulePaths(loaded.config, loaded.source)),
    });
  } catch (err) {
    const names = loaded.placeholders.map((p) => `\${${p.name}} at ${p.path}`);
    const hint = names.length ? ` (without the environment, ${names.join(', ')} has no value: set it, or give a default with \${NAME:-value})` : '';
    throw new CompileError(`${loaded.source}: cannot compile: ${(err as Error).message}${hint}`, { cause: err });
  }
}
