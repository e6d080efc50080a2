// The boot-phase splitter of bench/firmware-boot.ts: a pcap written here frame by frame
// (Ethernet, IPv4, UDP/TCP, as tcpdump -w writes them) and console lines, into marks and phases.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readPcap } from '../../tools/boot-phases/pcap.js';
import { consoleMarks, markProblems, networkMarks, phases, requests } from '../../tools/boot-phases/phases.js';

const NODE = { mac: '52:54:00:77:01:03', ip: '10.77.0.13' };
const SERVER = '10.77.0.1';
const FILES = { kernel: 'vmlinuz', initrd: 'initrd.img', root: 'root.squashfs' };
const T0 = 1_700_000_000_000_000; // us

const ip = (s: string) => Buffer.from(s.split('.').map(Number));

/** One Ethernet frame: IPv4 with a UDP or TCP header, the payload cut at `snap` bytes of frame. */
function frame(o: { src: string; dst: string; proto: 'udp' | 'tcp'; sport: number; dport: number; payload: Buffer; flags?: number; seq?: number }): Buffer {
  const l4 = o.proto === 'udp' ? Buffer.alloc(8) : Buffer.alloc(20);
  l4.writeUInt16BE(o.sport, 0);
  l4.writeUInt16BE(o.dport, 2);
  if (o.proto === 'udp') l4.writeUInt16BE(8 + o.payload.length, 4);
  else {
    l4.writeUInt32BE(o.seq ?? 0, 4);
    l4[12] = 5 << 4;
    l4[13] = o.flags ?? 0x18;
  }
  const iph = Buffer.alloc(20);
  iph[0] = 0x45;
  iph.writeUInt16BE(20 + l4.length + o.payload.length, 2);
  iph[9] = o.proto === 'udp' ? 17 : 6;
  ip(o.src).copy(iph, 12);
  ip(o.dst).copy(iph, 16);
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  return Buffer.concat([eth, iph, l4, o.payload]);
}

function pcap(frames: Array<{ us: number; frame: Buffer }>, snap = 65535): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(snap, 16);
  head.writeUInt32LE(1, 20);
  const recs = frames.map(({ us, frame: f }) => {
    const cut = f.subarray(0, snap);
    const r = Buffer.alloc(16);
    r.writeUInt32LE(Math.floor(us / 1e6), 0);
    r.writeUInt32LE(us % 1e6, 4);
    r.writeUInt32LE(cut.length, 8);
    r.writeUInt32LE(f.length, 12);
    return Buffer.concat([r, cut]);
  });
  return Buffer.concat([head, ...recs]);
}

function dhcp(type: number, mac: string): Buffer {
  const b = Buffer.alloc(300);
  b[0] = 2;
  Buffer.from(mac.split(':').map((h) => parseInt(h, 16))).copy(b, 28);
  b.writeUInt32BE(0x63825363, 236);
  b[240] = 53;
  b[241] = 1;
  b[242] = type;
  b[243] = 255;
  return b;
}
const rrq = (file: string) => Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0`)]);
const get = (path: string) => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${SERVER}\r\n\r\n`);
const data = (n: number) => Buffer.alloc(n, 0x55);
const tftpData = (block: number, n: number) => Buffer.concat([Buffer.from([0, 3, block >> 8, block & 255]), data(n)]);
const at = (ms: number) => T0 + ms * 1000;
const toMs = (us: number) => (us - T0) / 1000;

