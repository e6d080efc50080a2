// The server on loopback, driven by the in-project client or by a raw UDP socket
// that counts exactly what the server sends. Timers run on a hand-driven clock
// where resends are the subject, so nothing here depends on speed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { screenRequest, startTftpServer, type TftpServerOptions, type TftpServer } from '../../../pxe/tftp/server.js';
import { tftpGet, TftpRemoteError } from '../../../tools/tftp/client.js';
import { encode, ERR_ACCESS, ERR_ILLEGAL_OP, ERR_NOT_FOUND, ERR_OPTIONS, ERR_UNDEFINED, ERR_UNKNOWN_TID, OP_ACK, OP_DATA, OP_ERROR, OP_OACK, OP_RRQ, OP_WRQ, type TftpMessage, type TftpOptions } from '../../../pxe/tftp/packet.js';
import { memoryLogger } from '../../../lib/log.js';
import { resolveIpxeFiles } from '../../../pxe/http/ipxe-files.js';
import { Events, ManualClock, RawPeer, tick } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'tftp-unit-'));
const root = join(work, 'root');
const outside = join(work, 'outside');
mkdirSync(join(root, 'sub'), { recursive: true });
mkdirSync(outside);
const small = randomBytes(1500); // 3 blocks of 512 (last one short)
writeFileSync(join(root, 'small.bin'), small);
writeFileSync(join(root, 'sub', 'ok.txt'), 'fine\n');
writeFileSync(join(outside, 'secret'), 'secret\n');
symlinkSync(join(outside, 'secret'), join(root, 'escape'));
symlinkSync(outside, join(root, 'dirlink'));
symlinkSync('sub/ok.txt', join(root, 'inner'));
writeFileSync(join(root, 'text.txt'), 'line1\nline2\r\nend\r');

const servers: TftpServer[] = [];
async function serve(extra: Partial<TftpServerOptions> = {}): Promise<TftpServer> {
  const s = await startTftpServer({ root, address: '127.0.0.1', port: 0, ...extra });
  servers.push(s);
  return s;
}
const rrq = (filename: string, options: TftpOptions = {}, mode: 'octet' | 'netascii' | 'mail' = 'octet') => encode({ op: OP_RRQ, filename, mode, options });
const ack = (block: number) => encode({ op: OP_ACK, block });

async function expectError(file: string, code: number, opts: Partial<Parameters<typeof tftpGet>[0]> = {}, server?: TftpServer): Promise<string> {
  const s = server ?? (await serve());
  try {
    await tftpGet({ host: '127.0.0.1', port: s.port, file, retries: 1, ...opts });
  } catch (err) {
    assert.instance(err, TftpRemoteError, String(err));
    assert.is((err as TftpRemoteError).code, code, `${file}: ${(err as Error).message}`);
    return (err as Error).message;
  }
  assert.unreachable(`${file} was served`);
  return '';
}

test.after(async () => {
  for (const s of servers) await s.close();
  rmSync(work, { recursive: true, force: true });
});

test('options: names any case, unknown ignored, OACK has only accepted options', async () => {
  const s = await serve({ maxWindowsize: 8 });
  const peer = await RawPeer.open();
  const req = Buffer.concat([
    Buffer.from([0, 1]),
    Buffer.from('small.bin\0OCTET\0BlkSize\x001024\0TSIZE\x000\0WindowSIZE\x0032\0Timeout\x003\0x-unknown\0yes\0', 'latin1'),
  ]);
  peer.send(req, s.port);
  const { msg, rinfo } = await peer.next();
  assert.equal(msg, { op: OP_OACK, options: { blksize: 1024, tsize: 1500, timeout: 3, windowsize: 8 } });
  assert.is.not(rinfo.port, s.port, 'replies come from a new TID');
  peer.send(ack(0), rinfo.port);
  const d1 = (await peer.next()).msg;
  const d2 = (await peer.next()).msg;
  assert.equal([d1.op, d2.op], [OP_DATA, OP_DATA]);
  assert.is((d1 as { data: Buffer }).data.length, 1024);
  assert.is((d2 as { data: Buffer }).data.length, 1500 - 1024);
  peer.send(ack(2), rinfo.port);
  peer.close();
  // No options at all: DATA 1 answers the RRQ directly (RFC 2347 §3).
  const p2 = await RawPeer.open();
  p2.send(rrq('small.bin', { other: { nonsense: '1' } }), s.port);
  const first = (await p2.next()).msg;
  assert.is(first.op, OP_DATA);
  assert.is((first as { block: number }).block, 1);
  p2.close();
  // The client gets the same bytes whatever it asks for.
  for (const [blksize, windowsize] of [[8, 1], [512, 4], [1468, 8], [65464, 2]] as const) {
    const r = await tftpGet({ host: '127.0.0.1', port: s.port, file: 'small.bin', blksize, windowsize, tsize: true });
    assert.equal(r.data, small, `blksize ${blksize} windowsize ${windowsize}`);
    assert.is(r.oack?.tsize, 1500);
  }
});

