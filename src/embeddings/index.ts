/** Embeddings for the semantic features: one interface, a local and an upstream implementation, a vector index. */
export { cosine, EMBEDDER_SCHEMA, normalize, specKey, type Embedder, type EmbedderSpec } from './embedder.js';
export { createLocalEmbedder, embedLocal, LOCAL_DEFAULT_THRESHOLD, LOCAL_DIMENSIONS, LOCAL_EMBEDDER_ID } from './local.js';
export { createUpstreamEmbedder, type UpstreamEmbedderOptions } from './upstream.js';
export { VectorIndex, type Match } from './vector-index.js';
export { Embedders } from './create.js';
