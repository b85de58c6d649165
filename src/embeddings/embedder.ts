/**
 * One embedder interface for everything that compares texts by meaning (semantic_cache,
 * semantic_memory, the semantic_classifier interceptor). Vectors are unit length, so
 * cosine similarity is a dot product.
 */
export interface Embedder {
  /**
   * Names the vector space: vectors of two embedders with different ids are never
   * compared (a cache keys its entries by it).
   */
  readonly id: string;
  /** Unit vectors, one per text, in order. Rejects when the embedder cannot answer. */
  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]>;
}

/** How a config names an embedder: `local`, or a named upstream's `/v1/embeddings` with a model. */
export type EmbedderSpec = 'local' | { upstream: string; model: string };

/** The schema of an `embedder:` value, shared by every feature that takes one. */
export const EMBEDDER_SCHEMA = Object.freeze({
  description:
    'Where embeddings come from: `local` (built in: a deterministic hashed n-gram embedder, no network, no download) ' +
    'or `{ upstream: NAME, model: M }` (that upstream\'s `/v1/embeddings`, batched, with a small cache of recent texts; ' +
    'the upstream needs an injected credential, since no caller\'s key is at hand).',
  oneOf: [
    { const: 'local', description: 'The built-in local embedder.' },
    {
      type: 'object',
      additionalProperties: false,
      required: ['upstream', 'model'],
      properties: {
        upstream: { type: 'string', minLength: 1, description: 'An upstream under `upstreams:` that serves `/v1/embeddings`.' },
        model: { type: 'string', minLength: 1, maxLength: 256, description: 'The embedding model, e.g. `text-embedding-3-small`.' },
      },
    },
  ],
});

/** A stable text for an embedder spec (the key of the pipeline's shared instances). */
export function specKey(spec: EmbedderSpec): string {
  return spec === 'local' ? 'local' : `upstream:${spec.upstream}:${spec.model}`;
}

/** Scales a vector to unit length in place (a zero vector stays zero). */
export function normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!;
  if (sum === 0) return vector;
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < vector.length; i++) vector[i]! *= scale;
  return vector;
}

/** Cosine similarity of two unit vectors of the same length. */
export function cosine(a: Float32Array, b: Float32Array): number {
  const n = Math.min(a.length, b.length);
  // Four running sums: fewer dependent additions per element, about twice as fast in V8.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[i]! * b[i]!;
    s1 += a[i + 1]! * b[i + 1]!;
    s2 += a[i + 2]! * b[i + 2]!;
    s3 += a[i + 3]! * b[i + 3]!;
  }
  for (; i < n; i++) s0 += a[i]! * b[i]!;
  return s0 + s1 + s2 + s3;
}