test('rollover: more than 65536 blocks at blksize 8, lock-step and windowed', async () => {
  const data = randomBytes(8 * 70_000 + 5);
  writeFileSync(join(root, 'big8.bin'), data);
  const ev = new Events();
  const s = await serve({ onEvent: ev.push });
  for (const windowsize of [1, 16]) {
    const r = await tftpGet({ host: '127.0.0.1', port: s.port, file: 'big8.bin', blksize: 8, windowsize });
    assert.is(r.blocks, 70_001);
    assert.ok(r.data.equals(data), `content (windowsize ${windowsize})`);
  }
  const e = await ev.waitFor((x) => x.file === 'big8.bin' && x.windowsize === 16);
  assert.is(e.status, 'done');
  assert.is(e.bytes, data.length);
});

test('duplicate ACKs never cause a resend; only the timer does', async () => {
  const clock = new ManualClock();
  const s = await serve({ clock, timeoutMs: 1000 });
  const peer = await RawPeer.open();
  peer.send(rrq('small.bin'), s.port);
  const d1 = await peer.next();
  const tid = d1.rinfo.port;
  peer.send(ack(1), tid);
  const d2 = (await peer.next()).msg as { op: number; block: number };
  assert.equal([d2.op, d2.block], [OP_DATA, 2]);
  for (let i = 0; i < 5; i++) peer.send(ack(1), tid); // duplicates of the previous ACK
  peer.send(ack(0), tid); // and an old one
  assert.equal(await peer.drain(), [], 'no DATA for duplicate ACKs');
  clock.advance(1000);
  const again = await peer.next();
  assert.equal([again.msg.op, (again.msg as { block: number }).block], [OP_DATA, 2], 'the timer resends block 2');
  assert.equal(await peer.drain(), []);
  peer.send(ack(2), tid);
  assert.is(((await peer.next()).msg as { block: number }).block, 3);
  peer.send(ack(3), tid);
  peer.close();
});

test('windowsize: an ACK inside the window slides it; the rest is resent only on timeout', async () => {
  const clock = new ManualClock();
  writeFileSync(join(root, 'w.bin'), randomBytes(512 * 20));
  const s = await serve({ clock, timeoutMs: 1000 });
  const peer = await RawPeer.open();
  peer.send(rrq('w.bin', { windowsize: 4 }), s.port);
  const o = await peer.next();
  assert.equal(o.msg, { op: OP_OACK, options: { windowsize: 4 } });
  const tid = o.rinfo.port;
  const blocksOf = (rs: { msg: TftpMessage }[]) => rs.map((r) => (r.msg as { block: number }).block);
  peer.send(ack(0), tid);
  await tick(100);
  assert.equal(blocksOf(await peer.drain()), [1, 2, 3, 4]);
  peer.send(ack(2), tid); // blocks 3 and 4 "lost"
  assert.equal(blocksOf(await peer.drain()), [5, 6], 'window slid to 3..6: only new blocks go out');
  peer.send(ack(2), tid);
  assert.equal(blocksOf(await peer.drain()), [], 'a duplicate changes nothing');
  clock.advance(1000);
  assert.equal(blocksOf(await peer.drain()), [3, 4, 5, 6], 'timeout resends from the first unacknowledged block');
  peer.close();
});

test('timeout: resend with doubling backoff, then give up with an error event', async () => {
  const clock = new ManualClock();
  const ev = new Events();
  const s = await serve({ clock, timeoutMs: 1000, retries: 4, onEvent: ev.push });
  const peer = await RawPeer.open();
  peer.send(rrq('small.bin'), s.port);
  await peer.next();
  const gaps: number[] = [];
  let last = 0;
  for (let i = 0; i < 200 && ev.list.length === 0; i++) {
    clock.advance(250);
    const got = await peer.drain(5);
    if (got.some((r) => r.msg.op === OP_DATA)) {
      gaps.push(clock.t - last);
      last = clock.t;
    }
    await tick(5);
  }
  assert.equal(gaps, [1000, 2000, 4000, 8000], 'resends after 1, 2, 4, 8 s');
  const e = await ev.waitFor(() => true);
  assert.is(e.status, 'error');
  assert.match(e.error ?? '', /timed out/);
  peer.close();
});

