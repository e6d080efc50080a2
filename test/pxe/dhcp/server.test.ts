// The server on loopback: a real DORA through sockets, events, lease file, the
// unknown-MAC log limit, and a flood of 100,000 random and mutated packets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDhcpServer } from '../../../pxe/dhcp/server.js';
import { runDora } from '../../../tools/dhcp/loadgen.js';
import type { DhcpEvent } from '../../../pxe/dhcp/policy.js';
import { memoryLogger } from '../../../lib/log.js';
import { encode } from '../../../pxe/dhcp/packet.js';
import { Opt } from '../../../pxe/dhcp/constants.js';
import { request, T } from './helpers.js';
import { freePort, guardedSocket, loopbackInventory, nodeMac } from './loopback.js';

const work = mkdtempSync(join(tmpdir(), 'dl-dhcp-srv-'));

test('DORA over loopback: reserved and pool clients get ACKs, events and log lines, leases saved atomically', async () => {
  const guard = { blocked: 0 };
  const events: DhcpEvent[] = [];
  const log = memoryLogger();
  const relayPort = await freePort();
  const leaseFile = join(work, 'leases.json');
  const inv = loopbackInventory({ pool: true });
  const srv = await startDhcpServer({ inventory: () => inv, serverIp: '127.0.0.1', httpPort: 8080, address: '127.0.0.1', port: 0, relayPort, leaseFile, log, onEvent: (e) => events.push(e), createSocket: guardedSocket(guard), saveDelayMs: 20 });
  try {
    const macs = [nodeMac(0), nodeMac(1), '02:99:00:00:00:01', '02:99:00:00:00:02'];
    const r = await runDora({ server: { address: '127.0.0.1', port: srv.ports[0] }, relayAddress: '127.0.0.1', relayPort, macs, count: 4, concurrency: 4 });
    assert.is(r.exchanges, 4);
    assert.is(r.failures, 0);
    assert.is(r.addresses.get(nodeMac(0)), '127.0.1.1');
    assert.is(r.addresses.get(nodeMac(1)), '127.0.1.2');
    assert.match(r.addresses.get('02:99:00:00:00:01')!, /^127\.0\.2\.\d+$/);
    assert.is(events.filter((e) => e.type === 'offer').length, 4);
    assert.is(events.filter((e) => e.type === 'ack').length, 4);
    assert.ok(events.some((e) => e.node === 'n0' && e.ip === '127.0.1.1' && e.bootfile === 'undionly.kpxe'));
    assert.ok(log.lines.some((l) => /dhcp: n1 \(02:00:00:00:00:01\) ACK 127\.0\.1\.2/.test(l)), log.lines.join('\n'));
    assert.is(guard.blocked, 0);
  } finally {
    await srv.close();
  }
  const saved = JSON.parse(readFileSync(leaseFile, 'utf8'));
  assert.is(saved.leases.length, 2);
  assert.ok(saved.leases.every((l: { state: string }) => l.state === 'bound'));
  // A new server instance reads the file back: the pool client keeps its address.
  const srv2 = await startDhcpServer({ inventory: () => inv, serverIp: '127.0.0.1', httpPort: 8080, address: '127.0.0.1', port: 0, relayPort, leaseFile });
  try {
    assert.is(srv2.leases.size, 2);
  } finally {
    await srv2.close();
  }
});

