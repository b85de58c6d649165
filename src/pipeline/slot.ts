/**
 * Typed per-request state. A stage makes its slot once, at module or compile time, and
 * reads and writes it on each request's context: `ctx.get(slot)` is typed, and two stages
 * can never collide on a name.
 */
export class Slot<T> {
  /** A name for debugging; identity is the object itself. */
  constructor(readonly name: string) {}
  /** Only carries the type. */
  declare readonly type?: T;
}

export function slot<T>(name: string): Slot<T> {
  return new Slot<T>(name);
}
