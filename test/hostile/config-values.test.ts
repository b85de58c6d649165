/**
 * Values out of range and secrets in the wrong place. Every duration, size and count has a
 * range (an issue with its line:column past it), and no error path (validate, a failed
 * reload's log line and /stats, explain) ever prints a credential written in the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { runCliToEnd } from '../support/cli.js';
import { startGateway } from '../support/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'sidegate-values-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const SECRET = 'sk-live-4f9c2e7d1b8a6f3e0d5c';

describe('ranges: validate rejects out-of-range durations and sizes with line:col', () => {
  test('drain: 30d, per: 0s, max_body: 0b, max_size: 99999999gb', async () => {
    const path = file(
      'ranges.yaml',
      `version: 1
server: { drain: 30d, max_body: 0b, max_event: 1gb, timeouts: { headers: 0s } }
upstreams: { m: { provider: mock, timeout: 90d } }
routers:
  r:
    targets: [{ upstream: m }]
    features:
      rate_limit: { requests: 1, per: 0s }
      cache: { max_size: 99999999gb }
`,
    );
    const out = await runCliToEnd(['validate', path]);
    assert.equal(out.code, 1);
    assert.equal(
      out.stderr,
      `${path}: invalid config
server.drain: must be between 0ms and 1h (got "30d") (ranges.yaml:2:18)
server.max_body: must be between 1kb and 1gb (got "0b") (ranges.yaml:2:33)
server.max_event: must be between 1kb and 256mb (got "1gb") (ranges.yaml:2:48)
server.timeouts.headers: must be between 100ms and 10m (got "0s") (ranges.yaml:2:74)
upstreams.m.timeout: must be between 1ms and 1d (got "90d") (ranges.yaml:3:44)
routers.r.features.rate_limit.per: must be between 1ms and 30d (got "0s") (ranges.yaml:8:39)
routers.r.features.cache.max_size: must be between 1kb and 16gb (got "99999999gb") (ranges.yaml:9:26)
`,
    );
  });
});

describe('secrets are never echoed', () => {
  const bad = `version: 1
upstreams:
  a: { provider: openai, url: "https://api.example.com/v1?key=${SECRET}", auth: "${SECRET}" }
  b: { provider: openai, url: "https://api.example.com", connections: "${SECRET}" }
  c: { provider: openai, url: "https://user:${SECRET}@api.example.com", auth: { bearer: "" } }
  d: { provider: "${SECRET}", url: "http://x" }
routers:
  r: { targets: [{ upstream: a }] }
`;

  test('validate describes the values without printing them', async () => {
    const out = await runCliToEnd(['validate', file('secrets.yaml', bad)]);
    assert.equal(out.code, 1);
    assert.doesNotMatch(out.stderr, /sk-live/);
    assert.match(out.stderr, /upstreams\.a\.auth: must be one of: "passthrough", \{ bearer: <token> \}, \{ header: <name>, value: <value> \} \(got a string\)/);
    assert.match(out.stderr, /upstreams\.b\.connections: must be an integer \(got a string\)/);
    assert.match(out.stderr, /upstreams\.d\.provider: the value is not one of "openai", "openai_compatible", "azure_openai", "anthropic", "mock"/);
  });

  test('a failed reload: neither the log line nor /stats.last_reload_error holds the secret', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }));
    const gw = await startGateway('version: 1\nupstreams: { m: { provider: mock } }\nrouters: { r: { targets: [{ upstream: m }] } }\n', { logger });
    try {
      await assert.rejects(gw.gateway.reload({ yaml: bad }));
      const stats = (await (await fetch(`${gw.adminUrl}/stats`)).json()) as any;
      assert.match(stats.config.last_reload_error, /upstreams\.a\.auth/);
      assert.doesNotMatch(stats.config.last_reload_error, /sk-live/);
      const logged = lines.find((l) => l.includes('config reload failed'));
      assert.ok(logged);
      assert.doesNotMatch(logged, /sk-live/);
    } finally {
      await gw.close();
    }
  });

  test('explain prints URLs with their password and query values redacted', async () => {
    const path = file(
      'explain.yaml',
      `version: 1
upstreams:
  a: { provider: openai, url: "https://user:${SECRET}@api.example.com/v1?key=${SECRET}&org=acme" }
routers:
  r: { targets: [{ upstream: a }] }
`,
    );
    const out = await runCliToEnd(['explain', path]);
    assert.equal(out.code, 0, out.stderr);
    assert.doesNotMatch(out.stdout, /sk-live/);
    assert.match(out.stdout, /a \(openai, https:\/\/user:\[redacted\]@api\.example\.com\/v1\?key=\[redacted\]&org=\[redacted\], caller's credential/);
  });
});
