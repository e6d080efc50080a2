import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import {
  dataHeader,
  decode,
  encode,
  encodeData,
  TftpDecodeError,
  ERR_NOT_FOUND,
  ERR_OPTIONS,
  ERR_ILLEGAL_OP,
  OP_ACK,
  OP_DATA,
  OP_ERROR,
  OP_OACK,
  OP_RRQ,
  OP_WRQ,
  type TftpMessage,
} from '../../../pxe/tftp/packet.js';
import { negotiate } from '../../../pxe/tftp/options.js';
import { toNetascii } from '../../../pxe/tftp/source.js';

const raw = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

function throwsDecode(buf: Buffer, match: RegExp, code?: number): void {
  try {
    decode(buf);
  } catch (err) {
    assert.instance(err, TftpDecodeError);
    assert.match((err as Error).message, match);
    if (code !== undefined) assert.is((err as TftpDecodeError).code, code);
    return;
  }
  assert.unreachable(`decoded ${buf.toString('hex')} but should not have`);
}

const samples: TftpMessage[] = [
  { op: OP_RRQ, filename: 'pxelinux.0', mode: 'octet', options: {} },
  { op: OP_RRQ, filename: 'boot/ipxe.efi', mode: 'netascii', options: { blksize: 1468, tsize: 0, timeout: 3, windowsize: 8, other: { multicast: '' } } },
  { op: OP_WRQ, filename: 'up.bin', mode: 'octet', options: { blksize: 8 } },
  { op: OP_DATA, block: 1, data: Buffer.from('hello') },
  { op: OP_DATA, block: 65535, data: Buffer.alloc(0) },
  { op: OP_DATA, block: 0, data: randomBytes(65464) },
  { op: OP_ACK, block: 0 },
  { op: OP_ACK, block: 65535 },
  { op: OP_ERROR, code: ERR_NOT_FOUND, message: 'File not found' },
  { op: OP_ERROR, code: 0, message: '' },
  { op: OP_OACK, options: { blksize: 65464, tsize: 104857600, windowsize: 65535 } },
  { op: OP_OACK, options: {} },
];

test('round trip: every packet type encodes and decodes to the same message', () => {
  for (const m of samples) {
    const buf = encode(m);
    assert.equal(decode(buf), m, `op ${m.op}`);
    assert.equal(encode(decode(buf)), buf);
  }
});

test('wire bytes: RRQ and ACK match RFC 1350 layout', () => {
  assert.equal(encode({ op: OP_RRQ, filename: 'a', mode: 'octet', options: { blksize: 1468 } }), raw([0, 1], 'a', [0], 'octet', [0], 'blksize', [0], '1468', [0]));
  assert.equal(encode({ op: OP_ACK, block: 0x1234 }), Buffer.from([0, 4, 0x12, 0x34]));
  assert.equal(encode({ op: OP_ERROR, code: 5, message: 'x' }), Buffer.from([0, 5, 0, 5, 0x78, 0]));
});

test('dataHeader + data is the same datagram as encodeData, block numbers wrapped', () => {
  const data = randomBytes(37);
  for (const n of [1, 0xffff, 0x10000, 0x10001, 3 * 0x10000 + 0x1234]) {
    assert.equal(Buffer.concat([dataHeader(n), data]), encodeData(n, data), `block ${n}`);
  }
  assert.equal(dataHeader(0x11234), Buffer.from([0, 3, 0x12, 0x34]));
});

test('option names and mode are matched case-insensitively; unknown options are kept aside', () => {
  const m = decode(raw([0, 1], 'File.Bin', [0], 'OcTeT', [0], 'BLKSIZE', [0], '1024', [0], 'TSize', [0], '0', [0], 'WindowSize', [0], '4', [0], 'X-Thing', [0], 'On', [0]));
  assert.equal(m, { op: OP_RRQ, filename: 'File.Bin', mode: 'octet', options: { blksize: 1024, tsize: 0, windowsize: 4, other: { 'x-thing': 'On' } } });
  const n = decode(raw([0, 1], 'f', [0], 'NETASCII', [0]));
  assert.is((n as { mode: string }).mode, 'netascii');
});

test('malformed: truncated, missing NULs, bad opcodes, bad lengths are rejected with a clear error', () => {
  throwsDecode(Buffer.alloc(0), /shorter than an opcode/);
  throwsDecode(Buffer.from([0]), /shorter than an opcode/);
  throwsDecode(Buffer.from([0, 7]), /unknown opcode 7/);
  throwsDecode(Buffer.from([0xff, 0xff, 1, 2]), /unknown opcode 65535/);
  throwsDecode(Buffer.from([0, 0]), /unknown opcode 0/);
  throwsDecode(raw([0, 1], 'file'), /not NUL-terminated/);
  throwsDecode(raw([0, 1], 'file', [0], 'octet'), /not NUL-terminated/);
  throwsDecode(raw([0, 1], 'file', [0]), /filename and a mode/);
  throwsDecode(raw([0, 1], [0], 'octet', [0]), /empty filename/);
  throwsDecode(raw([0, 1], 'f', [0], 'binary', [0]), /unknown transfer mode 'binary'/);
  throwsDecode(raw([0, 3], [0]), /no block number/);
  throwsDecode(raw([0, 4], [0]), /ACK must be 4 bytes/);
  throwsDecode(raw([0, 4], [0, 1, 2]), /ACK must be 4 bytes, got 5/);
  throwsDecode(raw([0, 5], [0, 1]), /truncated/);
  throwsDecode(raw([0, 5], [0, 1], 'oops'), /not NUL-terminated/);
  throwsDecode(raw([0, 6], 'blksize'), /not NUL-terminated/);
});

