// Golden codec tests on real captures (see fixtures/README.md for how each was
// made): each decodes as expected, round-trips, and encodes back to the same bytes.
// DISKLESS_REGEN_FIXTURES=1 captures them again first.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { netnsAvailable } from '../../../host/netns.js';
import { Arch, MsgType, Opt, IpxeSub } from '../../../pxe/dhcp/constants.js';
import { decode, encode, clientMac, type DhcpMessage } from '../../../pxe/dhcp/packet.js';
import { decodeSubOptions, getIp, getText, getU16List, getU8 } from '../../../pxe/dhcp/options.js';
import { classify } from '../../../pxe/dhcp/boot.js';
import { missingTools } from './nstools.js';
import { CAPTURE_MAC, regenerate } from './capture.js';

const dir = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');

if (process.env.DISKLESS_REGEN_FIXTURES) {
  test('regenerate the fixtures from live captures', async () => {
    const skip = netnsAvailable() ?? missingTools(['busybox', 'dhclient', 'dnsmasq', 'tcpdump', 'qemu-system-x86_64']);
    if (skip) throw new Error(`cannot regenerate the fixtures here: ${skip} (scripts/install-deps.sh installs every tool; run as root)`);
    const work = mkdtempSync(join(tmpdir(), 'dl-dhcp-capture-'));
    try {
      await regenerate(dir, work);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

function fixture(name: string): DhcpMessage {
  const file = join(dir, name);
  if (!existsSync(file)) throw new Error(`fixture ${file} is missing: it is committed with the test (DISKLESS_REGEN_FIXTURES=1 makes it again)`);
  return decode(readFileSync(file));
}

/** Decode, re-encode, decode again: the same message. */
function roundTrip(m: DhcpMessage): void {
  const again = decode(encode(m));
  assert.equal(again, m);
}

/** Where the fixed BOOTP header's fields lie (RFC 2131 figure 1), to name a differing byte. */
const FIELDS: ReadonlyArray<readonly [string, number]> = [
  ['op', 0], ['htype', 1], ['hlen', 2], ['hops', 3], ['xid', 4], ['secs', 8], ['flags', 10], ['ciaddr', 12], ['yiaddr', 16],
  ['siaddr', 20], ['giaddr', 24], ['chaddr', 28], ['sname', 44], ['file', 108], ['magic cookie', 236], ['options', 240],
];
const fieldAt = (at: number) => FIELDS.filter(([, start]) => start <= at).pop()![0];

/**
 * Byte ranges [from, to) of a capture that our encoder need not reproduce, by fixture,
 * each named. None: see "Compared byte for byte" in fixtures/README.md for why, and for
 * what to do when a new capture needs an entry here.
 */
const VARYING: Record<string, { field: string; from: number; to: number }[]> = {};

/** encode(decode(capture)) gives back the capture, byte for byte, apart from VARYING. */
function sameBytes(name: string): void {
  const capture = readFileSync(join(dir, name));
  const ours = encode(decode(capture));
  const masked = (at: number) => (VARYING[name] ?? []).some((v) => v.from <= at && at < v.to);
  const diffs: string[] = [];
  for (let at = 0; at < Math.max(capture.length, ours.length); at++) {
    if (capture[at] !== ours[at] && !masked(at)) diffs.push(`${at} (${fieldAt(at)}): capture ${capture[at]?.toString(16) ?? '-'}, ours ${ours[at]?.toString(16) ?? '-'}`);
  }
  assert.is(ours.length, capture.length, `${name}: encoded length`);
  assert.equal(diffs, [], `${name}: encode(decode(capture)) differs at octet ${diffs.slice(0, 8).join('; ')}`);
}

const type = (m: DhcpMessage) => getU8(m.options, Opt.MESSAGE_TYPE);

test('udhcpc DISCOVER and REQUEST', () => {
  const d = fixture('udhcpc-discover.bin');
  const r = fixture('udhcpc-request.bin');
  assert.is(d.op, 1);
  assert.is(type(d), MsgType.DISCOVER);
  assert.is(clientMac(d), CAPTURE_MAC);
  assert.is(d.giaddr, '0.0.0.0');
  assert.match(getText(d.options, Opt.VENDOR_CLASS_ID) ?? '', /^udhcp /);
  assert.is(getText(d.options, Opt.HOST_NAME), 'node1');
  assert.ok(d.options.get(Opt.CLIENT_ID)!.equals(Buffer.from('01525400770001', 'hex')));
  assert.ok(d.options.has(Opt.PARAM_REQUEST_LIST));
  assert.is(type(r), MsgType.REQUEST);
  assert.is(r.xid, d.xid);
  assert.is(getIp(r.options, Opt.SERVER_ID), '10.77.0.1');
  assert.is(getIp(r.options, Opt.REQUESTED_IP), '10.77.0.11');
  roundTrip(d);
  roundTrip(r);
  sameBytes('udhcpc-discover.bin');
  sameBytes('udhcpc-request.bin');
});

test('dhclient DISCOVER and REQUEST', () => {
  const d = fixture('dhclient-discover.bin');
  const r = fixture('dhclient-request.bin');
  assert.is(type(d), MsgType.DISCOVER);
  assert.is(clientMac(d), CAPTURE_MAC);
  const prl = [...d.options.get(Opt.PARAM_REQUEST_LIST)!];
  for (const code of [Opt.SUBNET_MASK, Opt.ROUTER, Opt.DNS, Opt.DOMAIN_NAME, Opt.HOST_NAME]) assert.ok(prl.includes(code), `PRL has ${code}`);
  assert.is(type(r), MsgType.REQUEST);
  assert.is(getIp(r.options, Opt.REQUESTED_IP), '10.77.0.11');
  assert.is(getIp(r.options, Opt.SERVER_ID), '10.77.0.1');
  roundTrip(d);
  roundTrip(r);
  sameBytes('dhclient-discover.bin');
  sameBytes('dhclient-request.bin');
});

test('iPXE (QEMU e1000 ROM) DISCOVER: PXEClient, arch 0, UNDI, UUID, user class iPXE, option 175', () => {
  const d = fixture('ipxe-discover.bin');
  const r = fixture('ipxe-request.bin');
  assert.is(type(d), MsgType.DISCOVER);
  assert.is(clientMac(d), CAPTURE_MAC);
  assert.match(getText(d.options, Opt.VENDOR_CLASS_ID)!, /^PXEClient:Arch:00000:UNDI:002001$/);
  assert.equal(getU16List(d.options, Opt.CLIENT_ARCH), [Arch.BIOS]);
  assert.equal([...d.options.get(Opt.CLIENT_NDI)!], [1, 2, 1]);
  const uuid = d.options.get(Opt.CLIENT_UUID)!;
  assert.is(uuid.length, 17);
  assert.is(uuid[0], 0);
  assert.is(getText(d.options, Opt.USER_CLASS), 'iPXE');
  const encap = decodeSubOptions(d.options.get(Opt.IPXE_ENCAP)!);
  assert.ok(encap && encap.size > 0, 'option 175 holds iPXE feature sub-options');
  assert.not.ok(encap!.has(IpxeSub.NO_PXEDHCP), 'a client does not send no-pxedhcp');
  const kind = classify(d.options);
  assert.ok(kind.pxe && kind.ipxe && kind.archGiven);
  assert.is(type(r), MsgType.REQUEST);
  assert.is(getIp(r.options, Opt.REQUESTED_IP), '10.77.0.11');
  roundTrip(d);
  roundTrip(r);
  sameBytes('ipxe-discover.bin');
  sameBytes('ipxe-request.bin');
});

test("dnsmasq's OFFER to iPXE: a real server reply decodes and round-trips", () => {
  const o = fixture('dnsmasq-offer.bin');
  assert.is(o.op, 2);
  assert.is(type(o), MsgType.OFFER);
  assert.is(o.yiaddr, '10.77.0.11');
  // dnsmasq puts the boot file in option 67 (NUL-terminated) when the client asks for 67.
  assert.is(getText(o.options, Opt.BOOTFILE_NAME), 'undionly.kpxe');
  assert.is(o.siaddr, '10.77.0.1');
  assert.is(getIp(o.options, Opt.SERVER_ID), '10.77.0.1');
  roundTrip(o);
  sameBytes('dnsmasq-offer.bin');
});

test.run();
