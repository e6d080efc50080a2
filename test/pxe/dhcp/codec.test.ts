// The wire codec on hand-made messages: padding, overload, RFC 3396, pad options,
// binary client ids, and strict rejection with DecodeError only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BOOTP_MIN_LEN, BOOTREPLY, MAGIC_COOKIE, Opt } from '../../../pxe/dhcp/constants.js';
import { decode, DecodeError, emptyMessage, encode, clientMac } from '../../../pxe/dhcp/packet.js';
import { getText, text, u8 } from '../../../pxe/dhcp/options.js';
import { maxReplySize } from '../../../pxe/dhcp/reply.js';
import { NODE1_MAC, request, T } from './helpers.js';

/** A raw request: 240-octet header + cookie, then the given option bytes. */
function raw(optionBytes: number[], patch?: (b: Buffer) => void): Buffer {
  const b = Buffer.alloc(240 + optionBytes.length);
  b[0] = 1;
  b[1] = 1;
  b[2] = 6;
  b.writeUInt32BE(0xdeadbeef, 4);
  Buffer.from('525400770001', 'hex').copy(b, 28);
  b.writeUInt32BE(MAGIC_COOKIE, 236);
  Buffer.from(optionBytes).copy(b, 240);
  patch?.(b);
  return b;
}

test('encode pads a small reply to the 300-octet BOOTP minimum, zero after the end option', () => {
  const m = emptyMessage(BOOTREPLY);
  m.options.set(Opt.MESSAGE_TYPE, u8(T.OFFER));
  const b = encode(m);
  assert.is(b.length, BOOTP_MIN_LEN);
  assert.is(b[240], Opt.MESSAGE_TYPE);
  assert.is(b[243], Opt.END);
  assert.ok(b.subarray(244).every((x) => x === 0));
});

test('round trip keeps every header field and option', () => {
  const m = request({ type: T.REQUEST, ciaddr: '10.77.0.11', giaddr: '10.88.0.1', flags: 0x8000, options: [[Opt.HOST_NAME, text('node1')]] });
  m.sname = 'srv';
  m.file = 'undionly.kpxe';
  m.secs = 7;
  const again = decode(encode(m));
  assert.equal(again, m);
  assert.is(clientMac(again), NODE1_MAC);
  assert.is(again.hops, 1);
});

test('pad options between and before options are skipped (RFC 2132 3.1)', () => {
  const m = decode(raw([0, 0, Opt.MESSAGE_TYPE, 1, T.DISCOVER, 0, Opt.HOST_NAME, 2, 0x61, 0x62, 0, Opt.END]));
  assert.is(m.options.get(Opt.MESSAGE_TYPE)![0], T.DISCOVER);
  assert.is(getText(m.options, Opt.HOST_NAME), 'ab');
  assert.equal([...m.options.keys()], [Opt.MESSAGE_TYPE, Opt.HOST_NAME]);
});

test('option 61 with zero octets stays bytes, and survives the round trip', () => {
  const id = Buffer.from([0, 0, 1, 0, 0, 0, 2]);
  const m = decode(raw([Opt.MESSAGE_TYPE, 1, T.DISCOVER, Opt.CLIENT_ID, id.length, ...id, Opt.END]));
  assert.ok(Buffer.isBuffer(m.options.get(Opt.CLIENT_ID)));
  assert.equal([...m.options.get(Opt.CLIENT_ID)!], [...id]);
  assert.equal([...decode(encode(m)).options.get(Opt.CLIENT_ID)!], [...id]);
});

test('RFC 3396: a 600-octet value is split into 255+255+90 on encode and joined on decode', () => {
  const m = emptyMessage(BOOTREPLY);
  m.options.set(Opt.MESSAGE_TYPE, u8(T.ACK));
  const long = Buffer.alloc(600, 0x41);
  long[0] = 1;
  long[599] = 2;
  m.options.set(Opt.VENDOR_SPECIFIC, long);
  const b = encode(m);
  // 53 first, then three instances of 43.
  assert.is(b[243], Opt.VENDOR_SPECIFIC);
  assert.is(b[244], 255);
  assert.is(b[243 + 257], Opt.VENDOR_SPECIFIC);
  assert.is(b[244 + 257], 255);
  assert.is(b[243 + 514], Opt.VENDOR_SPECIFIC);
  assert.is(b[244 + 514], 90);
  assert.ok(decode(b).options.get(Opt.VENDOR_SPECIFIC)!.equals(long));
});

test('RFC 3396: split instances of one option are joined in order, even when not adjacent', () => {
  const m = decode(raw([Opt.MESSAGE_TYPE, 1, T.DISCOVER, Opt.HOST_NAME, 2, 0x61, 0x62, Opt.PARAM_REQUEST_LIST, 1, 1, Opt.HOST_NAME, 1, 0x63, Opt.END]));
  assert.is(getText(m.options, Opt.HOST_NAME), 'abc');
});

