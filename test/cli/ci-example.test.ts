import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { XMLParser } from 'fast-xml-parser';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const WORKFLOW = parse(readFileSync('examples/ci/sidegate-config.yml', 'utf8'));
/** What GitHub substitutes for the workflow's expressions on a pull request. */
const EXPRESSIONS: Record<string, string> = { 'github.base_ref': 'main', 'github.token': 'a-token', 'github.event.pull_request.number': '7' };

type Step = { id?: string; run?: string; env?: Record<string, string> };

function substitute(value: string): string {
  return value.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, name: string) => {
    assert.ok(name in EXPRESSIONS, `the test knows the expression ${name}`);
    return EXPRESSIONS[name]!;
  });
}

describe('examples/ci: the workflow run on a pull request', () => {
  let repo: string;
  let bin: string;
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=ci', '-c', 'user.email=ci@example.com', ...args], { cwd: repo, encoding: 'utf8' });

  /** Runs one step's `run` as the runner would (bash -e), with the job's and the step's env. */
  const runStep = (id: string) => {
    const step = (WORKFLOW.jobs.check.steps as Step[]).find((s) => s.id === id);
    assert.ok(step?.run, `a step with id ${id}`);
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}`, GITHUB_STEP_SUMMARY: join(repo, 'summary.md'), GH_LOG: join(repo, 'gh.log') };
    for (const [k, v] of Object.entries({ ...WORKFLOW.jobs.check.env, ...step.env })) env[k] = substitute(String(v));
    delete env.OPENAI_API_KEY; // CI has no provider key
    return spawnSync('bash', ['-e', '-c', step.run], { cwd: repo, env, encoding: 'utf8' });
  };

  before(() => {
    repo = mkdtempSync(join(tmpdir(), 'sidegate-ci-'));
    bin = join(repo, '.bin');
    mkdirSync(bin);
    // `sidegate` is this checkout's CLI; `gh` records what it was asked to post (no previous comment to edit).
    writeFileSync(join(bin, 'sidegate'), `#!/bin/sh\nexec "${process.execPath}" --import "${TSX}" "${CLI}" "$@"\n`);
    writeFileSync(
      join(bin, 'gh'),
      '#!/bin/sh\nfor a in "$@"; do [ "$a" = --edit-last ] && exit 1; done\necho "$@" >> "$GH_LOG"\nwhile [ $# -gt 0 ]; do [ "$1" = --body-file ] && cat "$2" >> "$GH_LOG"; shift; done\n',
    );
    chmodSync(join(bin, 'sidegate'), 0o755);
    chmodSync(join(bin, 'gh'), 0o755);
    git('init', '-q', '-b', 'main');
    copyFileSync('examples/ci/gateway.yaml', join(repo, 'gateway.yaml'));
    copyFileSync('examples/ci/evals.yaml', join(repo, 'evals.yaml'));
    writeFileSync(join(repo, '.gitignore'), '.bin\ngh.log\nsummary.md\nsidegate-*\n');
    git('add', '.');
    git('commit', '-qm', 'the config');
    git('update-ref', 'refs/remotes/origin/main', 'HEAD'); // what actions/checkout fetches
  });
  after(() => rmSync(repo, { recursive: true, force: true }));

  test('the workflow triggers on the config and the cases', () => {
    assert.deepEqual(WORKFLOW.on.pull_request.paths, ['gateway.yaml', 'evals.yaml']);
  });

  test('a good change: validate passes, the diff is posted as a comment, eval passes with a JUnit report', () => {
    git('checkout', '-q', '-b', 'more-retries');
    const text = readFileSync(join(repo, 'gateway.yaml'), 'utf8').replace('retry: { attempts: 2', 'retry: { attempts: 3');
    writeFileSync(join(repo, 'gateway.yaml'), `${text}  batch:\n    targets:\n      - { upstream: openai, model: gpt-4.1-mini }\n`);
    git('commit', '-qam', 'more retries, a batch router');

    const validate = runStep('validate');
    assert.equal(validate.status, 0, validate.stdout + validate.stderr);
    assert.match(validate.stdout, /::notice file=gateway\.yaml,line=11,col=\d+,title=sidegate validate%3A placeholder::\$\{OPENAI_API_KEY\}/);
    assert.match(validate.stdout, /gateway\.yaml: ok/);

    const diff = runStep('diff');
    assert.equal(diff.status, 0, diff.stderr);
    const markdown = readFileSync(join(repo, 'sidegate-diff.md'), 'utf8');
    assert.match(markdown, /`git:origin\/main:gateway\.yaml` → `gateway\.yaml`/);
    assert.match(markdown, /#### router batch \(added\)/);
    assert.match(markdown, /#### router support \(changed\)\n\n\| key \| before \| after \|\n\| --- \| --- \| --- \|\n\| `features\.retry\.attempts` \| `2` \| `3` \|/);
    assert.match(markdown, /```mermaid\nflowchart LR/);
    assert.equal(readFileSync(join(repo, 'summary.md'), 'utf8'), markdown);

    const comment = runStep('comment');
    assert.equal(comment.status, 0, comment.stderr);
    assert.equal(readFileSync(join(repo, 'gh.log'), 'utf8'), `pr comment 7 --body-file sidegate-diff.md\n${markdown}`);

    const evaluation = runStep('eval');
    assert.equal(evaluation.status, 0, evaluation.stdout + evaluation.stderr);
    const junit = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(readFileSync(join(repo, 'sidegate-eval.xml'), 'utf8'));
    assert.equal(junit.testsuites.tests, '3');
    assert.equal(junit.testsuites.failures, '0');
    assert.equal(JSON.parse(readFileSync(join(repo, 'sidegate-eval.json'), 'utf8')).summary.passed, true);
  });

  test('a bad change: validate fails with an annotation on the line, eval fails under the threshold', () => {
    git('checkout', '-q', '-b', 'broken', 'main');
    const text = readFileSync(join(repo, 'gateway.yaml'), 'utf8');
    writeFileSync(join(repo, 'gateway.yaml'), text.replace('model: gpt-4.1-nano', 'model: gpt-4o').replace('{ upstream: openai, model: gpt-4o-mini }', '{ upstream: opnai, model: gpt-4o-mini }'));
    const validate = runStep('validate');
    assert.equal(validate.status, 1);
    assert.match(validate.stdout, /::error file=gateway\.yaml,line=22,col=21,title=sidegate validate%3A routers\.support\.targets\[0\]\.upstream::.*unknown upstream "opnai", did you mean "openai"\?/);

    writeFileSync(join(repo, 'gateway.yaml'), text.replace('model: gpt-4.1-nano', 'model: gpt-4o'));
    const evaluation = runStep('eval');
    assert.equal(evaluation.status, 1);
    assert.match(evaluation.stdout, /drafts-go-to-the-cheap-model +FAIL .*the answer names model "gpt-4o", expected "gpt-4\.1-nano"/);
  });
});
