// The reply policy, case by case against the RFCs, with no socket.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decide, DECLINE_QUARANTINE_MS, OFFER_HOLD_MS, SECONDARY_AFTER_SECS, type Incoming, type PolicyConfig } from '../../../pxe/dhcp/policy.js';
import { LeaseTable, loadLeases, saveLeases } from '../../../pxe/dhcp/leases.js';
import { FLAG_BROADCAST, IpxeSub, Opt, PXE_DISCOVERY_USE_BOOTFILE, PxeSub } from '../../../pxe/dhcp/constants.js';
import { decodeSubOptions, getIp, getIps, getText, getU32, getU8, ip, text, u16, u8 } from '../../../pxe/dhcp/options.js';
import { decode, encode, type DhcpMessage } from '../../../pxe/dhcp/packet.js';
import { parseInventory } from '../../../cluster/inventory.js';
import { HTTP_PORT, NODE1_MAC, NODE2_MAC, request, SERVER_IP, T, testInventory, UNKNOWN_MAC, type ReqSpec } from './helpers.js';

const cfg: PolicyConfig = { serverIp: SERVER_IP, httpPort: HTTP_PORT };
const NOW = 1_700_000_000_000;
const inv = testInventory();
const poolInv = testInventory({ pool: true });

function run(spec: ReqSpec, o: { inv?: typeof inv; leases?: LeaseTable; now?: number; cfg?: PolicyConfig; from?: Incoming['from']; localPort?: number } = {}) {
  const msg = request(spec);
  // A relayed request comes from its relay (10.88.0.1 is listed in helpers.ts), port 67.
  const from = o.from ?? (spec.giaddr ? { address: spec.giaddr, port: 67 } : { address: '0.0.0.0', port: 68 });
  return decide({ msg, from, localPort: o.localPort ?? 67 }, o.inv ?? inv, o.leases ?? new LeaseTable(), o.now ?? NOW, o.cfg ?? cfg);
}
const type = (m: DhcpMessage | null) => (m ? getU8(m.options, Opt.MESSAGE_TYPE) : undefined);
const PXE_BIOS: Array<[number, Buffer]> = [
  [Opt.VENDOR_CLASS_ID, text('PXEClient:Arch:00000:UNDI:002001')],
  [Opt.CLIENT_ARCH, u16(0)],
  [Opt.CLIENT_NDI, Buffer.from([1, 2, 1])],
  [Opt.CLIENT_UUID, Buffer.from('00' + '11'.repeat(16), 'hex')],
];
const pxeArch = (arch: number): Array<[number, Buffer]> => [
  [Opt.VENDOR_CLASS_ID, text(`PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:003016`)],
  [Opt.CLIENT_ARCH, u16(arch)],
];
const IPXE: Array<[number, Buffer]> = [...PXE_BIOS, [Opt.USER_CLASS, text('iPXE')], [Opt.IPXE_ENCAP, Buffer.from([19, 1, 1])]];

// ---- reservations and options ------------------------------------------------------

test('DISCOVER from a reserved MAC: OFFER with its address and the network options', () => {
  const o = run({ type: T.DISCOVER });
  const r = o.reply!;
  assert.is(type(r), T.OFFER);
  assert.is(r.yiaddr, '10.77.0.11');
  assert.is(r.ciaddr, '0.0.0.0');
  assert.is(getIp(r.options, Opt.SUBNET_MASK), '255.255.255.0');
  assert.equal(getIps(r.options, Opt.ROUTER), ['10.77.0.1']);
  assert.equal(getIps(r.options, Opt.DNS), ['10.77.0.1', '10.77.0.2']);
  assert.is(getText(r.options, Opt.DOMAIN_NAME), 'cluster.test');
  assert.is(getText(r.options, Opt.HOST_NAME), 'node1');
  assert.is(getU32(r.options, Opt.LEASE_TIME), 3600);
  assert.is(getU32(r.options, Opt.RENEWAL_TIME), 1800);
  assert.is(getU32(r.options, Opt.REBINDING_TIME), 3150);
  assert.is(getIp(r.options, Opt.SERVER_ID), SERVER_IP);
  assert.is(r.xid, 0x1234abcd);
  assert.equal(o.event, { kind: 'dhcp', mac: NODE1_MAC, node: 'node1', type: 'offer', ip: '10.77.0.11', arch: undefined, ipxe: false, bootfile: 'undionly.kpxe', detail: undefined });
  assert.match(o.line, /node1 .*OFFER 10\.77\.0\.11/);
});