test('option overload 52 pulls options from file and then sname (RFC 2132 9.3, RFC 3396 7)', () => {
  const b = raw([Opt.MESSAGE_TYPE, 1, T.DISCOVER, Opt.OVERLOAD, 1, 3, Opt.HOST_NAME, 1, 0x61, Opt.END], (x) => {
    // file field (108..235): more host name and the vendor class.
    Buffer.from([Opt.HOST_NAME, 1, 0x62, Opt.VENDOR_CLASS_ID, 3, 0x50, 0x58, 0x45, Opt.END]).copy(x, 108);
    // sname field (44..107): the rest of the host name, pads, no end (field end closes it).
    Buffer.from([0, Opt.HOST_NAME, 1, 0x63]).copy(x, 44);
  });
  const m = decode(b);
  assert.is(getText(m.options, Opt.HOST_NAME), 'abc');
  assert.is(getText(m.options, Opt.VENDOR_CLASS_ID), 'PXE');
  assert.is(m.file, '');
  assert.is(m.sname, '');
});

test('without overload, sname and file are NUL-terminated text', () => {
  const b = raw([Opt.MESSAGE_TYPE, 1, T.DISCOVER, Opt.END], (x) => {
    x.write('boot.server', 44, 'latin1');
    x.write('pxelinux.0', 108, 'latin1');
  });
  const m = decode(b);
  assert.is(m.sname, 'boot.server');
  assert.is(m.file, 'pxelinux.0');
});

const bad: Array<[string, Buffer, string]> = [
  ['shorter than the header', Buffer.alloc(100), 'short'],
  ['bad magic cookie', raw([Opt.END], (b) => b.writeUInt32BE(0x63825364, 236)), 'cookie'],
  ['op 3', raw([Opt.END], (b) => (b[0] = 3)), 'op'],
  ['hlen 17', raw([Opt.END], (b) => (b[2] = 17)), 'hlen'],
  ['Ethernet with hlen 8', raw([Opt.END], (b) => (b[2] = 8)), 'hlen'],
  ['option longer than the packet', raw([Opt.MESSAGE_TYPE, 1, 1, Opt.HOST_NAME, 40, 0x61]), 'option-length'],
  ['option code without length at the end', raw([Opt.MESSAGE_TYPE, 1, 1, Opt.HOST_NAME]), 'option-truncated'],
  ['no end option', raw([Opt.MESSAGE_TYPE, 1, 1, 0, 0]), 'no-end'],
  ['option 53 of two octets', raw([Opt.MESSAGE_TYPE, 2, 1, 1, Opt.END]), 'option-size'],
  ['option 50 of three octets', raw([Opt.REQUESTED_IP, 3, 1, 2, 3, Opt.END]), 'option-size'],
  ['option 93 of odd length', raw([Opt.CLIENT_ARCH, 3, 0, 0, 7, Opt.END]), 'option-size'],
  ['option 61 of one octet', raw([Opt.CLIENT_ID, 1, 1, Opt.END]), 'option-size'],
  ['overload value 4', raw([Opt.OVERLOAD, 1, 4, Opt.END]), 'overload'],
  ['overloaded file with a bad option length', raw([Opt.OVERLOAD, 1, 1, Opt.END], (b) => Buffer.from([Opt.HOST_NAME, 200]).copy(b, 108)), 'option-length'],
];
for (const [name, buf, reason] of bad) {
  test(`decode rejects ${name} with DecodeError(${reason})`, () => {
    try {
      decode(buf);
      assert.unreachable('should have thrown');
    } catch (err) {
      assert.instance(err, DecodeError);
      assert.is((err as DecodeError).reason, reason);
    }
  });
}

test('decode throws only DecodeError on 20,000 random and mutated buffers', () => {
  const seed = raw([Opt.MESSAGE_TYPE, 1, T.DISCOVER, Opt.CLIENT_ARCH, 2, 0, 7, Opt.VENDOR_CLASS_ID, 9, ...Buffer.from('PXEClient'), Opt.OVERLOAD, 1, 3, Opt.END]);
  let rnd = 12345;
  const next = () => (rnd = (rnd * 1103515245 + 12345) >>> 0) >>> 8;
  let ok = 0;
  for (let i = 0; i < 20_000; i++) {
    let b: Buffer;
    if (i % 4 === 0) b = Buffer.from(Array.from({ length: next() % 600 }, () => next() & 255));
    else {
      b = Buffer.from(seed.subarray(0, i % 4 === 1 ? next() % seed.length : seed.length));
      for (let k = next() % 6; k > 0 && b.length; k--) b[next() % b.length] = next() & 255;
    }
    try {
      decode(b);
      ok++;
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      assert.not.equal((err as DecodeError).reason, 'internal', (err as Error).message);
    }
  }
  assert.ok(ok > 0, 'some mutants still decode');
});