test('a lost final ACK: the error event says the client may have the whole file', async () => {
  writeFileSync(join(root, 'one.bin'), randomBytes(100)); // one DATA block, the last
  const clock = new ManualClock();
  const ev = new Events();
  const s = await serve({ clock, timeoutMs: 1000, retries: 2, onEvent: ev.push });
  const peer = await RawPeer.open();
  peer.send(rrq('one.bin'), s.port);
  await peer.next();
  for (let i = 0; i < 100 && ev.list.length === 0; i++) {
    clock.advance(500);
    await peer.drain(5);
    await tick(5);
  }
  const e = await ev.waitFor(() => true);
  assert.is(e.status, 'error');
  assert.match(e.error ?? '', 'timed out after 2 retries waiting for the ACK of the last block (the client may have the whole file)');
  peer.close();
});

test('wrong TID: ERROR 5 goes to the stranger and the transfer completes', async () => {
  const ev = new Events();
  const s = await serve({ onEvent: ev.push });
  const peer = await RawPeer.open();
  const stranger = await RawPeer.open();
  peer.send(rrq('small.bin'), s.port);
  const d1 = await peer.next();
  const tid = d1.rinfo.port;
  stranger.send(ack(1), tid);
  stranger.send(Buffer.from([0, 9, 9]), tid);
  const e5 = await stranger.next();
  assert.equal([e5.msg.op, (e5.msg as { code: number }).code], [OP_ERROR, ERR_UNKNOWN_TID]);
  assert.is(e5.rinfo.port, tid);
  const got = [(d1.msg as { data: Buffer }).data];
  for (let b = 1; ; b++) {
    peer.send(ack(b), tid);
    if (got[got.length - 1]!.length < 512) break;
    const d = (await peer.next()).msg as { block: number; data: Buffer };
    assert.is(d.block, b + 1);
    got.push(d.data);
  }
  assert.equal(Buffer.concat(got), small);
  const done = await ev.waitFor((x) => x.file === 'small.bin');
  assert.is(done.status, 'done');
  peer.close();
  stranger.close();
});

test('paths: traversal, absolute paths and symlink escapes are refused; inside links work', async () => {
  const s = await serve();
  for (const name of ['../outside/secret', 'sub/../../outside/secret', '..', 'sub\\..\\..\\outside\\secret', '/../outside/secret']) {
    await expectError(name, ERR_ACCESS, {}, s);
  }
  await expectError('escape', ERR_ACCESS, {}, s);
  await expectError('dirlink/secret', ERR_ACCESS, {}, s);
  await expectError('sub', ERR_ACCESS, {}, s);
  await expectError(join(outside, 'secret'), ERR_NOT_FOUND, {}, s); // '/' stripped: <root>/<work>/outside/secret does not exist
  await expectError('/etc/passwd', ERR_NOT_FOUND, {}, s);
  await expectError('nope.bin', ERR_NOT_FOUND, {}, s);
  assert.is((await tftpGet({ host: '127.0.0.1', port: s.port, file: '/sub/ok.txt' })).data.toString(), 'fine\n');
  assert.is((await tftpGet({ host: '127.0.0.1', port: s.port, file: 'inner' })).data.toString(), 'fine\n');
});

test('boot binaries resolved at start: a link out of the root (Debian ipxe.efi -> /boot) is served by its real path; nothing else is followed', async () => {
  const efi = randomBytes(3000);
  writeFileSync(join(outside, 'ipxe.efi'), efi);
  symlinkSync(join(outside, 'ipxe.efi'), join(root, 'ipxe.efi'));
  const files = await resolveIpxeFiles(root);
  assert.is(files.get('ipxe.efi'), join(outside, 'ipxe.efi'));
  assert.match(await expectError('ipxe.efi', ERR_ACCESS), /leads outside the root/, 'without files: refused, as before');
  const s = await serve({ files });
  assert.ok((await tftpGet({ host: '127.0.0.1', port: s.port, file: 'ipxe.efi' })).data.equals(efi));
  assert.ok((await tftpGet({ host: '127.0.0.1', port: s.port, file: '/ipxe.efi' })).data.equals(efi), "with PXE's leading '/'");
  await expectError('escape', ERR_ACCESS, {}, s);
  // The resolved path swapped for a link after start: refused, not followed.
  unlinkSync(join(outside, 'ipxe.efi'));
  symlinkSync(join(outside, 'secret'), join(outside, 'ipxe.efi'));
  assert.match(await expectError('ipxe.efi', ERR_ACCESS, {}, s), /cannot open 'ipxe\.efi'.*ELOOP/);
  unlinkSync(join(outside, 'ipxe.efi'));
  await expectError('ipxe.efi', ERR_NOT_FOUND, {}, s);
  unlinkSync(join(root, 'ipxe.efi'));
});

