/**
 * A compiled pipeline as a flat list of effective values, for `sidegate diff`: what each
 * router runs (its aliases, strategy, targets in order, its stages in pipeline order with
 * each feature's and interceptor's values after `defaults:` and the schema's defaults),
 * the upstreams (URLs, credentials redacted), listeners, state, pricing overrides.
 * Written order, comments and anything that does not change what runs leave it equal.
 */
import { createHash } from 'node:crypto';
import type { GatewayConfig } from '../config/types.js';
import { effectiveFeatures, effectiveInterceptors } from '../config/effective.js';
import { CONFIG_DEFAULTS } from '../config/defaults.js';
import type { Pipeline } from '../pipeline/compiled.js';
import { featureWithDefaults, interceptorWithDefaults, sectionSchema, upstreamWithDefaults, withDefaults } from './schema-defaults.js';

/** A credential (or a value from the environment): shown redacted, compared by digest. */
export interface Secret {
  readonly shown: string;
  readonly digest: string;
}

export type Leaf = string | number | boolean | null | Secret;

export function isSecret(value: unknown): value is Secret {
  return typeof value === 'object' && value !== null && 'digest' in value && 'shown' in value;
}

/** Path (`routers.chat.features.retry.attempts`) → value, in a stable order. */
export type PipelineModel = ReadonlyMap<string, Leaf>;

type Obj = Record<string, unknown>;
const isObject = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The config with each value that the redacted copy hides (a credential, a value from the
 * environment, a URL's password) replaced by a Secret.
 */
function withSecrets(value: unknown, redacted: unknown): unknown {
  if (typeof redacted === 'string' && typeof value === 'object' && value !== null) return secret(redacted, value);
  if (Array.isArray(value)) return value.map((item, i) => withSecrets(item, (redacted as unknown[] | undefined)?.[i]));
  if (isObject(value)) {
    const shown = isObject(redacted) ? redacted : {};
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withSecrets(v, shown[k])]));
  }
  if (redacted !== undefined && redacted !== value) return secret(String(redacted), value);
  return value;
}

function secret(shown: string, value: unknown): Secret {
  return { shown, digest: createHash('sha256').update(JSON.stringify(value)).digest('hex') };
}

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;
const PLAIN_TEXT = /^[A-Za-z0-9_./:@-]+$/;

/** An item of a list of scalars, as YAML's flow style would write it. */
function scalarText(value: unknown): string {
  return typeof value === 'string' && PLAIN_TEXT.test(value) ? value : JSON.stringify(value);
}

/** An upstream's `auth` as one value: `passthrough`, `bearer [redacted]`, `header x-api-key: [redacted]`. */
function authLeaf(auth: unknown): Leaf {
  if (!isObject(auth)) return String(auth ?? CONFIG_DEFAULTS.auth);
  const value = auth.bearer ?? auth.value;
  const prefix = auth.bearer !== undefined ? 'bearer' : `header ${String(auth.header)}:`;
  if (isSecret(value)) return { shown: `${prefix} ${value.shown}`, digest: `${prefix}\0${value.digest}` };
  return `${prefix} ${String(value)}`;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  const seg = PLAIN_KEY.test(key) ? key : JSON.stringify(key);
  return path === '' ? seg : PLAIN_KEY.test(key) ? `${path}.${seg}` : `${path}[${seg}]`;
}

/** Flattens a value into leaves; lists of scalars stay one leaf (`[429, 500]`). */
function flatten(out: Map<string, Leaf>, path: string, value: unknown): void {
  if (value === undefined) return;
  if (isSecret(value)) return void out.set(path, value);
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) return void out.set(path, `[${value.map(scalarText).join(', ')}]`);
    value.forEach((item, i) => flatten(out, join(path, i), item));
    return;
  }
  if (isObject(value)) {
    if (Object.keys(value).length === 0) return void out.set(path, '{}');
    for (const key of Object.keys(value).sort()) flatten(out, join(path, key), value[key]);
    return;
  }
  out.set(path, value as Leaf);
}

/** The effective values of a compiled pipeline. */
export function describePipeline(pipeline: Pipeline): PipelineModel {
  const config = withSecrets(pipeline.loaded.config, pipeline.loaded.redacted) as GatewayConfig;
  const out = new Map<string, Leaf>();
  flatten(out, 'server', withDefaults(config.server ?? {}, sectionSchema('server')));
  flatten(out, 'logging', withDefaults(config.logging ?? {}, sectionSchema('logging')));
  flatten(out, 'state', withDefaults(config.state ?? { backend: CONFIG_DEFAULTS.state_backend }, sectionSchema('state')));
  out.set('default_router', config.default_router ?? null);
  for (const name of Object.keys(config.upstreams).sort()) {
    const { auth, ...upstream } = upstreamWithDefaults(config.upstreams[name]) as Obj;
    flatten(out, join('upstreams', name), upstream);
    out.set(`${join('upstreams', name)}.auth`, authLeaf(auth));
  }
  for (const name of [...pipeline.routers.keys()].sort()) {
    const router = pipeline.routers.get(name)!;
    const written = config.routers[name]!;
    const base = join('routers', name);
    flatten(out, `${base}.aliases`, [...router.aliases].sort());
    out.set(`${base}.strategy`, written.strategy ?? CONFIG_DEFAULTS.strategy);
    router.targets.forEach((t, i) => {
      const weight = written.targets[i]?.weight;
      flatten(out, join(`${base}.targets`, i), { upstream: t.upstream.name, model: t.model ?? "(the caller's)", ...(weight === undefined ? {} : { weight }) });
    });
    out.set(`${base}.stages`, router.stages.map((s) => s.name).join(' → ') || '(none)');
    const features = effectiveFeatures(config, written);
    for (const feature of Object.keys(features).sort()) flatten(out, join(`${base}.features`, feature), featureWithDefaults(feature, features[feature]));
    effectiveInterceptors(config, written).forEach((item, i) => {
      const [iname, value] = Object.entries(item)[0]!;
      flatten(out, join(join(`${base}.interceptors`, i), iname), interceptorWithDefaults(iname, value) ?? {});
    });
  }
  if (config.pricing) for (const model of Object.keys(config.pricing).sort()) flatten(out, join('pricing', model), config.pricing[model]);
  return out;
}