test('parameter request list orders the options: 53, 54, then the client order', () => {
  const r = run({ type: T.DISCOVER, options: [[Opt.PARAM_REQUEST_LIST, Buffer.from([Opt.DNS, Opt.HOST_NAME, Opt.SUBNET_MASK, Opt.ROUTER])]] }).reply!;
  assert.equal([...r.options.keys()].slice(0, 6), [Opt.MESSAGE_TYPE, Opt.SERVER_ID, Opt.DNS, Opt.HOST_NAME, Opt.SUBNET_MASK, Opt.ROUTER]);
});

test('the encoded reply is padded to 300 octets and decodes back', () => {
  const b = encode(run({ type: T.DISCOVER }).reply!);
  assert.ok(b.length >= 300);
  assert.is(decode(b).yiaddr, '10.77.0.11');
});

test('REQUEST (SELECTING) naming us with the offered address: ACK', () => {
  const o = run({ type: T.REQUEST, options: [[Opt.SERVER_ID, ip(SERVER_IP)], [Opt.REQUESTED_IP, ip('10.77.0.11')]] });
  assert.is(type(o.reply), T.ACK);
  assert.is(o.reply!.yiaddr, '10.77.0.11');
  assert.is(o.event.type, 'ack');
});

test('REQUEST naming another server is ignored (RFC 2131 4.3.2), and a pool offer is withdrawn', () => {
  const leases = new LeaseTable();
  const offer = run({ type: T.DISCOVER, mac: UNKNOWN_MAC }, { inv: poolInv, leases });
  const offered = offer.reply!.yiaddr;
  assert.is(leases.ofMac(UNKNOWN_MAC)?.state, 'offered');
  const o = run({ type: T.REQUEST, mac: UNKNOWN_MAC, options: [[Opt.SERVER_ID, ip('10.77.0.2')], [Opt.REQUESTED_IP, ip(offered)]] }, { inv: poolInv, leases });
  assert.is(o.reply, null);
  assert.is(o.event.type, 'ignored');
  assert.is(leases.ofMac(UNKNOWN_MAC), undefined);
  // Reserved client: ignored too.
  assert.is(run({ type: T.REQUEST, options: [[Opt.SERVER_ID, ip('10.77.0.2')], [Opt.REQUESTED_IP, ip('10.77.0.11')]] }).reply, null);
});

test('REQUEST (SELECTING) for an address we will not give: NAK, broadcast', () => {
  const o = run({ type: T.REQUEST, options: [[Opt.SERVER_ID, ip(SERVER_IP)], [Opt.REQUESTED_IP, ip('10.77.0.12')]] });
  assert.is(type(o.reply), T.NAK);
  assert.is(o.reply!.yiaddr, '0.0.0.0');
  assert.equal(o.to, { address: '255.255.255.255', port: 68 });
  assert.is(o.event.type, 'nak');
  assert.ok(getText(o.reply!.options, Opt.MESSAGE));
});

test('INIT-REBOOT (option 50, no server id, no ciaddr): ACK for the right address, NAK for a wrong one', () => {
  assert.is(type(run({ type: T.REQUEST, options: [[Opt.REQUESTED_IP, ip('10.77.0.11')]] }).reply), T.ACK);
  const nak = run({ type: T.REQUEST, options: [[Opt.REQUESTED_IP, ip('192.168.1.50')]] });
  assert.is(type(nak.reply), T.NAK);
  assert.equal(nak.to, { address: '255.255.255.255', port: 68 });
});

test('RENEW (unicast, ciaddr set): ACK unicast to ciaddr:68 with ciaddr echoed', () => {
  const o = run({ type: T.REQUEST, ciaddr: '10.77.0.11' }, { from: { address: '10.77.0.11', port: 68 } });
  assert.is(type(o.reply), T.ACK);
  assert.is(o.reply!.ciaddr, '10.77.0.11');
  assert.is(o.reply!.yiaddr, '10.77.0.11');
  assert.equal(o.to, { address: '10.77.0.11', port: 68 });
});

test('REBIND (broadcast, ciaddr set) extends a pool lease; a wrong ciaddr gets a NAK', () => {
  const leases = new LeaseTable();
  leases.put({ ip: '10.77.0.105', mac: UNKNOWN_MAC, state: 'bound', expires: NOW + 1000 });
  const o = run({ type: T.REQUEST, mac: UNKNOWN_MAC, ciaddr: '10.77.0.105', flags: FLAG_BROADCAST }, { inv: poolInv, leases });
  assert.is(type(o.reply), T.ACK);
  assert.is(leases.ofMac(UNKNOWN_MAC)!.expires, NOW + 3600_000);
  assert.equal(o.to, { address: '10.77.0.105', port: 68 });
  const wrong = run({ type: T.REQUEST, ciaddr: '10.77.0.99' });
  assert.is(type(wrong.reply), T.NAK);
});