const BOOT = pcap([
  { us: at(900), frame: frame({ src: SERVER, dst: '255.255.255.255', proto: 'udp', sport: 67, dport: 68, payload: dhcp(2, NODE.mac) }) }, // OFFER
  { us: at(1000), frame: frame({ src: SERVER, dst: '255.255.255.255', proto: 'udp', sport: 67, dport: 68, payload: dhcp(5, '52:54:00:00:00:99') }) }, // another node's ACK
  { us: at(1200), frame: frame({ src: SERVER, dst: '255.255.255.255', proto: 'udp', sport: 67, dport: 68, payload: dhcp(5, NODE.mac) }) }, // ACK
  { us: at(1500), frame: frame({ src: NODE.ip, dst: SERVER, proto: 'udp', sport: 2000, dport: 69, payload: rrq('shimx64.efi') }) },
  { us: at(1600), frame: frame({ src: SERVER, dst: NODE.ip, proto: 'udp', sport: 40000, dport: 2000, payload: data(1200) }) },
  { us: at(3000), frame: frame({ src: NODE.ip, dst: SERVER, proto: 'tcp', sport: 5000, dport: 80, payload: get('/images/d/v1/vmlinuz') }) },
  { us: at(3500), frame: frame({ src: SERVER, dst: NODE.ip, proto: 'tcp', sport: 80, dport: 5000, payload: data(1448) }) },
  { us: at(4000), frame: frame({ src: NODE.ip, dst: SERVER, proto: 'tcp', sport: 5000, dport: 80, payload: get('/images/d/v1/initrd.img') }) },
  { us: at(4500), frame: frame({ src: SERVER, dst: NODE.ip, proto: 'tcp', sport: 80, dport: 5000, payload: data(1448), seq: 0xfffffd00 }) },
  { us: at(5000), frame: frame({ src: SERVER, dst: NODE.ip, proto: 'tcp', sport: 80, dport: 5000, payload: data(700), seq: 0xfffffd00 + 1448 - 2 ** 32 }) }, // across the wrap
  { us: at(5100), frame: frame({ src: NODE.ip, dst: SERVER, proto: 'tcp', sport: 5000, dport: 80, payload: Buffer.alloc(0), flags: 0x10 }) }, // bare ACK
  { us: at(5200), frame: frame({ src: SERVER, dst: NODE.ip, proto: 'tcp', sport: 80, dport: 5000, payload: Buffer.alloc(0), flags: 0x11 }) }, // FIN: no payload
  { us: at(7000), frame: frame({ src: SERVER, dst: NODE.ip, proto: 'tcp', sport: 80, dport: 5000, payload: data(700), seq: 0xfffffd00 + 1448 - 2 ** 32 }) }, // retransmitted: the loader left unacknowledged
  { us: at(9000), frame: frame({ src: NODE.ip, dst: SERVER, proto: 'tcp', sport: 5001, dport: 80, payload: get('/images/d/v1/root.squashfs') }) },
  { us: at(12000), frame: frame({ src: SERVER, dst: NODE.ip, proto: 'tcp', sport: 80, dport: 5001, payload: data(1448) }) },
  { us: at(15000), frame: frame({ src: SERVER, dst: NODE.ip, proto: 'tcp', sport: 80, dport: 5001, payload: data(1448), seq: 1448 }) },
], 400);

test('readPcap: addresses, ports, payload length from the headers even when the capture is cut', () => {
  const ps = readPcap(BOOT);
  assert.is(ps.length, 16);
  assert.equal({ src: ps[3]!.src, dst: ps[3]!.dst, proto: ps[3]!.proto, sport: ps[3]!.sport, dport: ps[3]!.dport }, { src: NODE.ip, dst: SERVER, proto: 'udp', sport: 2000, dport: 69 });
  assert.is(ps[6]!.length, 1448, 'the true payload size');
  assert.is(ps[6]!.payload.length, 400 - 54, 'only the captured bytes');
  assert.is(ps[0]!.us, at(900));
  assert.is(ps[11]!.flags & 1, 1, 'FIN');
  assert.is(ps[8]!.seq, 0xfffffd00);
  assert.throws(() => readPcap(Buffer.from('0a0d0d0a00000000000000000000000000000000000000000000', 'hex')), /not a pcap file.*pcapng/);
});

