/**
 * Work done in steps: a generator that yields between small pieces of work (a router
 * compiled, a chunk of JSON parsed, a few routers compared). `runSteps` runs it to the end
 * at once (startup, the CLI); `runSliced` runs it in the background, between requests, so
 * that a reload of a config with thousands of routers does not stall them.
 *
 * Every background job of the process shares one slice per turn of the event loop: a
 * reload that compiles while /stats renders and the previous pipeline's garbage is frozen
 * holds the loop for one slice, not one slice each. A request waits behind at most one
 * slice at each of its hops (read, upstream, answer).
 */
export type Steps<T> = Generator<void, T, void>;

/** How long the background work of one loop turn may hold the event loop. */
export const SLICE_MS = 2;

export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

interface Job {
  /** Runs one step; true when the job is finished (settled). */
  step(): boolean;
}

/** The background jobs, served in turn: each loop turn runs steps round-robin until the slice is used. */
const jobs: Job[] = [];
let scheduled = false;

function runTurn(): void {
  scheduled = false;
  const sliceEnd = performance.now() + SLICE_MS;
  let i = 0;
  while (jobs.length > 0) {
    if (i >= jobs.length) i = 0;
    if (jobs[i]!.step()) jobs.splice(i, 1);
    else i++;
    if (performance.now() >= sliceEnd) break;
  }
  if (jobs.length > 0) schedule();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(runTurn);
}

/** Runs `steps` in the background, in the process's shared slices; resolves with its value. */
export function runSliced<T>(steps: Steps<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    jobs.push({
      step(): boolean {
        try {
          const step = steps.next();
          if (!step.done) return false;
          resolve(step.value);
        } catch (err) {
          reject(err);
        }
        return true;
      },
    });
    schedule();
  });
}
