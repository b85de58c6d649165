import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchConfigFile, type ConfigWatcher } from '../../src/config/watch.js';

let dir = '';
let watcher: ConfigWatcher | null = null;
afterEach(async () => {
  await watcher?.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Resolves once a watch of our own on `dir` saw an event naming `name`. Watches of one
 * directory share one inotify watch, whose handles are called in the order they were
 * started: the config watcher, started first, has seen the event by then.
 */
async function seen(name: string, write: () => void): Promise<void> {
  const probe = watch(dir);
  const named = new Promise<void>((resolve) => probe.on('change', (_e, f) => f === name && resolve()));
  write();
  await named;
  probe.close();
}

test('the config watcher ignores other files in the directory and unchanged bytes', async () => {
  dir = mkdtempSync(join(tmpdir(), 'sidegate-watch-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, 'version: 1\n');
  let changes = 0;
  watcher = watchConfigFile(file, () => changes++, (err) => assert.fail(String(err)));
  await watcher.ready;

  await seen('gateway.log', () => writeFileSync(join(dir, 'gateway.log'), 'a log line\n'));
  assert.equal(watcher.pending, false, 'a write to another file schedules nothing');

  const unchanged = watcher.checked();
  await seen('gateway.yaml', () => writeFileSync(file, 'version: 1\n'));
  assert.equal(watcher.pending, true);
  assert.equal(await unchanged, false, 'the same bytes again are no change');
  assert.equal(changes, 0);

  const changed = watcher.checked();
  writeFileSync(join(dir, '.gateway.yaml.tmp'), 'version: 2\n');
  renameSync(join(dir, '.gateway.yaml.tmp'), file);
  assert.equal(await changed, true);
  assert.equal(changes, 1);
});

test('a ConfigMap ..data swap counts; a deleted file is a change (its reload reports the error)', async () => {
  dir = mkdtempSync(join(tmpdir(), 'sidegate-watch-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, 'version: 1\n');
  let changes = 0;
  watcher = watchConfigFile(file, () => changes++, () => {});
  const swapped = watcher.checked();
  await seen('..data', () => writeFileSync(join(dir, '..data'), 'x'));
  assert.equal(watcher.pending, true, 'an event on ..data is checked');
  assert.equal(await swapped, false, 'the file itself did not change');

  const removed = watcher.checked();
  rmSync(file);
  assert.equal(await removed, true);
  assert.equal(changes, 1);
});
