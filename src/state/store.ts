/**
 * Where counters and cached answers live: one small interface, two backends (`memory` in
 * this process, `redis` shared by every replica). The gateway owns one store and hands it
 * to features at compile time, so buckets, spend and cache survive config reloads.
 */
import type { EventEmitter } from 'node:events';
import type { VectorSpace, VectorSpaceLimits } from './vector-space.js';

export type MaybePromise<T> = T | Promise<T>;

/**
 * One token bucket of an atomic check, holding at most `capacity` tokens and gaining one
 * every `interval` ms. Stores keep it as GCRA does: one number, the time at which the
 * bucket is full again (so refills never accumulate rounding, and a full bucket is the
 * same as no bucket at all: nothing to keep).
 */
export interface BucketSpec {
  /** The bucket's key, without the store's prefix. */
  readonly key: string;
  readonly capacity: number;
  /** Milliseconds per token (the window divided by the count). */
  readonly interval: number;
  /** Tokens taken when the check passes (or always, when forced). */
  readonly cost: number;
  /** The check passes when the bucket holds at least this many tokens. */
  readonly need: number;
}

export interface BucketResult {
  /** Every bucket had `need` tokens, so each lost its `cost` (always true when forced). */
  readonly allowed: boolean;
  /** Tokens left in each bucket after the operation, in the order given (may be negative). */
  readonly tokens: readonly number[];
}

/**
 * A budget's level in one period: what was spent (settled), and what requests in flight
 * have reserved and not settled yet.
 */
export interface BudgetLevel {
  readonly spend: number;
  readonly reserved: number;
}

export interface ReserveResult extends BudgetLevel {
  /** Spend and reservations were below the limit, so this reservation was taken. */
  readonly allowed: boolean;
}

export interface SettleResult extends BudgetLevel {
  /** The spend before this settlement (a threshold is crossed by exactly one settlement). */
  readonly before: number;
}

/** One request's hold on a budget, to settle (or release) when it is done. */
export interface BudgetHold {
  /** The budget's key, without the store's prefix (one period of one spender). */
  readonly key: string;
  /** Unique per reservation. */
  readonly id: string;
  readonly usd: number;
}

/** A cached answer, ready to be written. */
export interface CacheEntry {
  readonly status: number;
  /** Response headers to replay (content-type and the like; never hop-by-hop or ours). */
  readonly headers: Readonly<Record<string, string>>;
  /** The body as the upstream sent it. */
  readonly body: Buffer;
  /** For a stream: the body without the usage-only event, or null when it had none. */
  readonly bodyNoUsage: Buffer | null;
  /** `sse` for a recorded stream, `json` for a JSON answer, `other` otherwise. */
  readonly kind: 'sse' | 'json' | 'other';
  /** Epoch milliseconds when it was stored. */
  readonly storedAt: number;
  /** Epoch milliseconds after which it is stale. */
  readonly expiresAt: number;
}

/** One router's cache: an LRU bounded in bytes (memory), or keys with TTL (redis). */
export interface CacheSpace {
  /** The entry, or undefined on a miss (expired entries are misses). Counts hits and misses. */
  get(key: string, now: number): MaybePromise<CacheEntry | undefined>;
  /** Stores an entry (fire and forget: a failure is counted, never thrown). */
  set(key: string, entry: CacheEntry): void;
  /** Entries, bytes, hits, misses, stores, evictions: the router's /stats section. */
  stats(): Record<string, unknown>;
}

export interface StateHealth {
  readonly backend: 'memory' | 'redis';
  /** For redis: `up`, or `down` (counters are local until it returns). */
  readonly redis?: 'up' | 'down';
  readonly failures?: number;
  readonly last_error?: string | null;
  readonly down_since?: string | null;
}

/**
 * The state backend. Events (redis only): `down` (Error) when Redis becomes unreachable,
 * `up` when it is back.
 */
export interface StateStore extends EventEmitter {
  readonly backend: 'memory' | 'redis';
  /**
   * Refills the buckets, then, atomically: when each holds at least its `need`, takes its
   * `cost` from each; `force` takes the costs whatever the levels (charging used tokens).
   */
  take(buckets: readonly BucketSpec[], now: number, force?: boolean): MaybePromise<BucketResult>;
  /**
   * Atomically: drops the budget's reservations that expired by `now`; then, when spend
   * plus reservations is below `limit`, reserves `hold.usd` until `now + holdMs`. The
   * budget's keys expire at `expiresAt` (epoch ms: after its period).
   */
  reserve(hold: BudgetHold, limit: number, now: number, holdMs: number, expiresAt: number): MaybePromise<ReserveResult>;
  /**
   * Atomically: releases the reservation (if it has not expired) and adds `usd` (what the
   * request really cost; 0 for none) to the spend. A null hold only adds spend.
   */
  settle(key: string, hold: BudgetHold | null, usd: number, expiresAt: number): MaybePromise<SettleResult>;
  /** The budget's spend and unexpired reservations (0 and 0 when absent). */
  budgetLevel(key: string, now: number): MaybePromise<BudgetLevel>;
  /**
   * The cache space of one router. Asking again with the same name and size returns the
   * same space (its entries survive a reload); another size makes a new, empty one.
   */
  cacheSpace(name: string, maxSize: number): CacheSpace;
  /**
   * A named vector space (a router's semantic cache, a memory). Asking again with the same
   * name and limits returns the same space (its records survive a reload).
   */
  vectorSpace(name: string, limits: VectorSpaceLimits): VectorSpace;
  /** Empties one router's cache, or every cache; resolves with the number of entries removed. */
  clearCache(name?: string): Promise<number>;
  health(): StateHealth;
  /** Resolves once the backend is connected, or known to be unreachable for now. */
  ready(): Promise<void>;
  close(): Promise<void>;
}
