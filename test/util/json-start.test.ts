import { test } from 'node:test';
import assert from 'node:assert/strict';
import { notJsonStart } from '../../src/util/json-start.js';

test('prose and empty answers are told apart from JSON by their first significant character', () => {
  assert.equal(notJsonStart('Hello! How can I help?'), 'it starts with "H", which no JSON value does');
  assert.equal(notJsonStart(' \n\t\r'), 'it is empty');
  assert.equal(notJsonStart(''), 'it is empty');
  assert.equal(notJsonStart('\u00a0{}'), 'it starts with "\u00a0", which no JSON value does'); // not JSON whitespace
  for (const text of ['{"a":1}', ' [1]', '\n"s"', '-1', '0', '9e3', 'true', 'false', 'null']) assert.equal(notJsonStart(text), null, text);
  // A plausible start is no verdict: JSON.parse still decides.
  assert.equal(notJsonStart('true story'), null);
  assert.throws(() => JSON.parse('true story'));
});