test('WRQ refused with ERROR 2; mail refused; malformed requests get ERROR 4 and the server goes on', async () => {
  const s = await serve();
  const peer = await RawPeer.open();
  peer.send(encode({ op: OP_WRQ, filename: 'up.bin', mode: 'octet', options: {} }), s.port);
  const w = (await peer.next()).msg as { op: number; code: number; message: string };
  assert.equal([w.op, w.code], [OP_ERROR, ERR_ACCESS]);
  assert.match(w.message, /read-only/);
  await expectError('small.bin', ERR_ILLEGAL_OP, { mode: 'mail' }, s);
  peer.send(Buffer.from([0, 1, 0x61]), s.port); // no NULs
  const m = (await peer.next()).msg as { code: number };
  assert.is(m.code, ERR_ILLEGAL_OP);
  peer.send(Buffer.from('\0\x01f\0octet\0blksize\x004\0', 'latin1'), s.port);
  assert.is(((await peer.next()).msg as { code: number }).code, ERR_OPTIONS);
  peer.send(Buffer.from([0, 5, 0, 1, 0]), s.port); // an ERROR is never answered
  peer.send(Buffer.from([7]), s.port); // too short to answer
  assert.equal(await peer.drain(), []);
  assert.equal((await tftpGet({ host: '127.0.0.1', port: s.port, file: 'small.bin' })).data, small);
  peer.close();
});

test('netascii: LF -> CR LF, CR -> CR NUL, and no tsize is offered', async () => {
  const s = await serve();
  const r = await tftpGet({ host: '127.0.0.1', port: s.port, file: 'text.txt', mode: 'netascii', tsize: true, blksize: 8 });
  assert.is(r.data.toString('latin1'), 'line1\r\nline2\r\0\r\nend\r\0');
  assert.equal(r.oack, { blksize: 8 });
});

test('generated files: a stream has no tsize, a Buffer has one, undefined falls back to the root', async () => {
  const asked: string[] = [];
  const s = await serve({
    generate: async (path, client) => {
      asked.push(`${path}@${client.address}`);
      if (path === 'node/boot.ipxe') return Readable.from([Buffer.from('#!ipxe\n'), Buffer.from(`echo ${client.address}\n`), Buffer.alloc(3000, 0x61)]);
      if (path === 'fixed.txt') return Buffer.from('fixed\n');
      return undefined;
    },
  });
  const a = await tftpGet({ host: '127.0.0.1', port: s.port, file: '/node/boot.ipxe', tsize: true, blksize: 1024 });
  assert.is(a.data.toString(), `#!ipxe\necho 127.0.0.1\n${'a'.repeat(3000)}`);
  assert.equal(a.oack, { blksize: 1024 }, 'tsize left out for a stream');
  const b = await tftpGet({ host: '127.0.0.1', port: s.port, file: 'fixed.txt', tsize: true });
  assert.is(b.data.toString(), 'fixed\n');
  assert.equal(b.oack, { tsize: 6 });
  const c = await tftpGet({ host: '127.0.0.1', port: s.port, file: 'sub/ok.txt' });
  assert.is(c.data.toString(), 'fine\n');
  assert.equal(asked, ['node/boot.ipxe@127.0.0.1', 'fixed.txt@127.0.0.1', 'sub/ok.txt@127.0.0.1']);
});

