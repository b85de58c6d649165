/**
 * The bench starts, measures one case for about a second per figure and prints its table.
 * Only that it runs is checked here, never its numbers: `npm run bench` is not a test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = new URL('../..', import.meta.url).pathname;

test('npm run bench -- --smoke prints the table and writes the JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sidegate-bench-smoke-'));
  try {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      // --src: no build needed; on timeout the bench gets SIGTERM and stops what it started.
      execFile(
        process.execPath,
        ['--import', 'tsx', 'bench/run.ts', '--smoke', '--src', '--out', dir],
        { cwd: REPO, timeout: 240_000, killSignal: 'SIGTERM', maxBuffer: 4 * 1024 * 1024 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    assert.equal(code, 0, `the bench failed:\n${stderr}`);
    assert.match(stdout, /^case +metric +sidegate +bare +ratio +direct +target +result$/m);
    assert.match(stdout, /^load: wrk -t1 -c32 .*; headroom: the mock directly [\d,]+ req\/s = [\d.]+× the bare proxy's/m);
    assert.match(stdout, /^minimal +CPU µs\/req +[\d.]+ +[\d.]+ +[\d.]+× /m);
    assert.match(stdout, /^routers 100 +CPU µs\/req /m);
    assert.match(stdout, /^reload 100 routers /m);
    assert.match(stdout, /^startup +validate example, ms +\d+ /m);
    assert.match(stdout, /^targets: \d+ pass, \d+ fail/m);
    const report = JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as { cases: Array<{ name: string; status: string }>; targets: unknown[] };
    assert.deepEqual(
      report.cases.map((c) => [c.name, c.status]),
      [['minimal', 'measured']],
    );
    assert.ok(report.targets.length > 0);
    assert.match(readFileSync(join(dir, 'latest.svg'), 'utf8'), /^<svg [^>]*>[\s\S]*>minimal<[\s\S]*<\/svg>\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