// ---- pool -----------------------------------------------------------------------------------

test('unknown MAC without a pool is ignored and flagged for rate-limited logging', () => {
  const o = run({ type: T.DISCOVER, mac: UNKNOWN_MAC });
  assert.is(o.reply, null);
  assert.ok(o.unknownMac);
  assert.is(o.event.type, 'ignored');
});

test('pool: allocation skips server/router/DNS, REQUEST binds, the same MAC gets the same address', () => {
  const leases = new LeaseTable();
  const inv2 = testInventory({ pool: true });
  // 10.77.0.1 (server/router) and .2 (dns) are outside this pool; check allocation order and stability.
  const o = run({ type: T.DISCOVER, mac: UNKNOWN_MAC }, { inv: inv2, leases });
  assert.is(o.reply!.yiaddr, '10.77.0.100');
  assert.is(getText(o.reply!.options, Opt.HOST_NAME), undefined);
  const ack = run({ type: T.REQUEST, mac: UNKNOWN_MAC, options: [[Opt.SERVER_ID, ip(SERVER_IP)], [Opt.REQUESTED_IP, ip('10.77.0.100')]] }, { inv: inv2, leases });
  assert.is(type(ack.reply), T.ACK);
  assert.is(leases.ofMac(UNKNOWN_MAC)!.state, 'bound');
  const again = run({ type: T.DISCOVER, mac: UNKNOWN_MAC }, { inv: inv2, leases, now: NOW + 5000 });
  assert.is(again.reply!.yiaddr, '10.77.0.100');
  const other = run({ type: T.DISCOVER, mac: '52:54:00:99:00:0a' }, { inv: inv2, leases });
  assert.is(other.reply!.yiaddr, '10.77.0.101');
  // Another client asking for the bound address is NAKed.
  assert.is(type(run({ type: T.REQUEST, mac: '52:54:00:99:00:0a', options: [[Opt.REQUESTED_IP, ip('10.77.0.100')]] }, { inv: inv2, leases }).reply), T.NAK);
});

test('pool: leases expire, offers lapse after the hold time, and the address is reused', () => {
  const leases = new LeaseTable();
  const small = testInventory({ pool: true, poolEnd: '10.77.0.100' });
  run({ type: T.DISCOVER, mac: UNKNOWN_MAC }, { inv: small, leases });
  assert.is(run({ type: T.DISCOVER, mac: '52:54:00:99:00:0a' }, { inv: small, leases }).reply, null);
  const later = run({ type: T.DISCOVER, mac: '52:54:00:99:00:0a' }, { inv: small, leases, now: NOW + OFFER_HOLD_MS + 1 });
  assert.is(later.reply!.yiaddr, '10.77.0.100');
  run({ type: T.REQUEST, mac: '52:54:00:99:00:0a', options: [[Opt.SERVER_ID, ip(SERVER_IP)], [Opt.REQUESTED_IP, ip('10.77.0.100')]] }, { inv: small, leases, now: NOW + OFFER_HOLD_MS + 1 });
  assert.is(run({ type: T.DISCOVER, mac: UNKNOWN_MAC }, { inv: small, leases, now: NOW + 3000_000 }).reply, null);
  const expired = run({ type: T.DISCOVER, mac: UNKNOWN_MAC }, { inv: small, leases, now: NOW + OFFER_HOLD_MS + 3600_000 + 2 });
  assert.is(expired.reply!.yiaddr, '10.77.0.100');
});

test('pool exhaustion: no offer, no crash, a warning naming the pool', () => {
  const leases = new LeaseTable();
  const small = testInventory({ pool: true, poolEnd: '10.77.0.101' });
  for (let i = 0; i < 2; i++) assert.ok(run({ type: T.DISCOVER, mac: `52:54:00:99:01:0${i}` }, { inv: small, leases }).reply);
  const o = run({ type: T.DISCOVER, mac: '52:54:00:99:01:09' }, { inv: small, leases });
  assert.is(o.reply, null);
  assert.is(o.level, 'warn');
  assert.match(o.line, /pool 10\.77\.0\.100-10\.77\.0\.101 of 10\.77\.0\.0\/24 is exhausted/);
});

