/**
 * Work done in steps: a generator that yields between small pieces of work (a router
 * compiled, a chunk of JSON parsed, a few routers compared). `runSteps` runs it to the end
 * at once (startup, the CLI); `runSliced` gives the event loop back whenever `sliceMs` of
 * work has gone by, so that a reload of a config with thousands of routers runs between
 * requests instead of stalling them.
 */
export type Steps<T> = Generator<void, T, void>;

/** How long one slice of reload work may hold the event loop. */
export const SLICE_MS = 5;

export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** Resolves after the I/O that is waiting (requests) has had its turn. */
export const nextTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

export async function runSliced<T>(steps: Steps<T>, sliceMs = SLICE_MS): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
}
