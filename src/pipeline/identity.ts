/**
 * Who the caller is, decided once per request (tenancy's key check, or a user hook's
 * `authenticate`) and read by everything after it: rate limits and budgets per key or
 * team, cache isolation, the access line and metrics. Names come from the config (a key's
 * `name`, never the key itself), so whatever reads them stays bounded by the config.
 */
export interface Identity {
  /** The key's name (`auth.keys[].name`), or null when the caller is not a known key. */
  readonly key: string | null;
  /** The key's team, or null. */
  readonly team: string | null;
  /** The key's free-form `labels`. */
  readonly labels: Readonly<Record<string, string>>;
  /** The client's address (honouring `server.trusted_proxies`). */
  readonly clientIp: string;
}

export const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});
