import type { Provider } from '../providers/provider.js';
import { specKey, type Embedder, type EmbedderSpec } from './embedder.js';
import { createLocalEmbedder } from './local.js';
import { createUpstreamEmbedder } from './upstream.js';

/**
 * The embedders of one pipeline, made on first use at compile time and shared by every
 * feature that names the same one (so they share its batches and its cache of recent texts).
 */
export class Embedders {
  private readonly made = new Map<string, Embedder>();

  constructor(private readonly providerOf: (upstream: string) => Provider | undefined) {}

  get(spec: EmbedderSpec): Embedder {
    const key = specKey(spec);
    let embedder = this.made.get(key);
    if (!embedder) {
      if (spec === 'local') {
        embedder = createLocalEmbedder();
      } else {
        const provider = this.providerOf(spec.upstream);
        if (!provider) throw new Error(`embedder: no upstream "${spec.upstream}"`);
        embedder = createUpstreamEmbedder(spec.upstream, provider, spec.model);
      }
      this.made.set(key, embedder);
    }
    return embedder;
  }
}