test('malformed options: missing value, bad numbers, blksize out of range, duplicates (ERROR 8)', () => {
  const rrq = (...opts: string[]) => raw([0, 1], 'f', [0], 'octet', [0], ...opts.flatMap((o) => [o, [0]] as (string | number[])[]));
  throwsDecode(rrq('blksize'), /'blksize' has no value/, ERR_OPTIONS);
  throwsDecode(rrq('blksize', 'abc'), /not a decimal number/, ERR_OPTIONS);
  throwsDecode(rrq('blksize', '-1'), /not a decimal number/, ERR_OPTIONS);
  throwsDecode(rrq('blksize', '7'), /blksize: 7 is outside 8..65464/, ERR_OPTIONS);
  throwsDecode(rrq('blksize', '65465'), /outside 8..65464/, ERR_OPTIONS);
  throwsDecode(rrq('timeout', '0'), /timeout: 0 is outside 1..255/, ERR_OPTIONS);
  throwsDecode(rrq('timeout', '256'), /outside 1..255/, ERR_OPTIONS);
  throwsDecode(rrq('windowsize', '0'), /windowsize: 0/, ERR_OPTIONS);
  throwsDecode(rrq('windowsize', '65536'), /windowsize/, ERR_OPTIONS);
  throwsDecode(rrq('tsize', '1e3'), /not a decimal/, ERR_OPTIONS);
  throwsDecode(rrq('blksize', '512', 'BlkSize', '1024'), /given twice/, ERR_OPTIONS);
  throwsDecode(rrq('', 'x'), /empty option name/, ERR_OPTIONS);
  // The edges are fine.
  assert.is((decode(rrq('blksize', '8')) as { options: { blksize: number } }).options.blksize, 8);
  assert.is((decode(rrq('blksize', '65464')) as { options: { blksize: number } }).options.blksize, 65464);
});

test('odd-sized inputs: every prefix of every packet either decodes or throws TftpDecodeError', () => {
  for (const m of samples) {
    const full = encode(m);
    for (let n = 0; n <= Math.min(full.length, 200); n++) {
      try {
        decode(full.subarray(0, n));
      } catch (err) {
        assert.instance(err, TftpDecodeError, `prefix ${n} of op ${m.op}`);
      }
    }
  }
  // Zero padding after a complete request is tolerated (some firmware pads).
  assert.is((decode(raw([0, 1], 'f', [0], 'octet', [0, 0])) as { filename: string }).filename, 'f');
});

test('random bytes never throw anything but TftpDecodeError', () => {
  for (let i = 0; i < 20_000; i++) {
    const buf = randomBytes(i % 64);
    if (i % 3 === 0 && buf.length >= 2) buf.writeUInt16BE(1 + (i % 6), 0);
    try {
      decode(buf);
    } catch (err) {
      if (!(err instanceof TftpDecodeError)) assert.unreachable(`${buf.toString('hex')}: ${String(err)}`);
    }
  }
});

test('negotiate: echoes accepted options clamped to our limits, drops tsize without a size', () => {
  const limits = { maxBlksize: 1468, maxWindowsize: 16, defaultTimeoutMs: 1000, maxTimeoutS: 5 };
  const a = negotiate({ blksize: 65464, windowsize: 64, tsize: 0, timeout: 2, other: { foo: 'bar' } }, { size: 1234, mode: 'octet' }, limits);
  assert.equal(a.oack, { blksize: 1468, windowsize: 16, tsize: 1234, timeout: 2 });
  assert.is(a.blksize, 1468);
  assert.is(a.windowsize, 16);
  assert.is(a.timeoutMs, 2000);
  const b = negotiate({ tsize: 0 }, { size: undefined, mode: 'octet' }, limits);
  assert.is(b.oack, undefined, 'nothing accepted: no OACK');
  assert.is(b.blksize, 512);
  const c = negotiate({ other: { unknown: '1' } }, { size: 5, mode: 'octet' }, limits);
  assert.is(c.oack, undefined);
});

test('negotiate: a timeout above our cap is used capped, and the OACK says the value we use', () => {
  const limits = { maxBlksize: 1468, maxWindowsize: 16, defaultTimeoutMs: 1000, maxTimeoutS: 5 };
  const hostile = negotiate({ timeout: 255 }, { size: 29, mode: 'octet' }, limits);
  assert.equal(hostile.oack, { timeout: 5 });
  assert.is(hostile.timeoutMs, 5000);
  const atCap = negotiate({ timeout: 5 }, { size: 29, mode: 'octet' }, limits);
  assert.equal([atCap.oack, atCap.timeoutMs], [{ timeout: 5 }, 5000]);
  const low = negotiate({ timeout: 1 }, { size: 29, mode: 'octet' }, limits);
  assert.equal([low.oack, low.timeoutMs], [{ timeout: 1 }, 1000], 'below the cap: as asked');
});

test('netascii: LF -> CR LF, CR -> CR NUL', () => {
  assert.equal(toNetascii(Buffer.from('a\nb\rc\r\n')), Buffer.from('a\r\nb\r\0c\r\0\r\n', 'latin1'));
  const plain = Buffer.from('no line ends');
  assert.is(toNetascii(plain), plain);
});

test.run();
