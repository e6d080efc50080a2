// Robustness on loopback: 100,000 random and mutated packets from many source ports
// at the listening port, then a flood at a live transfer's port. The server must
// keep answering, and a real client (busybox) is served correctly afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import dgram, { type Socket } from 'node:dgram';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTftpServer, type TftpServer } from '../../../pxe/tftp/server.js';
import { tftpGet } from '../../../tools/tftp/client.js';
import { CLIENT_RETRY_MS } from '../../../pxe/tftp/transfer.js';
import { encode, ERR_UNKNOWN_TID, OP_ACK, OP_DATA, OP_ERROR, OP_OACK, OP_RRQ, OP_WRQ } from '../../../pxe/tftp/packet.js';
import { run } from '../../../lib/run.js';
import { RawPeer } from './helpers.js';
import { needTool } from '../../helpers/need.js';

const PACKETS = 100_000;
const SOURCES = 64; // source ports
const work = mkdtempSync(join(tmpdir(), 'tftp-fuzz-'));
const root = join(work, 'root');
mkdirSync(root);
const payload = randomBytes(300_000);
writeFileSync(join(root, 'boot.bin'), payload);
writeFileSync(join(root, 'tiny.bin'), randomBytes(1000));
let server: TftpServer | undefined;
let calm: TftpServer | undefined; // default timeouts, so nothing is resent while a test looks
const opened: { close(): void }[] = [];

const names = ['boot.bin', 'tiny.bin', '../etc/passwd', '/boot.bin', 'x'.repeat(300), 'missing', '', 'a/../../b'];
const modes = ['octet', 'netascii', 'mail', 'OCTET', 'binary', ''];
const optNames = ['blksize', 'tsize', 'timeout', 'windowsize', 'BLKSIZE', 'multicast', ''];
const optValues = ['0', '8', '512', '65464', '65465', '-1', '1e9', 'abc', '', '99999999999999999999'];
const pick = <T>(a: readonly T[]): T => a[randomInt(a.length)]!;

function requestBytes(): Buffer {
  const parts: string[] = [pick(names), pick(modes)];
  for (let i = randomInt(4); i > 0; i--) parts.push(pick(optNames), pick(optValues));
  return Buffer.concat([Buffer.from([0, pick([OP_RRQ, OP_WRQ, OP_RRQ])]), Buffer.from(`${parts.join('\0')}\0`, 'latin1')]);
}

/** One hostile packet: random bytes, a mutated request, or a well-formed packet of the wrong kind. */
function hostile(i: number): Buffer {
  switch (i % 8) {
    case 0:
      return randomBytes(randomInt(0, 600));
    case 1: {
      const b = requestBytes();
      for (let n = randomInt(1, 4); n > 0; n--) b[randomInt(b.length)] = randomInt(256); // flip bytes
      return b;
    }
    case 2:
      return requestBytes().subarray(0, randomInt(0, 40)); // truncated
    case 3:
      return Buffer.concat([requestBytes(), randomBytes(randomInt(1, 50))]); // trailing garbage
    case 4:
      return encode({ op: OP_ACK, block: randomInt(65536) });
    case 5:
      return Buffer.concat([Buffer.from([0, randomInt(7, 256)]), randomBytes(randomInt(0, 20))]); // bad opcode
    case 6:
      return pick([encode({ op: OP_DATA, block: 1, data: randomBytes(randomInt(600)) }), encode({ op: OP_ERROR, code: randomInt(9), message: 'x' }), encode({ op: OP_OACK, options: { blksize: 512 } }), Buffer.from([0, 4, 0])]);
    default:
      return requestBytes();
  }
}

async function flood(target: number, count: number, from: string, onReply: (b: Buffer) => void = () => undefined): Promise<Socket[]> {
  const socks = await Promise.all(
    Array.from({ length: SOURCES }, async () => {
      const s = dgram.createSocket('udp4');
      s.on('message', onReply);
      await new Promise<void>((r) => s.bind(0, from, r));
      return s;
    }),
  );
  const BATCH = 256; // sends in flight at once; bounded so the loop cannot run away
  for (let i = 0; i < count; i += BATCH) {
    await Promise.all(
      Array.from({ length: Math.min(BATCH, count - i) }, (_, k) => new Promise<void>((r) => socks[(i + k) % SOURCES]!.send(hostile(i + k), target, '127.0.0.1', () => r()))),
    );
  }
  return socks;
}