// ---- option 57 / option overload (RFC 2132 9.3, 9.10; RFC 3396 7) ----------------

/** A reply whose options take `size` octets or so: 53, 54, DNS servers, then a long domain. */
function bigReply(domainLen: number): ReturnType<typeof emptyMessage> {
  const m = emptyMessage(BOOTREPLY);
  m.xid = 0x01020304;
  m.yiaddr = '10.77.0.11';
  m.options.set(Opt.MESSAGE_TYPE, u8(T.OFFER));
  m.options.set(Opt.SERVER_ID, Buffer.from([10, 77, 0, 1]));
  m.options.set(Opt.SUBNET_MASK, Buffer.from([255, 255, 255, 0]));
  m.options.set(Opt.DNS, Buffer.alloc(40, 7));
  m.options.set(Opt.DOMAIN_NAME, text('d'.repeat(domainLen)));
  m.options.set(Opt.BOOTFILE_NAME, text(`http://10.77.0.1:8080/boot/${'x'.repeat(90)}.ipxe`));
  return m;
}

test('maxReplySize: option 57 minus IP and UDP headers, never under 576 (RFC 2132 9.10)', () => {
  const withMax = (n?: number) => maxReplySize(request({ type: T.DISCOVER, options: n === undefined ? [] : [[Opt.MAX_MESSAGE_SIZE, Buffer.from([n >> 8, n & 255])]] }));
  assert.is(withMax(), 548);
  assert.is(withMax(300), 548);
  assert.is(withMax(576), 548);
  assert.is(withMax(1500), 1472);
});

test('encode under the limit: no option 52, same bytes as without a limit', () => {
  const m = bigReply(20);
  const free = encode(m);
  assert.ok(free.length <= 548);
  assert.ok(encode(m, { maxSize: 548 }).equals(free));
  assert.not.ok(decode(free).options.has(Opt.OVERLOAD));
});

test('encode over the limit: options spill into file then sname with option 52, and decode joins them back', () => {
  const m = bigReply(200);
  assert.ok(encode(m).length > 548);
  const b = encode(m, { maxSize: 548 });
  assert.ok(b.length <= 548, `${b.length} octets`);
  // Option 52 is in the options field itself.
  assert.equal([...b.subarray(240, 243)], [Opt.OVERLOAD, 1, 1]);
  const d = decode(b);
  assert.is(d.file, '');
  assert.is(d.sname, '');
  assert.is(d.options.get(Opt.OVERLOAD)![0], 1);
  for (const [code, v] of m.options) assert.ok(d.options.get(code)?.equals(v), `option ${code}`);
  // The header is intact.
  assert.is(d.xid, 0x01020304);
  assert.is(d.yiaddr, '10.77.0.11');
  // Tighter still: both fields carry options.
  const both = bigReply(200);
  both.options.set(Opt.HOST_NAME, text('h'.repeat(60)));
  const b2 = encode(both, { maxSize: 548 });
  const d2 = decode(b2);
  assert.is(d2.options.get(Opt.OVERLOAD)![0], 3);
  for (const [code, v] of both.options) assert.ok(d2.options.get(code)?.equals(v), `option ${code}`);
});

test('encode over the limit with a boot file: file is kept, only sname is overloaded', () => {
  const m = bigReply(150);
  m.file = 'undionly.kpxe';
  m.siaddr = '10.77.0.1';
  const b = encode(m, { maxSize: 548 });
  assert.ok(b.length <= 548);
  const d = decode(b);
  assert.is(d.file, 'undionly.kpxe');
  assert.is(d.options.get(Opt.OVERLOAD)![0], 2);
  for (const [code, v] of m.options) assert.ok(d.options.get(code)?.equals(v), `option ${code}`);
});

test('encode over the limit: an option longer than any free field is split across fields (RFC 3396)', () => {
  const m = bigReply(10);
  m.options.set(Opt.VENDOR_SPECIFIC, Buffer.alloc(250, 0x2b));
  const b = encode(m, { maxSize: 548 });
  assert.ok(b.length <= 548);
  const d = decode(b);
  assert.ok(d.options.get(Opt.VENDOR_SPECIFIC)!.equals(m.options.get(Opt.VENDOR_SPECIFIC)!));
  for (const [code, v] of m.options) assert.ok(d.options.get(code)?.equals(v), `option ${code}`);
});

test('encode throws, with the limit in the message, when options do not fit even with overload', () => {
  const m = bigReply(250);
  m.file = 'undionly.kpxe';
  m.sname = 'srv';
  assert.throws(() => encode(m, { maxSize: 548 }), /548 octets/);
});

test.run();
