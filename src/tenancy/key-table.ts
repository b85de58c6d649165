import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { KeyConfig, TeamConfig } from '../config/types.js';
import { NO_LABELS } from '../pipeline/identity.js';

/** A presented key longer than this is refused without being hashed. */
const MAX_KEY_LENGTH = 1024;

/** The sha256 of a key, in hex: what `auth.keys[].sha256` holds. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** One key as compiled: never the key itself, only its digest. */
export interface KeyRecord {
  /** The key's place in the config's list (and in anything built per key alongside it). */
  readonly index: number;
  readonly name: string;
  readonly digest: Buffer;
  readonly team: string | null;
  /** Routers the key may use (its own and its team's lists both apply); null: all. */
  readonly routers: ReadonlySet<string> | null;
  readonly teamRouters: ReadonlySet<string> | null;
  /** Epoch ms from which the key is refused, or null. */
  readonly expiresAt: number | null;
  readonly disabled: boolean;
  readonly labels: Readonly<Record<string, string>>;
}

export type KeyState = 'active' | 'disabled' | 'expired';

export function keyState(record: KeyRecord, now: number): KeyState {
  if (record.disabled) return 'disabled';
  if (record.expiresAt !== null && now >= record.expiresAt) return 'expired';
  return 'active';
}

export function mayUse(record: KeyRecord, router: string): boolean {
  return (record.routers === null || record.routers.has(router)) && (record.teamRouters === null || record.teamRouters.has(router));
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The key a request presents: `Authorization: Bearer <key>`, else `x-api-key: <key>`; undefined when neither. */
export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const auth = single(headers.authorization);
  if (auth !== undefined) {
    const space = auth.indexOf(' ');
    return space > 0 && auth.slice(0, space).toLowerCase() === 'bearer' ? auth.slice(space + 1).trim() : '';
  }
  return single(headers['x-api-key'])?.trim();
}

/**
 * The keys of one config, by the sha256 of the key (a Map built at compile time). A
 * presented key is hashed once and looked up; the digest found is compared again in
 * constant time, so a lookup says nothing about the stored digests but whether one matched.
 */
export class KeyTable {
  readonly byName = new Map<string, KeyRecord>();
  private readonly byDigest = new Map<string, KeyRecord>();

  constructor(keys: readonly KeyConfig[], teams: Readonly<Record<string, TeamConfig>>) {
    for (const [index, key] of keys.entries()) {
      const hex = key.sha256.toLowerCase();
      const team = key.team ?? null;
      const teamRouters = team === null ? undefined : teams[team]?.routers;
      const record: KeyRecord = Object.freeze({
        index,
        name: key.name,
        digest: Buffer.from(hex, 'hex'),
        team,
        routers: key.routers ? new Set(key.routers) : null,
        teamRouters: teamRouters ? new Set(teamRouters) : null,
        expiresAt: key.expires === undefined ? null : Date.parse(key.expires),
        disabled: key.disabled === true,
        labels: key.labels ? Object.freeze({ ...key.labels }) : NO_LABELS,
      });
      this.byDigest.set(hex, record);
      this.byName.set(key.name, record);
    }
  }

  get size(): number {
    return this.byName.size;
  }

  /** The record of a presented key, or null when it matches none. */
  find(presented: string): KeyRecord | null {
    if (presented.length === 0 || presented.length > MAX_KEY_LENGTH) return null;
    const digest = createHash('sha256').update(presented, 'utf8').digest();
    const record = this.byDigest.get(digest.toString('hex'));
    return record && timingSafeEqual(record.digest, digest) ? record : null;
  }
}
