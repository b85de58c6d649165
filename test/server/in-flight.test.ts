import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import OpenAI from 'openai';
import { MockUpstream, chunk, steps } from '../support/mock-upstream.js';
import { singleUpstreamYaml, startGateway } from '../support/gateway.js';
import { InFlightRequests } from '../../src/server/in-flight.js';
import type { RequestContext } from '../../src/pipeline/context.js';

/** A stand-in for a request's context: the list reads and writes only its slot. */
function fakeContext(payload: unknown = null): RequestContext {
  return { inFlightSlot: -1, payload } as unknown as RequestContext;
}

describe('the list of requests in flight', () => {
  test('adds, removes from any place and lists what is left', () => {
    const list = new InFlightRequests();
    const [a, b, c, d] = [fakeContext('a'), fakeContext('b'), fakeContext('c'), fakeContext('d')];
    for (const ctx of [a, b, c, d]) list.add(ctx);
    list.add(b); // twice: still once
    assert.equal(list.size, 4);
    list.delete(b); // the middle: the last moves into its slot
    assert.deepEqual(list.list(), [a, d, c]);
    list.delete(c); // the last
    list.delete(c); // twice: nothing
    list.delete(fakeContext()); // never added: nothing
    assert.deepEqual(list.list(), [a, d]);
    assert.equal(b.inFlightSlot, -1);
    list.add(b);
    assert.deepEqual(list.list(), [a, d, b]);
    const copy = list.list();
    for (const ctx of copy) list.delete(ctx); // ending each one while going through a copy
    assert.equal(list.size, 0);
    assert.deepEqual(list.list(), []);
  });

  test('keeps nothing of a removed request alive for the young generation collector', () => {
    // A Set churned like this, once in the old generation, keeps every request it held
    // reachable from superseded hash tables until the next full GC: about 5 MB here.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
    const oldSpace = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;
    const list = new InFlightRequests();
    const warm = Array.from({ length: 40 }, () => fakeContext());
    for (const ctx of warm) list.add(ctx);
    gc();
    gc(); // the list and its array are in the old generation now, as in a gateway that has run a while
    for (const ctx of warm) list.delete(ctx);
    const before = oldSpace();
    const live: RequestContext[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 2000; i++) {
        const ctx = fakeContext(new Array(64).fill(i));
        list.add(ctx);
        live.push(ctx);
        if (live.length > 32) list.delete(live.shift()!);
      }
      gc({ type: 'minor' });
    }
    gc({ type: 'minor' });
    gc({ type: 'minor' });
    const grown = oldSpace() - before;
    assert.ok(grown < 1024 * 1024, `the old generation grew by ${Math.round(grown / 1024)} KB: removed requests were promoted`);
  });

  test('the drain cut ends every stream in flight, the last one started as well as the first', async () => {
    const upstream = await MockUpstream.start();
    const gw = await startGateway(singleUpstreamYaml(upstream));
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
    upstream.script(steps.chat('done before'));
    const done = await client.chat.completions.create({ model: 'main', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(done.choices[0]!.message.content, 'done before');
    const STREAMS = 3;
    for (let i = 0; i < STREAMS; i++) {
      upstream.script(async (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify(chunk('main', `first ${i}`))}\n\n`); // and then nothing, until cut
      });
    }
    const readers = [];
    for (let i = 0; i < STREAMS; i++) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'main', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      });
      const reader = res.body!.getReader();
      const first = await reader.read();
      assert.equal(Buffer.from(first.value!).toString(), `data: ${JSON.stringify(chunk('main', `first ${i}`))}\n\n`);
      readers.push(reader);
    }
    const closed = gw.gateway.close({ drainMs: 50 });
    const rests = await Promise.all(
      readers.map(async (reader) => {
        let rest = '';
        for (let r = await reader.read(); !r.done; r = await reader.read()) rest += Buffer.from(r.value).toString();
        return rest;
      }),
    );
    await closed;
    await upstream.close();
    const cut = `event: error\ndata: ${JSON.stringify({
      error: { message: 'The gateway is shutting down: the drain time (server.drain) is over.', type: 'api_error', param: null, code: 'unavailable' },
    })}\n\n`;
    assert.deepEqual(rests, Array(STREAMS).fill(cut));
  });
});
