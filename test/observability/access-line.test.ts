import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createLogger, infoLine } from '../../src/observability/logger.js';

/** A logger of createLogger writing into `lines`, one string per line. */
function capture(level: 'info' | 'warn' = 'info'): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger(level, sink), lines };
}

const flushed = (logger: pino.Logger): Promise<void> => new Promise((resolve) => logger.flush(() => resolve()));
const record = () => ({
  request_id: 'req-"1"\n',
  method: 'POST',
  router: 'main',
  model: null,
  stream: false,
  status: 200,
  duration_ms: 1.25,
  attempts: [{ upstream: 'up', status: 200, error: null, ms: 1.2 }],
  error: null,
});

test('the direct access line is byte for byte the line pino writes (time aside)', async () => {
  const { logger, lines } = capture();
  infoLine(logger, record(), 'request');
  logger.info(record(), 'request');
  await flushed(logger);
  assert.equal(lines.length, 2);
  const [direct, viaPino] = lines.map((l) => l.replace(/"time":\d+/, '"time":0'));
  assert.equal(direct, viaPino);
  assert.deepEqual(JSON.parse(direct!), {
    level: 'info', time: 0, service: 'sidegate', ...record(), msg: 'request',
  });
});

test('a child logger and a logger not made by createLogger go through pino, with their bindings', async () => {
  const { logger, lines } = capture();
  infoLine(logger.child({ component: 'x' }), record(), 'request');
  await flushed(logger);
  assert.equal(JSON.parse(lines[0]!).component, 'x');

  const other: string[] = [];
  const plain = pino({ level: 'info' }, new Writable({ write: (c: Buffer, _e, done) => (other.push(c.toString()), done()) }));
  infoLine(plain, record(), 'request');
  assert.equal(JSON.parse(other[0]!).level, 30, "pino's own format: a numeric level");
});

test('nothing is written when info is off', async () => {
  const { logger, lines } = capture('warn');
  infoLine(logger, record(), 'request');
  logger.level = 'info';
  infoLine(logger, record(), 'request');
  await flushed(logger);
  assert.equal(lines.length, 1);
});
