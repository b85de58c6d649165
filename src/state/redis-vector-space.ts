import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { bestMatches, decodeRecord, encodeRecord, type MemoryVectorSpace, type VectorMatch, type VectorRecord, type VectorSpace } from './vector-space.js';

/** What a vector space needs of the redis store (kept narrow: the store owns the connection and its health). */
export interface RedisVectorHost {
  readonly client: Redis | Cluster;
  readonly prefix: string;
  readonly isUp: boolean;
  fellBack(op: string): void;
  failed(op: string, err: Error): void;
}

/**
 * A vector space in Redis: one hash per scope (`<prefix>vec:<space>:<scope hash>`), each
 * field a record (its vector's bytes with its value), the hash expiring with its newest
 * record. A search reads the scope's hash and ranks it here (scopes are bounded by
 * `maxPerScope`); replicas sharing Redis share every record. While Redis is down, a
 * local space answers.
 */
export class RedisVectorSpace implements VectorSpace {
  searches = 0;
  stores = 0;
  private readonly keyPrefix: string;

  constructor(
    private readonly host: RedisVectorHost,
    name: string,
    readonly fallback: MemoryVectorSpace,
  ) {
    this.keyPrefix = `${host.prefix}vec:${name}:`;
  }

  private keyOf(scope: string): string {
    return this.keyPrefix + createHash('sha256').update(scope).digest('hex').slice(0, 32);
  }

  search(scope: string, vector: Float32Array, k: number, minScore: number, now: number): Promise<VectorMatch[]> | VectorMatch[] {
    this.searches++;
    if (!this.host.isUp) {
      this.host.fellBack('vector_search');
      return this.fallback.search(scope, vector, k, minScore, now);
    }
    return this.host.client.hgetallBuffer(this.keyOf(scope)).then(
      (fields) => {
        const records: VectorRecord[] = [];
        for (const id in fields) {
          const record = decodeRecord(id, fields[id]!);
          if (record) records.push(record);
        }
        return bestMatches(records, vector, k, minScore, now);
      },
      (err: Error) => {
        this.host.failed('vector_search', err);
        return this.fallback.search(scope, vector, k, minScore, now);
      },
    );
  }

  add(scope: string, record: VectorRecord): void {
    this.stores++;
    if (!this.host.isUp) {
      this.host.fellBack('vector_add');
      this.fallback.add(scope, record);
      return;
    }
    const key = this.keyOf(scope);
    const ttl = Math.max(1, Math.ceil(record.expiresAt - record.storedAt));
    this.host.client
      .multi()
      .hset(key, record.id, encodeRecord(record))
      .pexpire(key, ttl)
      .hlen(key)
      .exec()
      .then((results) => {
        const size = Number(results?.[2]?.[1] ?? 0);
        if (size > this.fallback.limits.maxPerScope) return this.trim(key, size - this.fallback.limits.maxPerScope);
        return undefined;
      })
      .catch((err: Error) => {
        this.host.failed('vector_add', err);
        this.fallback.add(scope, record);
      });
  }

  /** Drops the `excess` oldest records of a scope's hash. */
  private async trim(key: string, excess: number): Promise<void> {
    const fields = await this.host.client.hgetallBuffer(key);
    const records = Object.entries(fields)
      .map(([id, raw]) => decodeRecord(id, raw) ?? { id, storedAt: 0 })
      .sort((a, b) => a.storedAt - b.storedAt)
      .slice(0, excess);
    if (records.length) await this.host.client.hdel(key, ...records.map((r) => r.id));
  }

  async forget(scope?: string): Promise<number> {
    let removed = await this.fallback.forget(scope);
    if (!this.host.isUp) return removed;
    if (scope !== undefined) {
      const key = this.keyOf(scope);
      const [[, count]] = (await this.host.client.multi().hlen(key).unlink(key).exec()) as [[unknown, number]];
      return removed + Number(count);
    }
    let cursor = '0';
    do {
      const [next, keys] = await this.host.client.scan(cursor, 'MATCH', `${this.keyPrefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
      cursor = next;
      for (const key of keys) removed += await this.host.client.hlen(key);
      if (keys.length) await this.host.client.unlink(...keys);
    } while (cursor !== '0');
    return removed;
  }

  stats(): Record<string, unknown> {
    return { backend: 'redis', searches: this.searches, stores: this.stores, local_fallback: this.fallback.stats() };
  }
}