test('limits: per-client and global transfer caps and the request rate answer with ERROR, not silence', async () => {
  const clock = new ManualClock(); // nothing times out, so held transfers stay open
  const s = await serve({ clock, maxTransfers: 2, maxPerClient: 1, ratePerSec: 1, burst: 3 });
  const peers = await Promise.all([RawPeer.open('127.0.0.1'), RawPeer.open('127.0.0.1'), RawPeer.open('127.0.0.2'), RawPeer.open('127.0.0.3')]);
  const [a1, a2, b, c] = peers as [RawPeer, RawPeer, RawPeer, RawPeer];
  a1.send(rrq('small.bin'), s.port);
  assert.is((await a1.next()).msg.op, OP_DATA);
  a2.send(rrq('small.bin'), s.port);
  const busy1 = (await a2.next()).msg as { code: number; message: string };
  assert.equal([busy1.code, /too many transfers/.test(busy1.message)], [ERR_UNDEFINED, true]);
  b.send(rrq('small.bin'), s.port);
  const b1 = await b.next();
  assert.is(b1.msg.op, OP_DATA);
  // Both held transfers are acknowledged (an unacknowledged one would give its slot up to c).
  a1.send(ack(1), a1.all[0]!.rinfo.port);
  b.send(ack(1), b1.rinfo.port);
  assert.equal([(await a1.next()).msg.op, (await b.next()).msg.op], [OP_DATA, OP_DATA]);
  c.send(rrq('small.bin'), s.port);
  const busy2 = (await c.next()).msg as { code: number; message: string };
  assert.match(busy2.message, /server busy/);
  assert.is(s.activeTransfers, 2);
  // 127.0.0.1 has used 2 of its 3 tokens; the 4th request in the same instant is over the rate.
  a2.send(rrq('small.bin'), s.port);
  await a2.next();
  a2.send(rrq('small.bin'), s.port);
  assert.match(((await a2.next()).msg as { message: string }).message, /too many requests/);
  for (const p of peers) p.close();
});

test('events and log: one event and one line per transfer; a transfer survives changes to the root', async () => {
  const ev = new Events();
  const log = memoryLogger();
  const s = await serve({ onEvent: ev.push, log });
  const data = randomBytes(512 * 4 + 7);
  writeFileSync(join(root, 'changing.bin'), data);
  const peer = await RawPeer.open();
  peer.send(rrq('changing.bin', { blksize: 512 }), s.port);
  const o = await peer.next();
  unlinkSync(join(root, 'changing.bin'));
  writeFileSync(join(root, 'changing.bin'), randomBytes(100));
  const got: Buffer[] = [];
  for (let b = 0; ; b++) {
    peer.send(ack(b), o.rinfo.port);
    if (got.length > 0 && got[got.length - 1]!.length < 512) break;
    got.push(((await peer.next()).msg as { data: Buffer }).data);
  }
  assert.equal(Buffer.concat(got), data);
  const e = await ev.waitFor((x) => x.file === 'changing.bin');
  assert.equal({ ...e, ms: 0 }, { kind: 'tftp', client: `127.0.0.1:${peer.port}`, file: 'changing.bin', status: 'done', bytes: data.length, ms: 0, blksize: 512, windowsize: 1 });
  assert.ok(log.lines.some((l) => l.startsWith(`tftp 127.0.0.1:${peer.port} changing.bin: sent ${data.length} bytes`)), log.lines.join('\n'));
  await expectError('missing.bin', ERR_NOT_FOUND, {}, s);
  const miss = await ev.waitFor((x) => x.file === 'missing.bin');
  assert.is(miss.status, 'error');
  assert.match(miss.error ?? '', /not found/);
  peer.close();
});

test('screenRequest (pure): RRQs are read, ERRORs and runts dropped, writes, other kinds, mail mode and garbage refused', () => {
  assert.equal(screenRequest(rrq('small.bin', { blksize: 1024 })), { kind: 'read', req: { op: OP_RRQ, filename: 'small.bin', mode: 'octet', options: { blksize: 1024 } } });
  assert.equal(screenRequest(encode({ op: OP_ERROR, code: 0, message: 'x' })), { kind: 'drop' });
  assert.equal(screenRequest(Buffer.from([0])), { kind: 'drop' });
  assert.equal(screenRequest(encode({ op: OP_WRQ, filename: 'x', mode: 'octet', options: {} })), { kind: 'refuse', code: ERR_ACCESS, message: 'read-only server' });
  assert.equal(screenRequest(ack(1)), { kind: 'refuse', code: ERR_ILLEGAL_OP, message: 'expected a read request' });
  assert.equal(screenRequest(rrq('small.bin', {}, 'mail')), { kind: 'refuse', code: ERR_ILLEGAL_OP, message: "mode 'mail' is not supported" });
  const bad = screenRequest(Buffer.from([0, 1, 0x61]));
  assert.is(bad.kind, 'refuse');
  assert.ok(bad.kind === 'refuse' && bad.malformed, 'a malformed request is marked so the server logs it');
});

test.run();
