import type { Steps } from '../util/slices.js';

/** Freezes a value and everything it holds (a loaded config is immutable). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

/** Objects frozen per step of deepFreezeSteps. */
const FREEZE_STEP = 2000;

/** `deepFreeze` in steps (a reload's config, on the event loop), depth first without recursion. */
export function* deepFreezeSteps<T>(value: T): Steps<T> {
  const stack: unknown[] = [value];
  let count = 0;
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== 'object' || Object.isFrozen(node)) continue;
    Object.freeze(node);
    for (const item of Object.values(node)) if (item !== null && typeof item === 'object') stack.push(item);
    if (++count % FREEZE_STEP === 0) yield;
  }
  return value;
}
