import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { steps } from '../support/mock-upstream.js';
import { loadConfigText } from '../../src/index.js';
import { chat, metric, post, setup, type Setup } from './support.js';

describe('ab_test', () => {
  let s: Setup;
  before(async () => {
    s = await setup(
      `      - ab_test:
          key: header:x-user-id
          seed: exp-1
          variants:
            - { name: control, weight: 70 }
            - { name: mini, weight: 30, model: gpt-4o-mini, params: { temperature: 0.2 } }`,
      {
        routers: `  split:
    targets: [{ upstream: up, model: target-model }, { upstream: other }]
    interceptors:
      - ab_test:
          key: header:x-user-id
          variants:
            - { name: elsewhere, weight: 1, router: plain }
            - { name: second, weight: 1, target: other }
  plain:
    targets: [{ upstream: up }]
    interceptors: []`,
        top: '  other: { provider: mock }',
      },
    );
  });
  after(() => s.close());

  test('a caller keeps its variant; the variant is answered, logged, counted and applied', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      s.upstream.script(steps.chat());
      const res = await chat(s.gw.url, 'hi', {}, { 'x-user-id': 'user-42', 'x-request-id': `ab-${i}` });
      seen.add(res.headers.get('x-sidegate-variant')!);
    }
    assert.equal(seen.size, 1, 'sticky');
    const variant = [...seen][0]!;
    const sent = s.upstream.received.at(-1)!.json();
    assert.equal(sent.model, variant === 'mini' ? 'gpt-4o-mini' : 'gpt-4o');
    assert.equal(sent.temperature, variant === 'mini' ? 0.2 : undefined);
    assert.equal((await s.log.of('ab-4')).variant, variant);
    assert.equal(await metric(s.gw.adminUrl, 'ai_gateway_interceptor_actions_total', { router: 'main', interceptor: 'ab_test', action: 'assign', category: variant }), 5);
  });

  test('callers spread by weight (within six standard deviations)', async () => {
    const n = 400;
    const counts: Record<string, number> = { control: 0, mini: 0 };
    s.upstream.fallback = steps.chat();
    for (let i = 0; i < n; i++) {
      const res = await chat(s.gw.url, 'hi', {}, { 'x-user-id': `u-${i}` });
      counts[res.headers.get('x-sidegate-variant')!]!++;
    }
    const tolerance = 6 * Math.sqrt(n * 0.3 * 0.7);
    assert.ok(Math.abs(counts.mini! - n * 0.3) <= tolerance, JSON.stringify(counts));
    assert.equal(counts.control! + counts.mini!, n);
  });

  test('a variant may send the request to another router, or put a target first', async () => {
    const found: Record<string, string | null> = {};
    for (let i = 0; i < 40 && Object.keys(found).length < 2; i++) {
      const res = await chat(s.gw.url, 'hi', { model: 'split' }, { 'x-user-id': `r-${i}` });
      assert.equal(res.status, 200);
      found[res.headers.get('x-sidegate-variant')!] = res.headers.get('x-sidegate-target');
    }
    // `elsewhere` moved to router plain, whose target is `up` (split's first target would have rewritten the model).
    assert.equal(found.elsewhere, 'up');
    assert.equal(s.upstream.received.find((r) => r.json().model === 'target-model'), undefined);
    assert.equal(found.second, 'other');
  });
});

describe('transform', () => {
  let s: Setup;
  before(async () => {
    s = await setup(`      - transform:
          set: { temperature: 0.2, metadata.source: gateway }
          default: { user: anon }
          remove: [logprobs]
          rename: { max_tokens: max_completion_tokens }
          headers: { set: { x-team: payments }, remove: [x-debug] }`);
  });
  after(() => s.close());

  test('set overrides, default fills only what is missing, remove, rename and headers', async () => {
    s.upstream.script(steps.chat(), steps.chat());
    await chat(s.gw.url, 'hi', { temperature: 1, logprobs: true, max_tokens: 5 }, { 'x-debug': '1' });
    const first = s.upstream.received.at(-1)!;
    assert.deepEqual(first.json(), { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], temperature: 0.2, max_completion_tokens: 5, user: 'anon', metadata: { source: 'gateway' } });
    assert.equal(first.headers['x-team'], 'payments');
    assert.equal(first.headers['x-debug'], undefined);
    await chat(s.gw.url, 'hi', { user: 'u-7' });
    assert.equal(s.upstream.received.at(-1)!.json().user, 'u-7');
  });

  test('header values are secrets to /config', async () => {
    const config = (await (await fetch(`${s.gw.adminUrl}/config`)).json()) as any;
    assert.equal(config.defaults.interceptors[0].transform.headers.set['x-team'], '[redacted]');
  });
});

