import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { runCliToEnd } from '../support/cli.js';
import { MockUpstream, steps } from '../support/mock-upstream.js';

const GATEWAY = `version: 1
upstreams:
  openai: { provider: openai, url: https://api.openai.com, auth: { bearer: "\${OPENAI_API_KEY}" } }
  local: { provider: openai_compatible, url: http://127.0.0.1:9 }
default_router: support
routers:
  support:
    targets: [{ upstream: openai, model: gpt-4o-mini }]
  onprem:
    aliases: [llama]
    targets: [{ upstream: local, model: llama-3.1-8b }]
  judge:
    targets: [{ upstream: openai, model: gpt-4o }]
`;

const CASES = `cases:
  - name: greets-politely
    router: support
    messages: [{ role: user, content: hello }]
    mock: "Hello! How can I help?"
    expect: { contains: help, not_contains: [sorry] }
    tags: [smoke]
  - name: refuses-rudely
    router: support
    messages: [{ role: user, content: hello }]
    mock: "Sorry, no."
    expect: { contains: help }
    tags: [smoke]
  - name: answers-json
    model: gpt-4o-mini
    messages: [{ role: user, content: "give me json" }]
    mock: '{"ok": true, "items": [1, 2]}'
    expect: { json_schema: { type: object, required: [ok, items], properties: { items: { type: array } } } }
    tags: [format]
  - name: streams
    router: support
    body: { stream: true, messages: [{ role: user, content: count }] }
    mock: "one two three"
    expect: { exact: "one two three", regex: "^one\\\\s+two" }
    tags: [format]
  - name: llama-goes-on-prem
    model: llama
    messages: [{ role: user, content: hi }]
    mock: hi
    expect: { target: local, exact: hi }
  - name: judged-polite
    router: support
    messages: [{ role: user, content: "I lost my card" }]
    mock: "I am sorry to hear that; I have blocked it for you."
    expect: { llm: { router: judge, rubric: "Empathetic and says what was done", threshold: 0.8, mock: '{"score": 0.9, "reason": "empathetic"}' } }
    tags: [quality]
  - name: judged-curt
    router: support
    messages: [{ role: user, content: "I lost my card" }]
    mock: "Call the bank."
    expect: { llm: { router: judge, rubric: "Empathetic and says what was done", mock: '{"score": 0.2, "reason": "curt"}' } }
    tags: [quality]
  - name: unknown-router-is-a-404
    router: nope
    messages: [{ role: user, content: hi }]
    expect: { status: 404, contains: 'Router "nope" does not exist' }
`;

