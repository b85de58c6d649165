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

export const OTHER_MODEL = 'other';

export class ModelLabels {
  private readonly known = new Set<string>();

  constructor(
    config: GatewayConfig,
    private readonly pricing: Pricing,
  ) {
    for (const [name, router] of Object.entries(config.routers)) {
      this.known.add(name);
      for (const alias of router.aliases ?? []) this.known.add(alias);
      for (const target of router.targets) if (target.model !== undefined) this.known.add(target.model);
    }
    for (const upstream of Object.values(config.upstreams)) for (const model of upstream.models ?? []) this.known.add(model);
  }

  label(model: string | undefined): string {
    if (model === undefined || model === '') return '';
    if (model.length > LIMITS.label_length) return OTHER_MODEL;
    if (this.known.has(model)) return model;
    return this.pricing.entryOf(model) ?? OTHER_MODEL;
  }
}