describe('prompt', () => {
  let s: Setup;
  before(async () => {
    s = await setup('      - prompt: { name: support, variables: { tier: gold } }', {
      top: `prompts:
  support:
    template: "You support {{product}} for {{ user }} ({{tier}} tier, plan {{plan}})."
    variables: { product: Acme, user: { header: x-user-name }, plan: { body: metadata.plan } }`,
    });
  });
  after(() => s.close());

  test('the template goes first, with variables from the config, a header and the body', async () => {
    s.upstream.script(steps.chat());
    const res = await chat(s.gw.url, 'hi', { metadata: { plan: 'pro' } }, { 'x-user-name': 'Ann' });
    assert.equal(res.status, 200);
    assert.deepEqual(s.upstream.received.at(-1)!.json().messages, [
      { role: 'system', content: 'You support Acme for Ann (gold tier, plan pro).' },
      { role: 'user', content: 'hi' },
    ]);
  });

  test('an Anthropic request gets it as its system text, before its own', async () => {
    s.upstream.script(steps.json(200, {}));
    const res = await post(s.gw.url, '/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 9, system: 'Be brief.', metadata: { plan: 'free' }, messages: [{ role: 'user', content: 'hi' }] }, { 'x-user-name': 'Bo' });
    assert.equal(res.status, 200);
    assert.equal(s.upstream.received.at(-1)!.json().system, 'You support Acme for Bo (gold tier, plan free).\n\nBe brief.');
  });

  test('a variable the request lacks is a 400 naming it, never a blank', async () => {
    const res = await chat(s.gw.url, 'hi', { metadata: { plan: 'pro' } });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json().error, {
      message: 'The prompt "support" needs the variable "user" from the header x-user-name, and the request has none.',
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_request',
    });
  });

  test('an unknown prompt, or a variable nobody declares, is a config error with line:col', () => {
    const base = (item: string) => `version: 1
upstreams: { up: { provider: mock } }
prompts:
  support: { template: "Hi {{name}}" }
routers:
  main:
    targets: [{ upstream: up }]
    interceptors:
      - prompt: ${item}
`;
    assert.throws(() => loadConfigText(base('{ name: suport }')), /routers\.main\.interceptors\[0\]\.prompt\.name: unknown prompt "suport" \(<inline>:9:25\), did you mean "support"\?/);
    assert.throws(() => loadConfigText(base('{ name: support }')), /prompt "support" uses \{\{name\}\}, which neither prompts\.support\.variables nor this interceptor's variables declare/);
    assert.doesNotThrow(() => loadConfigText(base('{ name: support, variables: { name: Bo } }')));
    const filter = base('{ name: support, variables: { name: Bo } }').replace('- prompt:', '- content_filter: { patterns: ["(unclosed"] }\n      - prompt:');
    assert.throws(() => loadConfigText(filter), /content_filter\.patterns\[0\]: is not a valid JavaScript regular expression \(<inline>:9:38\)/);
  });
});

describe('custom: a hooks module from the config', () => {
  let dir: string;
  let s: Setup;
  const hook = (tag: string) => `export default (options) => ({
  name: 'audit',
  priority: options.early ? 150 : undefined,
  onRequest(ctx) { ctx.req.headers['x-audit'] = '${tag}:' + (options.label ?? ''); },
});
`;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sidegate-hooks-'));
    await writeFile(join(dir, 'audit.mjs'), hook('v1'));
    s = await setup(`      - custom: { module: ${join(dir, 'audit.mjs')}, options: { label: one, early: true } }`, {
      features: '{ rate_limit: { requests: 1, per: 1h, key: global } }',
    });
  });
  after(async () => {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('its priority places it before rate_limit: it runs even for the refused request', async () => {
    s.upstream.script(steps.chat());
    assert.equal((await chat(s.gw.url, 'a')).status, 200);
    assert.equal(s.upstream.received.at(-1)!.headers['x-audit'], 'v1:one');
    assert.equal((await chat(s.gw.url, 'b')).status, 429);
    const explain = s.gw.gateway.pipeline.routers.get('main')!.explain.map((l) => l.trim().split(/\s+/).slice(0, 3).join(' '));
    assert.deepEqual(explain, ['150 interceptor custom:', '200 feature rate_limit:']);
  });

  test('a reload picks up the changed file; a broken file never replaces the good one', async () => {
    await writeFile(join(dir, 'audit.mjs'), hook('v2'));
    const yaml = s.yaml.replace('key: global', 'key: client_ip'); // a fresh bucket: the old one is spent
    const result = await s.gw.gateway.reload({ yaml });
    assert.equal(result.changed, true);
    s.upstream.script(steps.chat());
    await chat(s.gw.url, 'c');
    assert.equal(s.upstream.received.at(-1)!.headers['x-audit'], 'v2:one');
    await writeFile(join(dir, 'audit.mjs'), 'export default {{ broken');
    const failed = once(s.gw.gateway, 'reload_error');
    await assert.rejects(s.gw.gateway.reload(), /custom: cannot load module/);
    await failed;
    s.upstream.script(steps.chat());
    await chat(s.gw.url, 'd');
    assert.equal(s.upstream.received.at(-1)!.headers['x-audit'], 'v2:one', 'the running config kept its module');
  });

  test('a module that exports no stage is refused at load time', async () => {
    await writeFile(join(dir, 'empty.mjs'), 'export const nothing = 1;');
    await assert.rejects(
      s.gw.gateway.reload({ yaml: s.yaml.replace('audit.mjs', 'empty.mjs') }),
      /custom: module .*empty\.mjs: its stage needs a `name`/,
    );
  });
});

describe('explain shows interceptors in order', () => {
  let s: Setup;
  before(async () => {
    s = await setup(`      - pii_detector: { entities: [email], action: redact }
      - content_filter: { categories: [profanity] }
      - prompt_guard: {}
      - prompt_shield: {}`);
  });
  after(() => s.close());

  test('each at 500 + its place in the list', () => {
    const lines = s.gw.gateway.pipeline.routers.get('main')!.explain.map((l) => l.trim());
    assert.deepEqual(lines, [
      '500  interceptor pii_detector: redact email (on request)',
      '501  interceptor content_filter: block profanity (on both)',
      '502  interceptor prompt_guard: block prompts scoring ≥ 0.8 for injection or jailbreak (request side)',
      "503  interceptor prompt_shield: block answers repeating ≥ 30% of the system prompt's 5-word sequences (response side, streams included)",
    ]);
  });
});
