// Slots held on purpose: 256 RRQs asking `timeout 255` from 16 loopback addresses that
// never ACK, and a client that ACKs just often enough to dodge the retry limit. The server
// runs on a hand-driven clock, so the hostile slots cannot expire while the real clients
// (tftp-hpa, atftp) are served: they get in by taking the slot of an unacknowledged transfer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTftpServer, type TftpServer } from '../../../pxe/tftp/server.js';
import { encode, OP_ACK, OP_DATA, OP_ERROR, OP_OACK, OP_RRQ } from '../../../pxe/tftp/packet.js';
import { run } from '../../../lib/run.js';
import { Events, ManualClock, RawPeer, tick } from './helpers.js';
import { needTool } from '../../helpers/need.js';

const work = mkdtempSync(join(tmpdir(), 'tftp-hostile-'));
const root = join(work, 'root');
mkdirSync(root);
const payload = randomBytes(200_000);
writeFileSync(join(root, 'boot.bin'), payload);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const HOSTILE_ADDRESSES = 16;
const PER_ADDRESS = 16; // the default per-client cap: 16 x 16 = every one of the 256 default slots
const OACK_WAIT_MS = 15_000; // the server's default

const opened: { close(): void }[] = [];
test.after(() => {
  for (const o of opened) o.close();
  rmSync(work, { recursive: true, force: true });
});

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000; // a hang guard, not a speed check
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await tick();
  }
}

test('256 hostile RRQs with timeout 255 that never ACK: real clients are served while they are held, and all are freed within the OACK wait', async () => {
  needTool('tftp', 'tftp-hpa');
  needTool('atftp', 'atftp');
  const clock = new ManualClock();
  const ev = new Events();
  const server: TftpServer = await startTftpServer({ root, address: '127.0.0.1', port: 0, clock, onEvent: ev.push });
  opened.push({ close: () => void server.close() });
  const hostile: RawPeer[] = [];
  for (let a = 0; a < HOSTILE_ADDRESSES; a++) {
    const peer = await RawPeer.open(`127.0.0.${a + 2}`);
    opened.push(peer);
    hostile.push(peer);
    for (let i = 0; i < PER_ADDRESS; i++) peer.send(encode({ op: OP_RRQ, filename: 'boot.bin', mode: 'octet', options: { timeout: 255 } }), server.port);
  }
  await until('every slot is held', () => server.activeTransfers === HOSTILE_ADDRESSES * PER_ADDRESS);
  await until('every hostile request has its OACK', () => hostile.every((p) => p.all.length === PER_ADDRESS));
  for (const p of hostile) for (const r of p.all) assert.equal(r.msg, { op: OP_OACK, options: { timeout: 5 } }, 'the OACK gives the timeout we use, capped');

  // tftp-hpa (no options), and atftp asking for timeout 255 itself: both must accept the capped OACK.
  const hpaOut = join(work, 'hpa.bin');
  await run(['tftp', '-m', 'binary', '127.0.0.1', String(server.port), '-c', 'get', 'boot.bin', hpaOut], { timeoutMs: 60_000 });
  assert.is(sha(readFileSync(hpaOut)), sha(payload), 'tftp-hpa got the file');
  const atOut = join(work, 'atftp.bin');
  await run(['atftp', '--option', 'timeout 255', '--option', 'blksize 1468', '-g', '-r', 'boot.bin', '-l', atOut, '127.0.0.1', String(server.port)], { timeoutMs: 60_000 });
  assert.is(sha(readFileSync(atOut)), sha(payload), 'atftp got the file');
  await until('both real transfers reported', () => ev.list.filter((e) => e.status === 'done').length === 2);
  // tftp-hpa took the slot of the oldest unacknowledged transfer; atftp, after it, the slot tftp-hpa gave back.
  assert.is(server.evictions, 1);
  assert.is(ev.list.filter((e) => /server busy/.test(e.error ?? '')).length, 1);
  const held = HOSTILE_ADDRESSES * PER_ADDRESS - 1;
  assert.is(server.activeTransfers, held, 'the other hostile slots were still held (the clock has not moved)');

  clock.advance(OACK_WAIT_MS - 1);
  assert.is(server.activeTransfers, held, 'held until the OACK wait is over');
  clock.advance(1);
  assert.is(server.activeTransfers, 0, 'every hostile slot is free after the OACK wait');
  const expired = ev.list.filter((e) => /no ACK 0 for the OACK within 15 s/.test(e.error ?? ''));
  assert.is(expired.length, held);
});

test('a client that ACKs just often enough to dodge the retry limit is cut off at the lifetime cap, with an ERROR', async () => {
  const clock = new ManualClock();
  const ev = new Events();
  // 200,000 octets at 20,000 octets/s: 10 s on top of the 5 s floor.
  const server = await startTftpServer({ root, address: '127.0.0.1', port: 0, clock, onEvent: ev.push, timeoutMs: 1000, lifetimeFloorMs: 5000, lifetimeBytesPerSec: 20_000 });
  opened.push({ close: () => void server.close() });
  const peer = await RawPeer.open();
  opened.push(peer);
  peer.send(encode({ op: OP_RRQ, filename: 'boot.bin', mode: 'octet', options: { blksize: 512 } }), server.port);
  const oack = await peer.next();
  assert.is(oack.msg.op, OP_OACK);
  const tid = oack.rinfo.port;
  peer.send(encode({ op: OP_ACK, block: 0 }), tid);
  let last = 0;
  for (;;) {
    const r = await peer.next();
    if (r.msg.op !== OP_DATA) {
      assert.is(r.msg.op, OP_ERROR);
      assert.match((r.msg as { message: string }).message, /longer than its limit of 15 s/);
      break;
    }
    last = r.msg.block;
    clock.advance(900); // under the 1 s retransmit timeout: never a retry
    peer.send(encode({ op: OP_ACK, block: last }), tid);
  }
  assert.is(last, 17, 'one block per 0.9 s: DATA 17 left at 14.4 s, and at 15 s the cap');
  await until('slot freed', () => server.activeTransfers === 0);
  assert.match(ev.list[0]?.error ?? '', /longer than its limit/);
});

test.run();
