/**
 * The term lists `content_filter` ships, by category. Short on purpose: words and phrases
 * that are rarely innocent in a prompt or an answer; a config adds its own `terms` and
 * `patterns`. Matched whole-word, case-insensitively, with any whitespace between words.
 */
export const CONTENT_CATEGORIES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  profanity: ['fuck', 'fucking', 'fucker', 'motherfucker', 'shit', 'bullshit', 'asshole', 'bitch', 'bastard', 'dickhead', 'cunt', 'wanker', 'bollocks'],
  violence: ['i will kill you', 'going to kill you', 'beat you to death', 'shoot up the school', 'mass shooting plan', 'slit your throat', 'torture them', 'murder them'],
  self_harm: ['kill myself', 'killing myself', 'end my life', 'suicide method', 'ways to commit suicide', 'self-harm', 'cut myself', 'want to die'],
  hate: ['ethnic cleansing', 'racial purity', 'white power', 'master race', 'subhuman', 'gas the', 'inferior race'],
  sexual: ['porn', 'pornography', 'explicit sex', 'nude photos', 'sexual roleplay', 'nsfw'],
  weapons: ['build a bomb', 'make a bomb', 'pipe bomb', 'nerve agent', 'untraceable gun', 'ghost gun', 'make napalm'],
  drugs: ['cook meth', 'synthesize meth', 'make fentanyl', 'synthesize fentanyl', 'buy cocaine', 'grow cannabis illegally'],
});

/** A whole-word, case-insensitive alternation of `terms`; whitespace in a term matches any run of whitespace. */
export function termsRegex(terms: readonly string[]): RegExp {
  const sources = [...terms]
    .sort((a, b) => b.length - a.length)
    .map((t) => t.trim().replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s+/g, '\\s+'));
  return new RegExp(`(?<![\\p{L}\\p{N}_])(?:${sources.join('|')})(?![\\p{L}\\p{N}_])`, 'giu');
}
