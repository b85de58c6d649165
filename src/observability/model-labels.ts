/**
 * The `model` label of token metrics. Model names come from clients, so they are bounded:
 * a name the config knows (a router, an alias, a target's model, a mock upstream's model)
 * or the pricing table prices exactly keeps its name; a dated name the table prices by
 * prefix (`gpt-4o-2024-08-06`) is labelled with that entry (`gpt-4o`); anything else, and
 * any name longer than LIMITS.label_length, is `other`. Built once per compile.
 */
import type { GatewayConfig } from '../config/types.js';
import type { Pricing } from '../pricing.js';
import { LIMITS } from '../server/limits.js';
import type { Steps } from '../util/slices.js';

export const OTHER_MODEL = 'other';

/** Routers read per step of knownModelSteps. */
const ROUTERS_PER_STEP = 200;

/** Every model name the config knows, in steps (a reload compiles in slices). */
export function* knownModelSteps(config: GatewayConfig): Steps<Set<string>> {
  const known = new Set<string>();
  let count = 0;
  for (const [name, router] of Object.entries(config.routers)) {
    if (++count % ROUTERS_PER_STEP === 0) yield;
    known.add(name);
    for (const alias of router.aliases ?? []) known.add(alias);
    for (const target of router.targets) if (target.model !== undefined) known.add(target.model);
  }
  for (const upstream of Object.values(config.upstreams)) for (const model of upstream.models ?? []) known.add(model);
  return known;
}

export class ModelLabels {
  constructor(
    /** From knownModelSteps. */
    private readonly known: ReadonlySet<string>,
    private readonly pricing: Pricing,
  ) {}

  label(model: string | undefined): string {
    if (model === undefined || model === '') return '';
    if (model.length > LIMITS.label_length) return OTHER_MODEL;
    if (this.known.has(model)) return model;
    return this.pricing.entryOf(model) ?? OTHER_MODEL;
  }
}
