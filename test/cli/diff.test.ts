import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliToEnd } from '../support/cli.js';
import { loadConfigText } from '../../src/config/load.js';
import { closePipeline } from '../../src/pipeline/compile.js';
import { describePipeline } from '../../src/review/describe.js';
import { diffModels } from '../../src/review/diff.js';
import { compileOffline } from '../../src/review/offline.js';

const OLD = `# the production gateway
version: 1
upstreams:
  openai:
    provider: openai
    url: https://api.openai.com
    auth: { bearer: sk-old-secret-1234 }
  local: { provider: openai_compatible, url: "http://user:pw-1234@127.0.0.1:8000" }
defaults:
  features:
    retry: { attempts: 2, on: [429, 503] }
default_router: chat
routers:
  chat:
    targets: [{ upstream: openai, model: gpt-4o-mini }, { upstream: local }]
    features: { fallback: {} }
  batch:
    targets: [{ upstream: local }]
    features: { retry: { attempts: 5 } }
`;

/** The same pipeline: keys reordered, flow and block styles swapped, comments changed, defaults spelled out. */
const REORDERED = `version: 1
routers:
  batch:
    features:
      retry: { attempts: 5, backoff: 100ms }   # the schema's default, written out
    targets:
      - upstream: local
  chat:
    features:
      fallback: {}
    targets:
      - { model: gpt-4o-mini, upstream: openai }
      - { upstream: local }
default_router: chat
defaults:
  features:
    retry: { on: [429, 503], attempts: 2 }
upstreams:
  local: { url: "http://user:pw-1234@127.0.0.1:8000", provider: openai_compatible }
  openai: { auth: { bearer: sk-old-secret-1234 }, url: https://api.openai.com, provider: openai }
`;

const changed = (text: string, ...edits: [string, string][]): string => edits.reduce((t, [a, b]) => t.replace(a, b), text);

