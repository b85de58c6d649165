/**
 * Runs checks one after another, awaiting only those that return a promise: a check on
 * local counters stays synchronous, one on a shared store makes the rest wait for it.
 * A check refuses by throwing (or rejecting); the ones after it do not run.
 */
export function inSequence(checks: readonly (() => void | Promise<void>)[]): void | Promise<void> {
  for (let i = 0; i < checks.length; i++) {
    const result = checks[i]!();
    if (result instanceof Promise) return result.then(() => inSequence(checks.slice(i + 1)));
  }
}
