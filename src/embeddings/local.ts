import { LRUCache } from 'lru-cache';
import { normalize, type Embedder } from './embedder.js';

/**
 * The built-in embedder: a deterministic hashed n-gram model that needs no network and no
 * weights. Each text becomes a bag of features (word stems, stem bigrams, and character
 * trigrams of each stem, which survive typos and inflections), weighted by sublinear term
 * frequency and hashed with a sign bit into DIMENSIONS buckets. It finds rewordings that
 * keep the content words (order, inflection, punctuation, filler and typos change) and
 * keeps apart texts that differ in a content word; it does not know synonyms. The README
 * gives its precision and recall on test/embeddings/paraphrases.json.
 */

export const LOCAL_DIMENSIONS = 512;
/** The id changes whenever the features change, so stored vectors are never compared across versions. */
export const LOCAL_EMBEDDER_ID = 'local:ngram-v1';
/**
 * The similarity at which two texts count as the same request with this embedder: on
 * test/embeddings/paraphrases.json it keeps precision at 1.0 (see the README for recall).
 */
export const LOCAL_DEFAULT_THRESHOLD = 0.8;
/** Longer texts are embedded by their first this many characters (a bound on the work per text). */
export const LOCAL_MAX_CHARS = 8192;

const STOPWORDS = new Set(
  ('a an the and or but if then so of to in on at by for from with about into over as is are was were be been being am ' +
    'do does did doing have has had having i me my mine we our you your he she it its they them their this that these those ' +
    'there here what which who whom whose can could would should will shall may might must please just also very really ' +
    'hi hello hey thanks thank some any s t d ll re ve m').split(' '),
);

const WEIGHT = { stem: 1, bigram: 0.6, trigram: 0.25 } as const;

/** A light suffix stripper: enough to meet "resetting" with "reset" and "passwords" with "password". */
export function stem(word: string): string {
  if (word.length <= 3) return word;
  for (const [suffix, keep] of SUFFIXES) {
    if (word.length - suffix.length >= 3 && word.endsWith(suffix)) {
      const base = word.slice(0, word.length - suffix.length) + keep;
      // "resetting" → "resett" → "reset": a doubled final consonant goes with the suffix.
      const n = base.length;
      return n > 3 && base[n - 1] === base[n - 2] && !'aeiousl'.includes(base[n - 1]!) ? base.slice(0, -1) : base;
    }
  }
  return word;
}
const SUFFIXES: ReadonlyArray<readonly [string, string]> = [
  ['ations', 'ate'], ['ation', 'ate'], ['nesses', ''], ['ness', ''], ['ments', ''], ['ment', ''],
  ['ingly', ''], ['edly', ''], ['ings', ''], ['ing', ''], ['ies', 'y'], ['ied', 'y'], ['ed', ''], ['es', ''],
  ['ly', ''], ['s', ''],
];

/** FNV-1a, 32 bits. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function add(counts: Map<string, number>, feature: string, weight: number): void {
  counts.set(feature, (counts.get(feature) ?? 0) + weight);
}

/** The weighted features of a text. */
export function features(text: string): Map<string, number> {
  const words = text.slice(0, LOCAL_MAX_CHARS).normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const stems = words.filter((w) => !STOPWORDS.has(w)).map(stem);
  const counts = new Map<string, number>();
  for (let i = 0; i < stems.length; i++) {
    const s = stems[i]!;
    add(counts, `w:${s}`, WEIGHT.stem);
    if (i > 0) add(counts, `b:${stems[i - 1]}_${s}`, WEIGHT.bigram);
    const marked = `^${s}$`;
    for (let j = 0; j + 3 <= marked.length; j++) add(counts, `c:${marked.slice(j, j + 3)}`, WEIGHT.trigram);
  }
  return counts;
}

export function embedLocal(text: string): Float32Array {
  const vector = new Float32Array(LOCAL_DIMENSIONS);
  for (const [feature, weight] of features(text)) {
    const h = hash(feature);
    // Sublinear term frequency: a word said five times is not five times the meaning.
    const value = weight > 1 ? 1 + Math.log(weight) : weight;
    vector[h % LOCAL_DIMENSIONS]! += h & 0x80000000 ? -value : value;
  }
  return normalize(vector);
}

/** Recent texts' vectors kept per embedder, as the upstream embedder keeps them. */
const RECENT_TEXTS = 2048;
/** Longer texts are embedded again each time (the memory stays within ~10 MB). */
const RECENT_MAX_CHARS = 2048;

/**
 * The local embedder, remembering the vectors of recent short texts: the same prompt
 * comes again from other callers and other conversations (each a cache scope of its
 * own), and both the semantic cache and the classifier embed every prompt. Vectors are
 * shared between the callers that get them, which only read them.
 */
export function createLocalEmbedder(): Embedder {
  const recent = new LRUCache<string, Float32Array>({ max: RECENT_TEXTS });
  const embedOne = (text: string): Float32Array => {
    if (text.length > RECENT_MAX_CHARS) return embedLocal(text);
    let vector = recent.get(text);
    if (vector === undefined) recent.set(text, (vector = embedLocal(text)));
    return vector;
  };
  return Object.freeze({
    id: LOCAL_EMBEDDER_ID,
    embed: async (texts: readonly string[]) => texts.map(embedOne),
  });
}