describe('sidegate eval', () => {
  let dir: string;
  let config: string;
  let cases: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sidegate-eval-'));
    config = join(dir, 'gateway.yaml');
    cases = join(dir, 'cases.yaml');
    writeFileSync(config, GATEWAY);
    writeFileSync(cases, CASES);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('offline: the score table, JUnit and JSON; passing a threshold exits 0, failing one exits 1', async () => {
    const junit = join(dir, 'out.xml');
    const json = join(dir, 'out.json');
    const env = { OPENAI_API_KEY: undefined }; // offline needs no key: the variable is a placeholder
    const [pass, fail] = await Promise.all([
      runCliToEnd(['eval', cases, '-c', config, '--threshold', '0.75', '--junit', junit, '--json', json], { env }),
      runCliToEnd(['eval', cases, '-c', config, '--threshold', '0.8'], { env }),
    ]);
    assert.equal(pass.code, 0, pass.stderr + pass.stdout);
    assert.equal(fail.code, 1, fail.stdout);
    assert.match(pass.stdout, /^case +result +score +status +latency +cost +reason\n/);
    assert.match(pass.stdout, /\ngreets-politely +PASS +1\.00 +200 +[\d.]+ ms +\$[\d.e-]+\n/);
    assert.match(pass.stdout, /\nrefuses-rudely +FAIL +0\.00 +200 .* expected to contain "help"; got "Sorry, no\."\n/);
    assert.match(pass.stdout, /\njudged-curt +FAIL +0\.20 .* the judge scored 0\.2 \(below 0\.7\): curt\n/);
    assert.match(pass.stdout, /\nsmoke +1\/2 +50\.0%\n/);
    assert.match(pass.stdout, /\ntotal +6\/8 +75\.0%\n/);
    assert.match(pass.stdout, /\nPASS: 75\.0% of cases passed \(threshold 75\.0%\)/);
    assert.match(fail.stdout, /\nFAIL: 75\.0% of cases passed \(threshold 80\.0%\)/);

    const xml = readFileSync(junit, 'utf8');
    assert.equal(XMLValidator.validate(xml), true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml);
    assert.equal(doc.testsuites.tests, '8');
    assert.equal(doc.testsuites.failures, '2');
    const testcases = doc.testsuites.testsuite.testcase as { name: string; classname: string; time: string; failure?: { message: string } }[];
    assert.deepEqual(testcases.map((t) => t.name), ['greets-politely', 'refuses-rudely', 'answers-json', 'streams', 'llama-goes-on-prem', 'judged-polite', 'judged-curt', 'unknown-router-is-a-404']);
    assert.equal(testcases[0]!.classname, 'smoke');
    assert.equal(testcases[0]!.failure, undefined);
    assert.match(testcases[1]!.failure!.message, /expected to contain "help"/);
    assert.ok(Number(testcases[0]!.time) >= 0);

    const report = JSON.parse(readFileSync(json, 'utf8'));
    assert.deepEqual(report.summary.total, { passed: 6, total: 8, rate: 0.75 });
    assert.deepEqual(report.summary.tags.format, { passed: 2, total: 2, rate: 1 });
    assert.equal(report.summary.passed, true);
    const byName = Object.fromEntries(report.cases.map((c: { name: string }) => [c.name, c]));
    assert.equal(byName['llama-goes-on-prem'].target, 'local');
    assert.equal(byName.streams.answer, 'one two three');
    assert.ok(byName['greets-politely'].costUsd > 0, 'gpt-4o-mini is priced');
    assert.equal(typeof byName['greets-politely'].latencyMs, 'number');
  });

  test('--tag filters the cases; a bad cases file is a usage error with line:column', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'cases:\n  - name: x\n    messages: [{ role: user, content: hi }]\n    expect: { contians: hi }\n');
    const [smoke, invalid, none] = await Promise.all([
      runCliToEnd(['eval', cases, '-c', config, '--no-env', '--tag', 'smoke', '--threshold', '0.5']),
      runCliToEnd(['eval', bad, '-c', config, '--no-env']),
      runCliToEnd(['eval', cases, '-c', config, '--no-env', '--tag', 'missing']),
    ]);
    assert.equal(smoke.code, 0, smoke.stderr);
    assert.match(smoke.stdout, /\ntotal +1\/2 +50\.0%\n/);
    assert.doesNotMatch(smoke.stdout, /answers-json/);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /bad\.yaml: invalid evaluation cases\ncases\[0\]\.expect: unknown key "contians" \(bad\.yaml:4:13\)/);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no case has the tag missing/);
  });

  test('--live sends the cases to the configured upstreams', async () => {
    const upstream = await MockUpstream.start();
    try {
      upstream.script(steps.chat('Hello from the live upstream, how can I help?'), steps.chat('nope'));
      const live = join(dir, 'live.yaml');
      writeFileSync(live, `version: 1\nupstreams:\n  up: { provider: openai, url: ${upstream.url} }\nrouters:\n  support: { targets: [{ upstream: up, model: gpt-4o-mini }] }\n`);
      const liveCases = join(dir, 'live-cases.yaml');
      writeFileSync(liveCases, CASES.split('  - name: answers-json')[0]!);
      const result = await runCliToEnd(['eval', liveCases, '-c', live, '--live', '--concurrency', '1']);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stdout, /\ngreets-politely +PASS/);
      assert.match(result.stdout, /\nrefuses-rudely +FAIL .* got "nope"/);
      assert.equal(upstream.received.length, 2);
      assert.equal(upstream.received[0]!.json().model, 'gpt-4o-mini');
      assert.deepEqual(upstream.received[0]!.json().messages, [{ role: 'user', content: 'hello' }]);
    } finally {
      await upstream.close();
    }
  });
});
