import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import { keyState, mayUse, presentedKey, type KeyRecord, type KeyTable } from './key-table.js';

const CHALLENGE = { 'www-authenticate': 'Bearer realm="sidegate"' };

const MISSING = 'Missing API key: send your gateway key as `Authorization: Bearer <key>` or `x-api-key: <key>`.';
/** One message for unknown, disabled and expired keys: the answer tells nothing about which keys exist. */
const INVALID = 'Invalid API key: the key is unknown, disabled or expired.';

export function unauthorized(message: string): GatewayError {
  return new GatewayError('invalid_api_key', message, { headers: CHALLENGE });
}

/** Decides who presents a request's credentials; answers the key's record, or the 401/403 to send. */
export class Authenticator {
  /** Refusals by reason, for /stats. */
  readonly refused = { missing: 0, invalid: 0, forbidden: 0 };
  /** Keys whose expiry was already logged (once per key and process). */
  private readonly expiredSeen = new Set<string>();

  constructor(
    readonly table: KeyTable,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {}

  /** The record of the key `req` presents, allowed on `router`; or throws the GatewayError to answer with. */
  check(req: IncomingMessage, router: string): KeyRecord {
    const presented = presentedKey(req.headers);
    if (presented === undefined || presented === '') {
      this.refused.missing++;
      throw unauthorized(MISSING);
    }
    const record = this.table.find(presented);
    if (!record || !this.usable(record)) {
      this.refused.invalid++;
      throw unauthorized(INVALID);
    }
    if (!mayUse(record, router)) {
      this.refused.forbidden++;
      throw new GatewayError('router_not_allowed', `This key may not use router "${router}".`);
    }
    return record;
  }

  private usable(record: KeyRecord): boolean {
    const state = keyState(record, this.now());
    if (state === 'expired' && !this.expiredSeen.has(record.name)) {
      this.expiredSeen.add(record.name);
      // The hook point for a `key.expired` event.
      this.logger.warn({ key: record.name, team: record.team, expired_at: new Date(record.expiresAt!).toISOString() }, 'tenancy: a key was used after it expired');
    }
    return state === 'active';
  }
}
