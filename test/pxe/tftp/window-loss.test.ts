// The exchange behind "loss 0.5% each way: atftp windowsize 8" failing now and then, replayed
// on loopback with the two losses placed by hand: the ACK at the end of a window is lost, and
// so is the one extra ACK atftp sends when our resent window brings blocks it already has.
// atftp then ignores such blocks until its own 5 s timer runs out, and our resends (every
// 100-800 ms here) never let it run out. The server must fall silent for longer than that
// before it gives up, so atftp's timer fires and its ACK moves the transfer on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import dgram from 'node:dgram';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTftpServer } from '../../../pxe/tftp/server.js';
import { ACK_LENGTH, OP_ACK } from '../../../pxe/tftp/packet.js';
import { run } from '../../../lib/run.js';
import { Events } from './helpers.js';
import { needTool } from '../../helpers/need.js';

const work = mkdtempSync(join(tmpdir(), 'tftp-window-loss-'));
const root = join(work, 'root');
mkdirSync(root);
const payload = randomBytes(40 * 512 + 100); // 41 blocks of 512
writeFileSync(join(root, 'w.bin'), payload);

test.after(() => rmSync(work, { recursive: true, force: true }));

test('atftp windowsize 8: window-end ACK and the extra ACK both lost; the transfer still completes', async () => {
  needTool('atftp', 'atftp');
  const toDrop = [16, 16]; // block numbers of the ACKs to lose, in order of arrival
  const dropped: number[] = [];
  // Every socket the server makes loses the ACKs listed above as they arrive.
  const createSocket = () => {
    const sock = dgram.createSocket({ type: 'udp4', lookup: (a, _f, cb) => cb(null, a, 4) });
    const emit = sock.emit.bind(sock) as (name: string, ...args: unknown[]) => boolean;
    sock.emit = ((name: string, ...args: unknown[]) => {
      const buf = args[0];
      if (name === 'message' && Buffer.isBuffer(buf) && buf.length === ACK_LENGTH && buf.readUInt16BE(0) === OP_ACK && buf.readUInt16BE(2) === toDrop[0]) {
        dropped.push(toDrop.shift()!);
        return true;
      }
      return emit(name, ...args);
    }) as typeof sock.emit;
    return sock;
  };
  const ev = new Events();
  const server = await startTftpServer({ root, address: '127.0.0.1', port: 0, createSocket, timeoutMs: 100, retries: 3, onEvent: ev.push });
  try {
    const out = join(work, 'out.bin');
    let stderr: string;
    try {
      stderr = (await run(['atftp', '--option', 'windowsize 8', '--option', 'blksize 512', '-g', '-r', 'w.bin', '-l', out, '127.0.0.1', String(server.port)], { timeoutMs: 60_000 })).stderr;
    } catch (err) {
      assert.unreachable(`atftp failed: ${(err as Error).message}`);
      return;
    }
    assert.equal(dropped, [16, 16], 'both ACKs were lost');
    assert.match(stderr, /got wrong block <block: 9>, sending extra ACK for <block: 16>/, 'atftp saw the resent window and answered it once');
    assert.is(createHash('sha256').update(readFileSync(out)).digest('hex'), createHash('sha256').update(payload).digest('hex'), 'atftp got the file');
    const e = await ev.waitFor(() => true);
    assert.is(e.status, 'done', JSON.stringify(e));
  } finally {
    await server.close();
  }
});

test.run();