test('requests: HTTP GETs and TFTP read requests, with the port their answers come back on', () => {
  assert.equal(requests(readPcap(BOOT), NODE.ip, toMs).map((r) => [r.ms, r.via, r.path, r.port]), [
    [1500, 'tftp', 'shimx64.efi', 2000],
    [3000, 'http', '/images/d/v1/vmlinuz', 5000],
    [4000, 'http', '/images/d/v1/initrd.img', 5000],
    [9000, 'http', '/images/d/v1/root.squashfs', 5001],
  ]);
});

test('networkMarks: the node\'s own ACK, the kernel request, the last new byte of initrd and root on their flows (retransmissions later do not count)', () => {
  assert.equal(networkMarks(readPcap(BOOT), NODE, FILES, toMs), { dhcpAck: 1200, kernelRequest: 3000, initrdSent: 5000, rootRequest: 9000, rootSent: 15000 });
});

test('consoleMarks and phases: the five phases add up to the total; a missing mark gives null and a problem', () => {
  const con = consoleMarks([
    { ms: 6000, line: 'diskless: debian-bookworm-amd64 starting as fw-bios' },
    { ms: 16000, line: "diskless: switching to the image's init" },
    { ms: 20000, line: 'fw-bios login: diskless: node-up name=fw-bios addr=10.77.0.11/24 image=x' }, // after getty's prompt
    { ms: 21000, line: 'diskless: node-up name=again' },
  ]);
  assert.equal(con, { initStart: 6000, switchRoot: 16000, nodeUp: 20000 });
  const marks = { ...networkMarks(readPcap(BOOT), NODE, FILES, toMs), ...con };
  const p = phases(marks);
  assert.equal(p, { dhcp: 1200, loader: 1800, kernelInitrd: 2000, root: 10000, init: 5000, total: 20000 });
  assert.is(p.dhcp! + p.loader! + p.kernelInitrd! + p.root! + p.init!, p.total);
  assert.equal(markProblems(marks), []);
  const { nodeUp: _, ...noUp } = marks;
  assert.is(phases(noUp).init, null);
  assert.equal(markProblems(noUp), ['no nodeUp']);
  assert.equal(markProblems({ ...marks, kernelRequest: 900 }), ['kernelRequest before dhcpAck']);
});

test('answers over TFTP: the first send of the last DATA block to the node\'s port ends the file', () => {
  const ps = readPcap(pcap([
    { us: at(100), frame: frame({ src: SERVER, dst: NODE.ip, proto: 'udp', sport: 67, dport: 68, payload: dhcp(5, NODE.mac) }) },
    { us: at(200), frame: frame({ src: NODE.ip, dst: SERVER, proto: 'udp', sport: 3000, dport: 69, payload: rrq('/images/d/v1/vmlinuz') }) },
    { us: at(300), frame: frame({ src: SERVER, dst: NODE.ip, proto: 'udp', sport: 41000, dport: 3000, payload: data(1400) }) },
    { us: at(400), frame: frame({ src: NODE.ip, dst: SERVER, proto: 'udp', sport: 3001, dport: 69, payload: rrq('/images/d/v1/initrd.img') }) },
    { us: at(500), frame: frame({ src: SERVER, dst: NODE.ip, proto: 'udp', sport: 41001, dport: 3001, payload: tftpData(1, 1400) }) },
    { us: at(650), frame: frame({ src: SERVER, dst: NODE.ip, proto: 'udp', sport: 41001, dport: 3001, payload: tftpData(2, 12) }) },
    { us: at(900), frame: frame({ src: SERVER, dst: NODE.ip, proto: 'udp', sport: 41001, dport: 3001, payload: tftpData(2, 12) }) }, // resent: ACK lost
    { us: at(700), frame: frame({ src: NODE.ip, dst: SERVER, proto: 'udp', sport: 3001, dport: 41001, payload: data(4) }) },
  ]));
  assert.equal(networkMarks(ps, NODE, FILES, toMs), { dhcpAck: 100, kernelRequest: 200, initrdSent: 650 });
});

test.run();
