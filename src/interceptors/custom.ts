import type { InterceptorModule } from '../features/feature.js';
import type { Stage } from '../pipeline/stage.js';

export interface CustomConfig {
  module: string;
  options?: Record<string, unknown>;
}

/** The handlers a hook module's stage may define (the library's Stage interface). */
const HANDLERS = ['authenticate', 'onRequest', 'filterTargets', 'wrapCall', 'onResponse', 'onResponseBody', 'onChunk', 'onStreamEnd', 'onData', 'onError', 'onDone', 'stats', 'close'] as const;

/** What a module may export: a Stage, or a function of `(options, { router })` returning one. */
type StageFactory = (options: Record<string, unknown>, context: { router: string }) => Stage;

function stageOf(exports: unknown, config: CustomConfig, router: string): Stage {
  const namespace = exports as { default?: unknown } | null;
  let value: unknown = namespace && typeof namespace === 'object' && 'default' in namespace ? namespace.default : namespace;
  if (typeof value === 'function') value = (value as StageFactory)(config.options ?? {}, { router });
  const stage = value as Partial<Stage> | null;
  const what = `custom: module ${config.module}`;
  if (!stage || typeof stage !== 'object') throw new Error(`${what} must export (as default) a stage object or a function returning one`);
  if (typeof stage.name !== 'string' || stage.name === '') throw new Error(`${what}: its stage needs a \`name\``);
  if (!HANDLERS.some((h) => typeof stage[h] === 'function')) throw new Error(`${what}: its stage "${stage.name}" defines no handler (${HANDLERS.join(', ')})`);
  if (stage.priority !== undefined && (typeof stage.priority !== 'number' || !Number.isFinite(stage.priority))) {
    throw new Error(`${what}: its stage's \`priority\` must be a number`);
  }
  return stage as Stage;
}

/**
 * `custom`: a stage from a file of your own, loaded when the config is (and again when it
 * is reloaded). It is placed at its place in the interceptor list, or at its own `priority`.
 */
export const custom: InterceptorModule<CustomConfig> = {
  name: 'custom',
  describe(config) {
    return `module ${config.module}`;
  },
  schema: {
    description:
      'A stage of your own: a JavaScript module (ES module or CommonJS; path relative to the config file) whose default export is ' +
      'an object implementing the library\'s `Stage` interface (`name`, and any of `onRequest`, `onResponse`, `onResponseBody`, ' +
      '`onChunk`, … as in the README) or a function `(options, { router })` that returns one. It is loaded when the config is ' +
      'loaded, and loaded again on reload when the file changed; a module that fails to load fails the reload and the running ' +
      'config stays. It runs at its place in the interceptor list unless it sets its own `priority` (STAGE_ORDER numbers: 150 ' +
      'runs before rate_limit).',
    type: 'object',
    additionalProperties: false,
    required: ['module'],
    properties: {
      module: { description: 'The module\'s path, e.g. `./hooks/audit.js` (relative to the config file).', type: 'string', minLength: 1, maxLength: 1024 },
      options: { description: 'Passed to the module\'s factory function, when it exports one.', type: 'object' },
    },
  },
  create(config, deps) {
    return stageOf(deps.hookModule(config.module), config, deps.routerName);
  },
};
