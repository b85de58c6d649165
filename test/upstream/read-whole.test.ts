import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { HeldBody } from '../../src/upstream/held-body.js';
import { readWhole } from '../../src/upstream/read-whole.js';

test('reads a stream to its end, in order, across chunks', async () => {
  const body = new PassThrough();
  const read = readWhole(body, 100);
  body.write('ab');
  setImmediate(() => body.end('cd'));
  assert.equal((await read)!.toString(), 'abcd');
});

test('past the limit: null, and the stream is no longer read (its caller decides what becomes of it)', async () => {
  const body = new PassThrough();
  const read = readWhole(body, 3);
  body.write('ab');
  body.write('cd');
  assert.equal(await read, null);
  assert.equal(body.listenerCount('data'), 0);
  assert.equal(body.listenerCount('end'), 0);
  assert.equal(body.destroyed, false);
});

test('a held body is its bytes, bounded by the limit too', async () => {
  const held = new HeldBody(Buffer.from('whole'));
  assert.equal((await readWhole(held, 5))!.toString(), 'whole');
  assert.equal(await readWhole(new HeldBody(Buffer.from('whole')), 4), null);
});

test('an error or an early close rejects; an empty or already ended stream is empty', async () => {
  const failing = new PassThrough();
  const read = readWhole(failing, 100);
  failing.destroy(new Error('terminated'));
  await assert.rejects(read, /terminated/);
  const closed = new PassThrough();
  const early = readWhole(closed, 100);
  closed.write('x');
  closed.destroy();
  await assert.rejects(early, (err: Error & { code?: string }) => err.code === 'ERR_STREAM_PREMATURE_CLOSE');
  assert.equal((await readWhole(Readable.from([]), 100))!.length, 0);
  const ended = Readable.from(['a']);
  ended.resume();
  await new Promise((resolve) => ended.once('end', resolve));
  assert.equal((await readWhole(ended, 100))!.length, 0);
  await assert.rejects(readWhole(failing, 100), /terminated/); // already errored
});
