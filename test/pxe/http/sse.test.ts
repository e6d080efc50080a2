// The /events hub against real HTTP clients on loopback: hello then batches, the
// client cap, heartbeats, no client kept after it leaves, a client that stops reading
// dropped, a failing model answered with 500 and no crash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { SseHub, sseMessage } from '../../../pxe/http/sse.js';

async function serve(hub: Pick<SseHub<never>, 'attach'>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => hub.attach(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events` };
}

/** An SSE reader: every message as { event, data } (comments as event ':'). */
function open(url: string) {
  const messages: { event: string; data?: unknown }[] = [];
  let res!: IncomingMessage;
  const ready = new Promise<number>((resolve, reject) => {
    const req = get(url, (r) => {
      res = r;
      let buf = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => {
        buf += d;
        for (let i; (i = buf.indexOf('\n\n')) >= 0; ) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (block.startsWith(':')) messages.push({ event: ':' });
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event) messages.push({ event, data: data && JSON.parse(data) });
        }
      });
      r.on('error', () => undefined);
      resolve(r.statusCode ?? 0);
    });
    req.on('error', reject);
  });
  return { messages, ready, close: () => res.destroy() };
}

async function until(what: string, ok: () => boolean, ms = 5000) {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('sseMessage: one event line and one data line', () => {
  assert.is(sseMessage('batch', { a: 'x\ny' }), 'event: batch\ndata: {"a":"x\\ny"}\n\n');
});

test('hello on connect, then one batch per flush with what was published', async () => {
  const hub = new SseHub<number>({ hello: () => ({ n: 0 }), batch: (items) => ({ items }), flushMs: 20 });
  const { server, url } = await serve(hub);
  try {
    const c = open(url);
    assert.is(await c.ready, 200);
    await until('hello', () => c.messages.length > 0);
    assert.equal(c.messages[0], { event: 'hello', data: { n: 0 } });
    await until('the client to be counted', () => hub.size() === 1);
    for (let i = 1; i <= 5; i++) hub.publish(i);
    await until('a batch', () => c.messages.some((m) => m.event === 'batch'));
    assert.equal(c.messages.find((m) => m.event === 'batch')!.data, { items: [1, 2, 3, 4, 5] });
    c.close();
    await until('the closed client to be forgotten', () => hub.size() === 0);
    hub.publish(6);
    hub.flush();
  } finally {
    hub.close();
    server.close();
  }
});

test('at most maxClients streams; the next one gets 503 and the server goes on', async () => {
  const hub = new SseHub<number>({ hello: () => ({}), maxClients: 2 });
  const { server, url } = await serve(hub);
  try {
    const a = open(url);
    const b = open(url);
    assert.is(await a.ready, 200);
    assert.is(await b.ready, 200);
    await until('two clients', () => hub.size() === 2);
    const c = open(url);
    assert.is(await c.ready, 503);
    assert.is(hub.stats.refused, 1);
    a.close();
    await until('a slot to free', () => hub.size() === 1);
    const d = open(url);
    assert.is(await d.ready, 200);
    b.close();
    d.close();
    await until('no clients', () => hub.size() === 0);
  } finally {
    hub.close();
    server.close();
  }
});

test('heartbeat comments reach idle clients', async () => {
  const hub = new SseHub<number>({ hello: () => ({}), heartbeatMs: 30 });
  const { server, url } = await serve(hub);
  try {
    const c = open(url);
    await c.ready;
    await until('two heartbeats', () => c.messages.filter((m) => m.event === ':').length >= 2);
    c.close();
  } finally {
    hub.close();
    server.close();
  }
});

test('a client that stops reading is dropped once its unread bytes pass the cap; the others go on', async () => {
  const hub = new SseHub<string>({ hello: () => ({}), flushMs: 5, maxUnreadBytes: 256 * 1024 });
  const { server, url } = await serve(hub);
  const { port } = new URL(url);
  try {
    const reader = open(url);
    await reader.ready;
    // A raw socket that sends the request and never reads the answer.
    const stalled = connect(Number(port), '127.0.0.1');
    stalled.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
    stalled.pause();
    await until('both clients', () => hub.size() === 2);
    const big = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 2000 && hub.stats.dropped === 0; i++) {
      hub.publish(big);
      hub.flush();
      await new Promise((r) => setImmediate(r));
    }
    assert.is(hub.stats.dropped, 1, 'the stalled client was dropped');
    await until('one client left', () => hub.size() === 1);
    const before = reader.messages.length;
    hub.publish('after');
    hub.flush();
    await until('the reader to get the next batch', () => reader.messages.length > before);
    stalled.destroy();
    reader.close();
  } finally {
    hub.close();
    server.close();
  }
});

test('a model that throws: 500 for that client, nothing kept, no crash', async () => {
  let fail = true;
  const hub = new SseHub<number>({
    hello: () => {
      if (fail) throw new Error('boom');
      return {};
    },
  });
  const { server, url } = await serve(hub);
  try {
    assert.is(await open(url).ready, 500);
    assert.is(hub.size(), 0);
    fail = false;
    const c = open(url);
    assert.is(await c.ready, 200);
    c.close();
  } finally {
    hub.close();
    server.close();
  }
});

test('close ends every stream', async () => {
  const hub = new SseHub<number>({ hello: () => ({}) });
  const { server, url } = await serve(hub);
  const c = open(url);
  await c.ready;
  await until('connected', () => hub.size() === 1);
  hub.close();
  assert.is(hub.size(), 0);
  server.close();
});

test.run();
