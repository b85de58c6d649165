/**
 * The semantic_memory stages that exist, so the admin's `DELETE /memory` can find a
 * router's without importing the feature (a config without it never loads its module).
 */
import type { Stage } from '../pipeline/stage.js';

/** What DELETE /memory asks of a memory stage. */
export interface ScopedMemory {
  forget(scope: string): Promise<number>;
}

const memories = new WeakMap<Stage, ScopedMemory>();

/** Called by each semantic_memory stage as it is built. */
export function registerMemoryStage(stage: Stage & ScopedMemory): void {
  memories.set(stage, stage);
}

/** A router's semantic_memory stage, if it has one (for the admin's DELETE /memory). */
export function memoryStageOf(stages: readonly Stage[]): ScopedMemory | null {
  for (const stage of stages) {
    const memory = memories.get(stage);
    if (memory) return memory;
  }
  return null;
}