test('unknown MACs without a pool: ignored, one log line (and boot event) per MAC however often they ask', async () => {
  const log = memoryLogger();
  const inv = loopbackInventory();
  const events: DhcpEvent[] = [];
  const srv = await startDhcpServer({ inventory: () => inv, serverIp: '127.0.0.1', httpPort: 8080, address: '127.0.0.1', port: 0, log, onEvent: (e) => events.push(e) });
  const c = dgram.createSocket('udp4');
  try {
    for (let i = 0; i < 10; i++) c.send(encode(request({ type: T.DISCOVER, mac: `02:77:00:00:00:0${i % 2}`, giaddr: '127.0.0.1' })), srv.ports[0]!, '127.0.0.1');
    const deadline = Date.now() + 5000;
    while (srv.stats.received < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.is(srv.stats.received, 10);
    assert.is(srv.stats.replies, 0);
    assert.is(log.lines.filter((l) => l.includes('unknown MAC')).length, 2, log.lines.join('\n'));
    assert.is(events.length, 2, 'boot events are kept back with the lines');
  } finally {
    c.close();
    await srv.close();
  }
});

test('not the first responder: quiet on a node\'s first DISCOVER, answers its retry (same xid); a new xid starts over', async () => {
  const relayPort = await freePort();
  const relay = dgram.createSocket('udp4');
  await new Promise<void>((r) => relay.bind({ address: '127.0.0.1', port: relayPort }, () => r()));
  const replies: number[] = [];
  relay.on('message', (b) => replies.push(b.readUInt32BE(4)));
  const inv = loopbackInventory();
  const srv = await startDhcpServer({ inventory: () => inv, serverIp: '127.0.0.1', httpPort: 8080, address: '127.0.0.1', port: 0, relayPort, answersFirst: () => false });
  const send = async (xid: number) => {
    const before = srv.stats.received;
    relay.send(encode(request({ type: T.DISCOVER, mac: nodeMac(0), giaddr: '127.0.0.1', xid })), srv.ports[0]!, '127.0.0.1');
    for (let i = 0; i < 100 && srv.stats.received === before; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
  };
  try {
    await send(1);
    assert.equal(replies, [], 'first try: the first responder answers, not us');
    await send(1);
    assert.equal(replies, [1], 'the retry is answered');
    await send(2);
    assert.equal(replies, [1], 'a new exchange is a first try again');
  } finally {
    relay.close();
    await srv.close();
  }
});

test('a node declining its reserved address is listed in conflicts() until it is ACKed again; limits are logged once', async () => {
  const relayPort = await freePort();
  const events: DhcpEvent[] = [];
  const log = memoryLogger();
  const inv = loopbackInventory();
  const srv = await startDhcpServer({ inventory: () => inv, serverIp: '127.0.0.1', httpPort: 8080, address: '127.0.0.1', port: 0, relayPort, log, onEvent: (e) => events.push(e), limits: { perMac: { burst: 4, perSecond: 0.001 } } });
  const relay = dgram.createSocket('udp4');
  await new Promise<void>((r) => relay.bind({ address: '127.0.0.1', port: relayPort }, () => r()));
  const until = async (n: number) => {
    for (let i = 0; i < 200 && srv.stats.received < n; i++) await new Promise((r) => setTimeout(r, 10));
  };
  try {
    relay.send(encode(request({ type: T.DECLINE, mac: nodeMac(2), giaddr: '127.0.0.1', options: [[Opt.REQUESTED_IP, Buffer.from([127, 0, 1, 3])]] })), srv.ports[0]!, '127.0.0.1');
    await until(1);
    assert.equal(srv.conflicts().map((c) => [c.node, c.ip, c.count]), [['n2', '127.0.1.3', 1]]);
    assert.ok(events.some((e) => e.type === 'conflict' && e.node === 'n2'));
    relay.send(encode(request({ type: T.REQUEST, mac: nodeMac(2), giaddr: '127.0.0.1', options: [[Opt.REQUESTED_IP, Buffer.from([127, 0, 1, 3])]] })), srv.ports[0]!, '127.0.0.1');
    await until(2);
    assert.equal(srv.conflicts(), [], 'ACKed: the address is its own again');
    // The per-MAC limit: 4 at once, the rest of ten dropped, counted, and one warning.
    for (let i = 0; i < 8; i++) relay.send(encode(request({ type: T.DISCOVER, mac: nodeMac(2), giaddr: '127.0.0.1' })), srv.ports[0]!, '127.0.0.1');
    await until(10);
    assert.is(srv.stats.limited.mac, 6);
    assert.is(log.lines.filter((l) => /rate limit per mac reached by client 02:00:00:00:00:02/.test(l)).length, 1, log.lines.join('\n'));
  } finally {
    relay.close();
    await srv.close();
  }
});

test('100,000 random and mutated packets from many ports: no crash, all counted, then a DORA still works', async () => {
  const guard = { blocked: 0 };
  const relayPort = await freePort();
  const inv = loopbackInventory({ pool: true });
  const srv = await startDhcpServer({ inventory: () => inv, serverIp: '127.0.0.1', httpPort: 8080, address: '127.0.0.1', port: 0, relayPort, createSocket: guardedSocket(guard) });
  const port = srv.ports[0]!;
  const senders = await Promise.all(
    Array.from({ length: 32 }, async () => {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind({ address: '127.0.0.1', port: 0 }, () => r()));
      return s;
    }),
  );
  const seeds = [
    encode(request({ type: T.DISCOVER, mac: nodeMac(3), giaddr: '127.0.0.1', options: [[Opt.VENDOR_CLASS_ID, Buffer.from('PXEClient:Arch:00000:UNDI:002001')], [Opt.CLIENT_ARCH, Buffer.from([0, 7])], [Opt.USER_CLASS, Buffer.from('iPXE')]] })),
    encode(request({ type: T.REQUEST, mac: '02:99:00:00:00:05', giaddr: '127.0.0.1', options: [[Opt.SERVER_ID, Buffer.from([127, 0, 0, 1])], [Opt.REQUESTED_IP, Buffer.from([127, 0, 2, 9])]] })),
    encode(request({ type: T.INFORM, mac: nodeMac(4), ciaddr: '127.0.1.5', options: [[Opt.OVERLOAD, Buffer.from([3])]] })),
  ];
  let rnd = 987654321;
  const next = () => (rnd = (rnd * 1664525 + 1013904223) >>> 0) >>> 8;
  const TOTAL = 100_000;
  const kinds: Record<string, number> = {};
  try {
    for (let i = 0; i < TOTAL; i++) {
      const seed = seeds[i % seeds.length]!;
      let b: Buffer;
      const kind = ['random', 'truncated', 'mutated', 'cookie', 'optlen', 'valid'][next() % 6]!;
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      switch (kind) {
        case 'random':
          b = Buffer.from(Array.from({ length: next() % 700 }, () => next() & 255));
          break;
        case 'truncated':
          b = Buffer.from(seed.subarray(0, next() % seed.length));
          break;
        case 'cookie':
          b = Buffer.from(seed);
          b[236 + (next() % 4)]! ^= 1 + (next() % 255);
          break;
        case 'optlen':
          b = Buffer.from(seed);
          b[241] = next() & 255;
          break;
        case 'mutated':
          b = Buffer.from(seed);
          for (let k = 1 + (next() % 8); k > 0; k--) b[next() % b.length] = next() & 255;
          break;
        default:
          b = Buffer.from(seed);
          b.writeUInt32BE(next(), 4);
          // Many different clients, so pool exhaustion and the unknown-MAC limiter get exercised too.
          b.writeUInt16BE(next() & 0xffff, 32);
      }
      senders[i % senders.length]!.send(b, port, '127.0.0.1');
      // Keep at most ~256 in flight, so the socket buffer rarely overflows (loss is not what this tests).
      if (i % 64 === 63) {
        const until = Date.now() + 2000;
        while (srv.stats.received < i - 256 && Date.now() < until) await new Promise((r) => setImmediate(r));
      }
    }
    const deadline = Date.now() + 20_000;
    let last = -1;
    while (srv.stats.received !== last && Date.now() < deadline) {
      last = srv.stats.received;
      await new Promise((r) => setTimeout(r, 200));
    }
    const s = srv.stats;
    console.log(`  flood: received ${s.received}/${TOTAL}, malformed ${s.malformed} ${JSON.stringify(s.malformedBy)}, replies ${s.replies}, ignored ${s.ignored}, unsendable ${s.unsendable}, blocked sends ${guard.blocked}`);
    assert.ok(s.received > TOTAL * 0.95, `server saw ${s.received} of ${TOTAL}`);
    assert.ok(s.malformed > TOTAL * 0.3);
    assert.is(s.policyErrors, 0);
    assert.is(s.malformedBy.internal, undefined);
    assert.is(s.received, s.malformed + s.replies + s.ignored + s.unsendable + s.policyErrors + s.limited.mac + s.limited.source);
    // Afterwards, a client exchange still works.
    // Ten reserved nodes, two exchanges each (a real client does not repeat faster than the
    // per-MAC limit); the flood spent this relay's budget for new clients, not theirs.
    const r = await runDora({ server: { address: '127.0.0.1', port }, relayAddress: '127.0.0.1', relayPort, macs: Array.from({ length: 10 }, (_, i) => nodeMac(6 + i)), count: 20, concurrency: 2 });
    assert.is(r.exchanges, 20);
    assert.is(r.addresses.get(nodeMac(7)), '127.0.1.8');
    assert.ok(s.limited.source > 0 && s.limited.mac > 0, JSON.stringify(s.limited));
  } finally {
    for (const s of senders) s.close();
    await srv.close();
  }
});

test.after(() => {
  if (existsSync(work)) rmSync(work, { recursive: true, force: true });
});

test.run();
