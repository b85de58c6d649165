/**
 * The schema of tenancy (CONFIG.md "Tenancy"): `auth.keys`, `auth.keys_file` and `teams`.
 * A key's or team's `rate_limit` is the rate_limit feature's shape without `key:`, and its
 * `budget` the budget feature's `{ usd, period }`: both are taken from those features'
 * fragments, so the shapes never drift apart.
 */
import type { SchemaFragment } from '../features/feature.js';
import { SECRET_KEYWORD } from './schema-keywords.js';

/** The most keys one list (`auth.keys`, or the keys file) may hold. */
export const MAX_KEYS = 10_000;
/** The most teams, routers per key or team, and labels per key. */
const MAX_TEAMS = 1_000;
const MAX_ROUTERS = 256;
const MAX_LABELS = 32;

export const EXPIRES_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2}))?$';

function pick(fragment: SchemaFragment, keep: readonly string[], description: string): SchemaFragment {
  const properties = (fragment.properties ?? {}) as Record<string, SchemaFragment>;
  const picked: Record<string, SchemaFragment> = {};
  for (const name of keep) if (properties[name]) picked[name] = structuredClone(properties[name]);
  const required = Array.isArray(fragment.required) ? (fragment.required as string[]).filter((r) => keep.includes(r)) : [];
  return { description, type: 'object', additionalProperties: false, required, properties: picked };
}

const routers = (whose: string): SchemaFragment => ({
  description: `The routers ${whose} may use, by name; any other router answers 403. Without it: every router.`,
  type: 'array',
  uniqueItems: true,
  maxItems: MAX_ROUTERS,
  items: { $ref: '#/$defs/name' },
});

/** `$defs` entries for tenancy, given the rate_limit and budget features' fragments. */
export function tenancyDefs(rateLimit: SchemaFragment, budget: SchemaFragment): Record<string, SchemaFragment> {
  return {
    tenant_rate_limit: pick(
      rateLimit,
      ['requests', 'per', 'burst', 'tokens'],
      'A rate limit of its own, across every router (the rate_limit feature\'s shape without `key`). A request over it ' +
        'gets 429 `rate_limit_exceeded`.',
    ),
    tenant_budget: pick(
      budget,
      ['usd', 'period'],
      'A USD spend limit of its own per calendar period (UTC), across every router. Each request reserves its estimated ' +
        'cost before the call and settles what it really cost after it; once spend and reservations reach `usd`, requests ' +
        'get 429 `budget_exceeded`.',
    ),
    tenant_key: {
      description:
        'One caller of the gateway. It presents its key as `Authorization: Bearer <key>` or `x-api-key: <key>`; the gateway ' +
        'keeps only its sha256 (`sidegate keys new NAME` makes a key and this entry).',
      type: 'object',
      additionalProperties: false,
      required: ['name', 'sha256'],
      properties: {
        name: {
          $ref: '#/$defs/name',
          description: 'The key\'s name: what logs, metrics, /stats and GET /keys show (never the key). Unique.',
        },
        sha256: {
          description: 'The SHA-256 of the key, in hex (`sidegate keys hash` prints it). Unique. Redacted in /config.',
          type: 'string',
          pattern: '^[0-9a-fA-F]{64}$',
          [SECRET_KEYWORD]: true,
        },
        team: { $ref: '#/$defs/name', description: 'The team (an entry of `teams`) whose budget, rate limit and routers also apply.' },
        routers: routers('this key'),
        rate_limit: { $ref: '#/$defs/tenant_rate_limit', description: 'The key\'s own rate limit, across every router.' },
        budget: { $ref: '#/$defs/tenant_budget', description: 'The key\'s own budget, across every router.' },
        expires: {
          title: 'ISO 8601 date or date-time',
          description:
            'From this instant on the key is refused (401), e.g. `2026-01-01` (00:00 UTC) or `2026-01-01T12:00:00Z`. ' +
            'Without it the key does not expire.',
          type: 'string',
          pattern: EXPIRES_PATTERN,
          examples: ['2026-01-01', '2026-01-01T12:00:00Z'],
        },
        disabled: { description: 'Refuse the key (401) without removing it. Default `false`.', type: 'boolean', default: false },
        labels: {
          description: `Free-form labels (at most ${MAX_LABELS}), e.g. \`{ owner: checkout-team }\`; user hooks read them from the request's identity.`,
          type: 'object',
          maxProperties: MAX_LABELS,
          propertyNames: { pattern: '^[A-Za-z0-9_.-]{1,63}$' },
          additionalProperties: { description: 'A label value (at most 256 characters).', type: 'string', maxLength: 256 },
        },
      },
    },
    tenant_keys: {
      description: `Keys (at most ${MAX_KEYS} per list).`,
      type: 'array',
      maxItems: MAX_KEYS,
      items: { $ref: '#/$defs/tenant_key' },
    },
    team: {
      description: 'A team of keys: its budget and rate limit are shared by all of its keys together.',
      type: 'object',
      additionalProperties: false,
      properties: {
        budget: { $ref: '#/$defs/tenant_budget', description: 'The team\'s budget: the spend of all its keys together.' },
        rate_limit: { $ref: '#/$defs/tenant_rate_limit', description: 'The team\'s rate limit: all its keys share one bucket.' },
        routers: routers('the team\'s keys'),
      },
    },
  };
}

/** The top-level `auth` and `teams` properties. */
export function tenancyProperties(): Record<string, SchemaFragment> {
  return {
    auth: {
      description:
        'Tenancy: with keys set, every request needs a known, enabled, unexpired key (else 401, in the caller\'s API ' +
        'format), a key on a router it may not use gets 403, and the caller\'s key is never forwarded: every upstream ' +
        'must inject its own credential (`auth: { bearer: ... }`), so apps never hold provider keys.',
      type: 'object',
      additionalProperties: false,
      properties: {
        keys: { $ref: '#/$defs/tenant_keys', description: `The keys, inline (at most ${MAX_KEYS}).` },
        keys_file: {
          description:
            'A YAML file holding a list of keys in the same shape (e.g. a mounted Kubernetes Secret), relative to the config ' +
            'file. It is watched and reloaded like the config; a bad file never replaces the good one. Its keys join `keys`.',
          type: 'string',
          minLength: 1,
        },
      },
    },
    teams: {
      description: `Teams of keys, by name (at most ${MAX_TEAMS}).`,
      type: 'object',
      maxProperties: MAX_TEAMS,
      propertyNames: { $ref: '#/$defs/name' },
      additionalProperties: { $ref: '#/$defs/team' },
    },
  };
}
