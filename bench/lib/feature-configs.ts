/**
 * What each feature and interceptor of the `full` case costs on its own: configs made from
 * bench/configs/full.yaml, each with its main router stripped to one feature (or one
 * interceptor), and a baseline with none. Measured alternately against the baseline with
 * varied bodies, the difference is that item's CPU per request — the parts `full` is the
 * sum of.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';

export interface FeatureConfig {
  /** `retry`, `interceptor pii_detector`, or `none` for the baseline. */
  name: string;
  text: string;
}

type Json = Record<string, unknown>;

/** The baseline (main router without features or interceptors) first, then one config per item. */
export function featureConfigs(fullYaml: string): FeatureConfig[] {
  const doc = parseDocument(readFileSync(fullYaml, 'utf8')).toJS() as Json;
  const routers = doc.routers as Record<string, Json>;
  const main = routers[doc.default_router as string]!;
  const features = (main.features ?? {}) as Json;
  const interceptors = (main.interceptors ?? []) as Json[];
  const bare = { ...main };
  delete bare.features;
  delete bare.interceptors;
  const make = (name: string, router: Json): FeatureConfig => ({
    name,
    text: JSON.stringify({ ...doc, default_router: 'main', routers: { main: router } }, null, 1),
  });
  const out = [make('none', bare)];
  for (const [name, config] of Object.entries(features)) out.push(make(name, { ...bare, features: { [name]: config } }));
  for (const item of interceptors) {
    const [kind] = Object.keys(item);
    out.push(make(`interceptor ${kind}`, { ...bare, interceptors: [absoluteModule(item, dirname(fullYaml))] }));
  }
  return out;
}

/** A `custom` interceptor's module path is relative to its config file: made absolute for a config written elsewhere. */
function absoluteModule(item: Json, dir: string): Json {
  const custom = item.custom as Json | undefined;
  if (!custom || typeof custom.module !== 'string') return item;
  return { custom: { ...custom, module: resolve(dir, custom.module) } };
}

export const FULL_CONFIG = (repo: string): string => join(repo, 'bench', 'configs', 'full.yaml');