describe('sidegate diff', () => {
  let dir: string;
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const diff = async (before: string, after: string, ...args: string[]) => {
    const result = await runCliToEnd(['diff', ...args, file('old.yaml', before), file(`new-${Math.random()}.yaml`, after)]);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.split('\n').slice(1).join('\n'); // without the header line naming the files
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sidegate-diff-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('reordered keys, comments and spelled-out defaults: no effective change', async () => {
    assert.equal(await diff(OLD, REORDERED), 'no effective change\n');
    const md = await diff(OLD, REORDERED, '--format', 'markdown');
    assert.match(md, /\*\*No effective change\*\*/);
  });

  test('an added router', async () => {
    const out = await diff(OLD, `${OLD}  fast:\n    aliases: [gpt-fast]\n    strategy: round_robin\n    targets: [{ upstream: openai, model: gpt-4.1-nano }]\n`);
    assert.equal(
      out,
      [
        '',
        'router fast: added',
        '    aliases: [gpt-fast]',
        '    strategy: round_robin',
        '    targets[0].model: gpt-4.1-nano',
        '    targets[0].upstream: openai',
        '    stages: retry',
        '    features.retry.attempts: 2',
        '    features.retry.backoff: 100ms',
        '    features.retry.max_backoff: 2s',
        '    features.retry.max_retry_after: 30s',
        '    features.retry.on: [429, 503]',
        '',
      ].join('\n'),
    );
  });

  test('a retry changed through defaults: shows on every router that inherits it, not on the one that overrides it', async () => {
    const out = await diff(OLD, changed(OLD, ['retry: { attempts: 2, on: [429, 503] }', 'retry: { attempts: 3, on: [429, 503] }']));
    assert.equal(out, ['', 'router chat: changed', '  ~ features.retry.attempts: 2 → 3', ''].join('\n'));
  });

  test('a changed credential is shown as changed, never printed', async () => {
    const out = await diff(OLD, changed(OLD, ['sk-old-secret-1234', 'sk-new-secret-5678'], ['pw-1234', 'pw-5678']));
    assert.equal(
      out,
      [
        '',
        'upstream local: changed',
        '  ~ url: http://user:[redacted]@127.0.0.1:8000, changed (the value is redacted)',
        '',
        'upstream openai: changed',
        '  ~ auth: bearer [redacted], changed (the value is redacted)',
        '',
      ].join('\n'),
    );
    const md = await diff(OLD, changed(OLD, ['sk-old-secret-1234', 'sk-new-secret-5678']), '--format', 'markdown');
    assert.match(md, /\| `auth` \| `bearer \[redacted\]` \| `bearer \[redacted\]` \(changed\) \|/);
    for (const text of [out, md]) assert.doesNotMatch(text, /secret|pw-/);
  });

  test('a credential from the environment: only its change is shown', async () => {
    const text = OLD.replace('sk-old-secret-1234', '"${OPENAI_API_KEY}"');
    const model = async (key: string) => {
      const pipeline = await compileOffline(loadConfigText(text, 'x.yaml', { OPENAI_API_KEY: key }));
      void closePipeline(pipeline);
      return describePipeline(pipeline);
    };
    assert.deepEqual(diffModels(await model('sk-a'), await model('sk-a')), []);
    const [section] = diffModels(await model('sk-a'), await model('sk-b'));
    assert.equal(section!.title, 'upstream openai');
    assert.doesNotMatch(JSON.stringify(section), /sk-/);
  });

  test('git:REF:path reads the old side from git; markdown carries the new pipeline as a Mermaid chart', async () => {
    const repo = mkdtempSync(join(dir, 'repo-'));
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' });
    git('init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'gateway.yaml'), OLD);
    git('add', 'gateway.yaml');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'config');
    writeFileSync(join(repo, 'gateway.yaml'), changed(OLD, ['  batch:\n', '  batch:\n    strategy: random\n']));
    const result = await runCliToEnd(['diff', '--format', 'markdown', `git:main:gateway.yaml`, 'gateway.yaml'], { cwd: repo });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^### sidegate: effective changes to the gateway pipeline\n\n`git:main:gateway.yaml` → `gateway.yaml`/);
    assert.match(result.stdout, /#### router batch \(changed\)\n\n\| key \| before \| after \|\n\| --- \| --- \| --- \|\n\| `strategy` \| `failover` \| `random` \|/);
    assert.match(result.stdout, /```mermaid\nflowchart LR\n/);
    assert.match(result.stdout, /subgraph r1\["router batch"\]/);
    assert.match(result.stdout, /class r1 changed/);
    const bad = await runCliToEnd(['diff', 'git:nope:gateway.yaml', 'gateway.yaml'], { cwd: repo });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /git:nope:gateway\.yaml: invalid config\ncannot read it from git/);
  });

  test('explain --format mermaid: routers → stages → strategy → upstreams', async () => {
    const { code, stdout } = await runCliToEnd(['explain', '--format', 'mermaid', file('explain.yaml', OLD)]);
    assert.equal(code, 0);
    assert.equal(
      stdout,
      [
        'flowchart LR',
        '  request(["request"])',
        '  request -->|"model: chat or any other (default)"| r0_in',
        '  subgraph r0["router chat"]',
        '    direction LR',
        '    r0_in("/router/chat/v1") --> r0_s0["fallback"] --> r0_s1["retry"] --> r0_pick{"failover"}',
        '  end',
        '  r0_pick -->|"1 · gpt-4o-mini"| u0',
        '  r0_pick -->|"2"| u1',
        '  request -->|"model: batch"| r1_in',
        '  subgraph r1["router batch"]',
        '    direction LR',
        '    r1_in("/router/batch/v1") --> r1_s0["retry"] --> r1_pick{"failover"}',
        '  end',
        '  r1_pick -->|"1"| u1',
        '  u0[("openai · openai · https://api.openai.com")]',
        '  u1[("local · openai_compatible · http://user:[redacted]@127.0.0.1:8000")]',
        '',
      ].join('\n'),
    );
  });

  test('usage: two configs', async () => {
    const { code, stderr } = await runCliToEnd(['diff', file('one.yaml', OLD)]);
    assert.equal(code, 2);
    assert.match(stderr, /name two configs, OLD and NEW/);
  });
});