test.after(async () => {
  for (const o of opened) try { o.close(); } catch { /* closed */ }
  await server?.close();
  await calm?.close();
  rmSync(work, { recursive: true, force: true });
});

test(`robustness: ${PACKETS} random and mutated packets from ${SOURCES} ports; the server still serves`, async () => {
  server = await startTftpServer({ root, address: '127.0.0.1', port: 0, timeoutMs: 50, retries: 1, oackWaitMs: 2000, maxTransfers: 64 });
  const socks = await flood(server.port, PACKETS, '127.0.0.2');
  for (const s of socks) s.close();
  assert.ok(server.activeTransfers >= 0);
  // Still answering, from the in-project client...
  const r = await tftpGet({ host: '127.0.0.1', port: server.port, file: 'boot.bin', blksize: 1468 });
  assert.ok(r.data.equals(payload), 'in-project client after the flood');
  // ...and from a real one.
  needTool('busybox', 'busybox-static');
  const out = join(work, 'out.bin');
  await run(['busybox', 'tftp', '-g', '-b', '512', '-r', 'boot.bin', '-l', out, '127.0.0.1', String(server.port)], { timeoutMs: 60_000 });
  assert.is(createHash('sha256').update(readFileSync(out)).digest('hex'), createHash('sha256').update(payload).digest('hex'));
  // Every transfer the flood started ends by itself: short timeouts here, but the last wait
  // before giving up is CLIENT_RETRY_MS of silence (an un-ACKed OACK: oackWaitMs, 2 s).
  const deadline = Date.now() + CLIENT_RETRY_MS + 3000;
  while (server.activeTransfers > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  assert.is(server.activeTransfers, 0);
});

test('robustness: a flood at a live transfer port gets ERROR 5 and the transfer completes', async () => {
  calm ??= await startTftpServer({ root, address: '127.0.0.1', port: 0, timeoutMs: 30_000 });
  const peer = await RawPeer.open();
  opened.push(peer);
  peer.send(encode({ op: OP_RRQ, filename: 'tiny.bin', mode: 'octet', options: {} }), calm.port);
  const d1 = await peer.next();
  const tid = d1.rinfo.port;
  const errors: number[] = [];
  const socks = await flood(tid, 5000, '127.0.0.3', (b) => errors.push(b.readUInt16BE(2)));
  opened.push(...socks);
  await new Promise((res) => setTimeout(res, 100));
  peer.send(encode({ op: OP_ACK, block: 1 }), tid);
  const d2 = await peer.next();
  assert.is((d2.msg as { block: number }).block, 2);
  peer.send(encode({ op: OP_ACK, block: 2 }), tid);
  const got = Buffer.concat([(d1.msg as { data: Buffer }).data, (d2.msg as { data: Buffer }).data]);
  assert.equal(got, readFileSync(join(root, 'tiny.bin')));
  assert.ok(errors.length > 0 && errors.every((c) => c === ERR_UNKNOWN_TID), `flooders got ERROR 5 (${errors.length})`);
});

test('robustness: ERROR 5 replies reach the flooding ports', async () => {
  calm ??= await startTftpServer({ root, address: '127.0.0.1', port: 0, timeoutMs: 30_000 });
  const peer = await RawPeer.open();
  const stranger = await RawPeer.open('127.0.0.4');
  opened.push(peer, stranger);
  peer.send(encode({ op: OP_RRQ, filename: 'tiny.bin', mode: 'octet', options: {} }), calm.port);
  const tid = (await peer.next()).rinfo.port;
  for (let i = 0; i < 50; i++) stranger.send(randomBytes(randomInt(4, 40)).fill(0, 0, 1).fill(randomInt(1, 5), 1, 2), tid);
  const e = await stranger.next();
  assert.equal([e.msg.op, (e.msg as { code: number }).code], [OP_ERROR, ERR_UNKNOWN_TID]);
});

test.run();