test('lease persistence: save (atomic, no temp left) and load give the same table', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-leases-'));
  try {
    const leases = new LeaseTable();
    run({ type: T.DISCOVER, mac: UNKNOWN_MAC }, { inv: poolInv, leases });
    run({ type: T.REQUEST, mac: UNKNOWN_MAC, options: [[Opt.REQUESTED_IP, ip('10.77.0.100')]] }, { inv: poolInv, leases });
    leases.put({ ip: '10.77.0.104', mac: '', state: 'declined', expires: NOW + 10 });
    leases.put({ ip: '10.77.0.109', mac: 'aa:bb:cc:dd:ee:ff', state: 'bound', expires: NOW - 10 });
    const file = join(dir, 'leases.json');
    await saveLeases(file, leases, NOW);
    assert.equal(readdirSync(dir), ['leases.json']);
    const data = JSON.parse(readFileSync(file, 'utf8'));
    assert.is(data.leases.length, 2, 'expired lease not saved');
    const back = await loadLeases(file);
    assert.equal(back.toJSON(), leases.toJSON(NOW));
    // The loaded table drives the policy the same way: the client keeps its address.
    const o = run({ type: T.DISCOVER, mac: UNKNOWN_MAC }, { inv: poolInv, leases: back });
    assert.is(o.reply!.yiaddr, '10.77.0.100');
    assert.is(run({ type: T.DISCOVER, mac: '52:54:00:99:00:0a' }, { inv: poolInv, leases: back }).reply!.yiaddr, '10.77.0.101');
    assert.is((await loadLeases(join(dir, 'missing.json'))).size, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('RELEASE frees a pool lease; a reserved address stays reserved', () => {
  const leases = new LeaseTable();
  leases.put({ ip: '10.77.0.100', mac: UNKNOWN_MAC, state: 'bound', expires: NOW + 1000_000 });
  const o = run({ type: T.RELEASE, mac: UNKNOWN_MAC, ciaddr: '10.77.0.100', options: [[Opt.SERVER_ID, ip(SERVER_IP)]] }, { inv: poolInv, leases });
  assert.is(o.reply, null);
  assert.is(o.event.type, 'release');
  assert.is(leases.size, 0);
  assert.is(run({ type: T.RELEASE, ciaddr: '10.77.0.11' }).event.type, 'release');
});

test('DECLINE quarantines a pool address for a while and logs a warning', () => {
  const leases = new LeaseTable();
  assert.is(run({ type: T.DISCOVER, mac: UNKNOWN_MAC }, { inv: poolInv, leases }).reply!.yiaddr, '10.77.0.100');
  const o = run({ type: T.DECLINE, mac: UNKNOWN_MAC, options: [[Opt.SERVER_ID, ip(SERVER_IP)], [Opt.REQUESTED_IP, ip('10.77.0.100')]] }, { inv: poolInv, leases });
  assert.is(o.reply, null);
  assert.is(o.event.type, 'decline');
  assert.is(o.level, 'warn');
  assert.match(o.line, /10\.77\.0\.100.*quarantined/);
  // Nobody, not even the decliner, gets .100 during the quarantine.
  assert.is(run({ type: T.DISCOVER, mac: UNKNOWN_MAC }, { inv: poolInv, leases }).reply!.yiaddr, '10.77.0.101');
  const fresh = new LeaseTable();
  fresh.put(leases.all().find((l) => l.state === 'declined')!);
  assert.is(run({ type: T.DISCOVER, mac: UNKNOWN_MAC }, { inv: poolInv, leases: fresh, now: NOW + DECLINE_QUARANTINE_MS + 1 }).reply!.yiaddr, '10.77.0.100');
});

test('INFORM: ACK with options, no yiaddr, no lease time, unicast to ciaddr', () => {
  const o = run({ type: T.INFORM, ciaddr: '10.77.0.11' });
  const r = o.reply!;
  assert.is(type(r), T.ACK);
  assert.is(r.yiaddr, '0.0.0.0');
  assert.is(r.ciaddr, '10.77.0.11');
  assert.not.ok(r.options.has(Opt.LEASE_TIME));
  assert.not.ok(r.options.has(Opt.RENEWAL_TIME));
  assert.is(getIp(r.options, Opt.SUBNET_MASK), '255.255.255.0');
  assert.equal(o.to, { address: '10.77.0.11', port: 68 });
  assert.is(o.event.type, 'inform');
});

test('DECLINE of an address the client was not given: nothing quarantined (spoofed DECLINEs cannot empty the pool)', () => {
  const leases = new LeaseTable();
  for (let i = 0; i < 11; i++) {
    const o = run({ type: T.DECLINE, mac: `52:54:00:99:02:${i.toString(16).padStart(2, '0')}`, options: [[Opt.REQUESTED_IP, ip(`10.77.0.${100 + i}`)]] }, { inv: poolInv, leases });
    assert.is(o.event.type, 'ignored');
  }
  assert.is(leases.size, 0);
  assert.is(run({ type: T.DISCOVER, mac: UNKNOWN_MAC }, { inv: poolInv, leases }).reply!.yiaddr, '10.77.0.100');
});

test('DECLINE of a reserved address by its node: a conflict event, a warning, the reservation stays', () => {
  const o = run({ type: T.DECLINE, options: [[Opt.SERVER_ID, ip(SERVER_IP)], [Opt.REQUESTED_IP, ip('10.77.0.11')]] });
  assert.is(o.reply, null);
  assert.equal(o.event, { kind: 'dhcp', mac: NODE1_MAC, node: 'node1', type: 'conflict', ip: '10.77.0.11', detail: o.event.detail });
  assert.is(o.level, 'warn');
  assert.match(o.line, /node1 .*CONFLICT 10\.77\.0\.11: reserved address is in use by another host/);
  assert.is(run({ type: T.DISCOVER }).reply!.yiaddr, '10.77.0.11');
});

test('INIT-REBOOT from a client with no record (no lease, no reservation): silent, nothing bound (RFC 2131 4.3.2)', () => {
  const leases = new LeaseTable();
  const o = run({ type: T.REQUEST, mac: UNKNOWN_MAC, options: [[Opt.REQUESTED_IP, ip('10.77.0.105')]] }, { inv: poolInv, leases });
  assert.is(o.reply, null);
  assert.is(o.event.type, 'ignored');
  assert.is(leases.size, 0);
  // With a record (an expired lease) the server answers: ACK if the address is still free.
  leases.put({ ip: '10.77.0.105', mac: UNKNOWN_MAC, state: 'bound', expires: NOW - 1 });
  assert.is(type(run({ type: T.REQUEST, mac: UNKNOWN_MAC, options: [[Opt.REQUESTED_IP, ip('10.77.0.105')]] }, { inv: poolInv, leases }).reply), T.ACK);
});

test('new pool addresses spend the request budget: none left -> no offer and no bind, but a client with a lease is served', () => {
  const leases = new LeaseTable();
  let budget = 1;
  const newAddress = () => budget-- > 0;
  const go = (spec: ReqSpec) => decide({ msg: request(spec), from: { address: '0.0.0.0', port: 68 }, localPort: 67, newAddress }, poolInv, leases, NOW, cfg);
  assert.is(go({ type: T.DISCOVER, mac: UNKNOWN_MAC }).reply!.yiaddr, '10.77.0.100');
  assert.is(go({ type: T.DISCOVER, mac: '52:54:00:99:00:0a' }).reply, null, 'budget spent');
  assert.is(leases.size, 1);
  // SELECTING straight to a free address (no DISCOVER) would bind: budget spent, so silent.
  assert.is(go({ type: T.REQUEST, mac: '52:54:00:99:00:0b', options: [[Opt.SERVER_ID, ip(SERVER_IP)], [Opt.REQUESTED_IP, ip('10.77.0.107')]] }).reply, null);
  // The client holding an offer completes, and reserved nodes never spend the budget.
  assert.is(type(go({ type: T.REQUEST, mac: UNKNOWN_MAC, options: [[Opt.SERVER_ID, ip(SERVER_IP)], [Opt.REQUESTED_IP, ip('10.77.0.100')]] }).reply), T.ACK);
  assert.is(go({ type: T.DISCOVER }).reply!.yiaddr, '10.77.0.11');
  assert.is(leases.size, 1);
});

// ---- relays and addressing ---------------------------------------------------------------

test('relay: subnet chosen by giaddr, reply to giaddr:67, option 82 echoed unchanged and last', () => {
  const agent = Buffer.from([1, 4, 0, 0, 0, 7, 2, 3, 0xaa, 0, 0xbb]);
  const o = run({ type: T.DISCOVER, mac: NODE2_MAC, giaddr: '10.88.0.1', options: [[Opt.RELAY_AGENT_INFO, agent]] });
  const r = o.reply!;
  assert.is(r.yiaddr, '10.88.0.12');
  assert.is(r.giaddr, '10.88.0.1');
  assert.equal(getIps(r.options, Opt.ROUTER), ['10.88.0.1']);
  assert.ok(r.options.get(Opt.RELAY_AGENT_INFO)!.equals(agent));
  assert.is([...r.options.keys()].at(-1), Opt.RELAY_AGENT_INFO);
  assert.equal(o.to, { address: '10.88.0.1', port: 67 });
  // A pool client behind the relay gets an address from the relay's subnet.
  assert.is(run({ type: T.DISCOVER, mac: UNKNOWN_MAC, giaddr: '10.88.0.1' }).reply!.yiaddr, '10.88.0.100');
  // NAKs through a relay go to the relay too.
  assert.equal(run({ type: T.REQUEST, mac: NODE2_MAC, giaddr: '10.88.0.1', options: [[Opt.REQUESTED_IP, ip('10.88.0.99')]] }).to, { address: '10.88.0.1', port: 67 });
});

test('relay: giaddr from a host not in the subnet\'s relays: is ignored, flagged for a rate-limited warning', () => {
  const o = run({ type: T.DISCOVER, mac: NODE2_MAC, giaddr: '10.88.0.1' }, { from: { address: '10.77.0.66', port: 67 } });
  assert.is(o.reply, null);
  assert.is(o.unlistedRelay, '10.77.0.66');
  assert.match(o.line, /relayed \(giaddr 10\.88\.0\.1\) by 10\.77\.0\.66, which is not in the relays: of 10\.88\.0\.0\/24/);
  // A giaddr on our own subnet with no relays listed there: ignored too.
  assert.is(run({ type: T.DISCOVER, giaddr: '10.77.0.5' }).unlistedRelay, '10.77.0.5');
});

test('relay: a node reserved on another subnet, or a giaddr in no subnet, is ignored', () => {
  assert.is(run({ type: T.DISCOVER, mac: NODE1_MAC, giaddr: '10.88.0.1' }).reply, null);
  assert.is(run({ type: T.DISCOVER, mac: NODE1_MAC, giaddr: '172.16.0.1' }).reply, null);
});

test('addressing: broadcast flag -> 255.255.255.255:68; no flag and no ciaddr -> broadcast too (no ARP injection)', () => {
  const o = run({ type: T.DISCOVER, flags: FLAG_BROADCAST });
  assert.equal(o.to, { address: '255.255.255.255', port: 68 });
  assert.is(o.reply!.flags, FLAG_BROADCAST);
  assert.equal(run({ type: T.DISCOVER }).to, { address: '255.255.255.255', port: 68 });
});

// ---- PXE ---------------------------------------------------------------------------------------

for (const [arch, file] of [[0, 'undionly.kpxe'], [7, 'ipxe.efi'], [9, 'ipxe.efi']] as const) {
  test(`PXE arch ${arch} -> ${file} over TFTP: siaddr, file, 66, 67, 43 sub 6 = 8, 60 PXEClient`, () => {
    const o = run({ type: T.DISCOVER, options: pxeArch(arch) });
    const r = o.reply!;
    assert.is(r.siaddr, SERVER_IP);
    assert.is(r.file, file);
    assert.is(getText(r.options, Opt.BOOTFILE_NAME), file);
    assert.is(getText(r.options, Opt.TFTP_SERVER_NAME), SERVER_IP);
    assert.is(getText(r.options, Opt.VENDOR_CLASS_ID), 'PXEClient');
    const sub = decodeSubOptions(r.options.get(Opt.VENDOR_SPECIFIC)!)!;
    assert.equal([...sub.get(PxeSub.DISCOVERY_CONTROL)!], [PXE_DISCOVERY_USE_BOOTFILE]);
    assert.is(o.event.arch, arch);
    assert.is(o.event.bootfile, file);
  });
}

test('PXE: option 97 (UUID) is echoed; an ARM client gets an address but no boot file, and the log says why', () => {
  const r = run({ type: T.DISCOVER, options: PXE_BIOS }).reply!;
  assert.ok(r.options.get(Opt.CLIENT_UUID)!.equals(PXE_BIOS[3]![1]));
  const arm = run({ type: T.DISCOVER, options: pxeArch(11) });
  assert.is(arm.reply!.yiaddr, '10.77.0.11');
  assert.is(arm.reply!.file, '');
  assert.not.ok(arm.reply!.options.has(Opt.BOOTFILE_NAME));
  assert.match(arm.line, /no boot file for arm64 UEFI/);
});

test('iPXE (option 77 iPXE or option 175) gets its per-node script URL and option 175 with 176 = 1', () => {
  const url = `http://${SERVER_IP}:${HTTP_PORT}/boot/52-54-00-77-00-01.ipxe`;
  for (const opts of [IPXE, [...PXE_BIOS, [Opt.USER_CLASS, text('iPXE')]], [...PXE_BIOS, [Opt.IPXE_ENCAP, Buffer.from([19, 1, 1])]]] as Array<Array<[number, Buffer]>>) {
    const o = run({ type: T.DISCOVER, options: opts });
    const r = o.reply!;
    assert.is(r.file, url);
    assert.is(getText(r.options, Opt.BOOTFILE_NAME), url);
    const sub = decodeSubOptions(r.options.get(Opt.IPXE_ENCAP)!)!;
    assert.equal([...sub.get(IpxeSub.NO_PXEDHCP)!], [1]);
    assert.ok(o.event.ipxe);
  }
  // RFC 3004 form of the user class (length-prefixed) counts too.
  assert.is(run({ type: T.DISCOVER, options: [[Opt.USER_CLASS, Buffer.from([4, ...Buffer.from('iPXE')])]] }).reply!.file, url);
});

test('UEFI HTTP boot client (60 HTTPClient, arch 16) gets the ipxe.efi URL and 60 HTTPClient', () => {
  const o = run({ type: T.DISCOVER, options: [[Opt.VENDOR_CLASS_ID, text('HTTPClient:Arch:00016:UNDI:003001')], [Opt.CLIENT_ARCH, u16(16)]] });
  const r = o.reply!;
  assert.is(r.file, `http://${SERVER_IP}:${HTTP_PORT}/ipxe/ipxe.efi`);
  assert.is(getText(r.options, Opt.VENDOR_CLASS_ID), 'HTTPClient');
  assert.not.ok(r.options.has(Opt.VENDOR_SPECIFIC));
});

test('a plain DHCP client (udhcpc-like) gets the BIOS boot file in the file field', () => {
  const r = run({ type: T.DISCOVER, options: [[Opt.VENDOR_CLASS_ID, text('udhcp 1.35.0')]] }).reply!;
  assert.is(r.file, 'undionly.kpxe');
  assert.not.ok(r.options.has(Opt.VENDOR_SPECIFIC));
});

test('proxyDHCP: OFFER on 67 with no yiaddr and no lease options; REQUEST on 4011 -> ACK unicast to the source', () => {
  const pcfg = { ...cfg, proxyDhcp: true };
  const o = run({ type: T.DISCOVER, options: PXE_BIOS }, { cfg: pcfg });
  const r = o.reply!;
  assert.is(type(r), T.OFFER);
  assert.is(r.yiaddr, '0.0.0.0');
  for (const code of [Opt.LEASE_TIME, Opt.SUBNET_MASK, Opt.ROUTER, Opt.RENEWAL_TIME]) assert.not.ok(r.options.has(code), `no option ${code}`);
  assert.is(getText(r.options, Opt.VENDOR_CLASS_ID), 'PXEClient');
  assert.is(r.file, 'undionly.kpxe');
  assert.is(r.siaddr, SERVER_IP);
  assert.equal(o.to, { address: '255.255.255.255', port: 68 });
  const from = { address: '10.77.0.11', port: 68 };
  const ack = run({ type: T.REQUEST, ciaddr: '10.77.0.11', options: PXE_BIOS }, { cfg: pcfg, localPort: 4011, from });
  assert.is(type(ack.reply), T.ACK);
  assert.is(ack.reply!.yiaddr, '0.0.0.0');
  assert.is(ack.reply!.file, 'undionly.kpxe');
  assert.equal(ack.to, from);
  // Not PXE, or a REQUEST on 67 meant for the real DHCP server: silent.
  assert.is(run({ type: T.DISCOVER }, { cfg: pcfg }).reply, null);
  assert.is(run({ type: T.REQUEST, options: [...PXE_BIOS, [Opt.SERVER_ID, ip('10.77.0.254')], [Opt.REQUESTED_IP, ip('10.77.0.50')]] }, { cfg: pcfg }).reply, null);
});

test('messages a server never answers: BOOTREPLY, no option 53, OFFER sent to us', () => {
  const m = request({ type: T.DISCOVER });
  m.op = 2;
  assert.is(decide({ msg: m, from: { address: '0.0.0.0', port: 68 }, localPort: 67 }, inv, new LeaseTable(), NOW, cfg).reply, null);
  const bootp = request({ type: T.DISCOVER });
  bootp.options.delete(Opt.MESSAGE_TYPE);
  assert.is(decide({ msg: bootp, from: { address: '0.0.0.0', port: 68 }, localPort: 67 }, inv, new LeaseTable(), NOW, cfg).reply, null);
  assert.is(run({ type: T.OFFER }).reply, null);
});

test('replicas: a reserved node\'s first DISCOVER is answered only by its first responder; its retries by every replica', () => {
  const notMine: PolicyConfig = { ...cfg, answersFirst: () => false };
  const first = run({ type: T.DISCOVER }, { cfg: notMine });
  assert.is(first.reply, null, 'not the first responder: quiet on the first try');
  assert.match(first.line, /another replica answers this node first/);
  assert.is(first.level, 'debug', 'a storm does not flood the log');
  const msg = request({ type: T.DISCOVER });
  assert.is(type(decide({ msg, from: { address: '0.0.0.0', port: 68 }, localPort: 67, retransmit: true }, inv, new LeaseTable(), NOW, notMine).reply), T.OFFER, 'a retry (same xid) is answered');
  msg.secs = SECONDARY_AFTER_SECS;
  assert.is(type(decide({ msg, from: { address: '0.0.0.0', port: 68 }, localPort: 67 }, inv, new LeaseTable(), NOW, notMine).reply), T.OFFER, 'a client that has waited is answered');
  assert.is(type(run({ type: T.DISCOVER }, { cfg: { ...cfg, answersFirst: () => true } }).reply), T.OFFER, 'the first responder answers at once');
  // Only DISCOVERs from reserved nodes are split: a pool client and a REQUEST are not.
  assert.is(type(run({ type: T.DISCOVER, mac: UNKNOWN_MAC }, { inv: poolInv, cfg: notMine }).reply), T.OFFER, 'pool clients: each replica offers from its share');
  assert.is(type(run({ type: T.REQUEST, options: [[Opt.REQUESTED_IP, ip('10.77.0.11')]] }, { cfg: notMine }).reply), T.ACK, 'INIT-REBOOT is answered by all');
});

test('replicas: one without the node\'s image stays quiet so that one holding it answers; pool clients are not affected', () => {
  const lacking: PolicyConfig = { ...cfg, canBoot: () => false };
  const o = run({ type: T.DISCOVER }, { cfg: lacking });
  assert.is(o.reply, null);
  assert.ok(o.leftToPeer);
  assert.match(o.line, /image .* is not on this replica yet/);
  assert.is(type(run({ type: T.DISCOVER }, { cfg: { ...cfg, canBoot: () => true } }).reply), T.OFFER);
  assert.is(type(run({ type: T.DISCOVER, mac: UNKNOWN_MAC }, { inv: poolInv, cfg: lacking }).reply), T.OFFER);
});

test('option 61 with zero octets does not disturb the reply', () => {
  const o = run({ type: T.DISCOVER, options: [[Opt.CLIENT_ID, Buffer.from([0, 0, 0, 0])]] });
  assert.is(o.reply!.yiaddr, '10.77.0.11');
  void u8;
});

// ---- firmware and TFTP (boot.ts decides; the policy answers or stays silent) --------

test('--no-tftp: a BIOS PXE client gets no reply (a replica with TFTP answers); a plain client and iPXE still do', () => {
  const noTftp = { ...cfg, tftp: false };
  const o = run({ type: T.DISCOVER, options: PXE_BIOS }, { cfg: noTftp });
  assert.is(o.reply, null);
  assert.ok(o.leftToPeer);
  assert.match(o.line, /undionly\.kpxe is fetched over TFTP, which this replica does not serve/);
  const r = run({ type: T.REQUEST, options: [...PXE_BIOS, [Opt.SERVER_ID, ip(SERVER_IP)], [Opt.REQUESTED_IP, ip('10.77.0.11')]] }, { cfg: noTftp });
  assert.is(r.reply, null);
  const plain = run({ type: T.DISCOVER }, { cfg: noTftp }).reply!;
  assert.is(type(plain), T.OFFER);
  assert.is(plain.file, '');
  assert.is(plain.siaddr, '0.0.0.0');
  const i = run({ type: T.DISCOVER, options: IPXE }, { cfg: noTftp }).reply!;
  assert.match(getText(i.options, Opt.BOOTFILE_NAME) ?? i.file, /\/boot\/52-54-00-77-00-01\.ipxe$/);
  assert.is(run({ type: T.DISCOVER, options: PXE_BIOS }).reply!.file, 'undionly.kpxe', 'with TFTP: offered');
});

test('firmware from the inventory picks the loader; uefi-http leaves the PXE attempt unanswered', () => {
  const withFw = (fw: string) => testInventory().text.replace('ip: 10.77.0.11 }', `ip: 10.77.0.11, firmware: ${fw} }`);
  const load = (fw: string) => parseInventory(withFw(fw), 'cluster.yaml');
  assert.is(run({ type: T.DISCOVER, options: pxeArch(7) }, { inv: load('uefi-secure') }).reply!.file, 'shimx64.efi');
  assert.is(run({ type: T.DISCOVER, options: pxeArch(7) }, { inv: load('uefi') }).reply!.file, 'ipxe.efi');
  const h = run({ type: T.DISCOVER, options: pxeArch(7) }, { inv: load('uefi-http') });
  assert.is(h.reply, null);
  assert.match(h.line, /uefi-http/);
});

test.run();
