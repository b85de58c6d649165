/**
 * Checks of tenancy the schema cannot express: key names and hashes are unique (across
 * `auth.keys` and the keys file), a key's `team` and every `routers` entry name something
 * that exists, `expires` is a real date, and no upstream forwards the caller's credential
 * (with keys set, the caller's credential is a gateway key, never a provider's).
 */
import type { ConfigIssue } from './load.js';
import type { DataPath, Locator } from './positions.js';
import { closest } from './suggest.js';
import type { GatewayConfig, KeyConfig } from './types.js';

/** A key with where it was written (the config, or the keys file). */
export interface PlacedKey {
  readonly key: KeyConfig;
  readonly path: DataPath;
  readonly locator: Locator;
}

export function checkTenancy(config: GatewayConfig, keys: readonly PlacedKey[], main: Locator): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const teams = Object.keys(config.teams ?? {});
  const routers = Object.keys(config.routers);
  const names = new Map<string, PlacedKey>();
  const hashes = new Map<string, PlacedKey>();
  const where = (p: PlacedKey): string => (p.locator === main ? 'auth.keys' : 'the keys file');
  const routerList = (locator: Locator, path: DataPath, list: readonly string[] | undefined): void => {
    list?.forEach((name, i) => {
      if (routers.includes(name)) return;
      const suggestion = closest(name, routers);
      issues.push(locator.issue([...path, 'routers', i], `unknown router ${JSON.stringify(name)}${suggestion ? '' : `; routers are: ${routers.join(', ')}`}`, { suggestion }));
    });
  };
  for (const placed of keys) {
    const { key, path, locator } = placed;
    const sameName = names.get(key.name);
    if (sameName) issues.push(locator.issue([...path, 'name'], `key name ${JSON.stringify(key.name)} is already used (in ${where(sameName)})`));
    else names.set(key.name, placed);
    const hex = key.sha256.toLowerCase();
    const sameHash = hashes.get(hex);
    if (sameHash) issues.push(locator.issue([...path, 'sha256'], `this sha256 is already the hash of key "${sameHash.key.name}": each key is a different secret`));
    else hashes.set(hex, placed);
    if (key.team !== undefined && !teams.includes(key.team)) {
      const suggestion = closest(key.team, teams);
      const list = teams.length ? `; teams are: ${teams.join(', ')}` : '; no `teams` are defined';
      issues.push(locator.issue([...path, 'team'], `unknown team ${JSON.stringify(key.team)}${suggestion ? '' : list}`, { suggestion }));
    }
    routerList(locator, path, key.routers);
    if (key.expires !== undefined && Number.isNaN(Date.parse(key.expires))) {
      issues.push(locator.issue([...path, 'expires'], `${JSON.stringify(key.expires)} is not a real date`));
    }
  }
  for (const [name, team] of Object.entries(config.teams ?? {})) routerList(main, ['teams', name], team.routers);
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    if (upstream.provider === 'mock' || (upstream.auth !== undefined && upstream.auth !== 'passthrough')) continue;
    issues.push(
      main.issue(
        ['upstreams', name, upstream.auth === undefined ? 'provider' : 'auth'],
        `upstream "${name}" would forward the caller's credential (auth: passthrough${upstream.auth === undefined ? ', the default' : ''}), but with auth.keys ` +
          'the caller holds a gateway key: give the upstream its own, e.g. auth: { bearer: "${OPENAI_API_KEY}" }',
      ),
    );
  }
  return issues;
}
