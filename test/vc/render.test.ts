// Golden tests for the libvirt XML of vc/templates/: each case renders to the bytes of its
// fixture (test/vc/fixtures/, README there), and libvirt itself accepts every fixture
// (virsh -c test:///default: libvirt's own parser, no daemon). DISKLESS_REGEN_FIXTURES=1
// writes the fixtures again from the cases.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetDef, VirtType, VmDef } from '../../vc/drivers/driver.js';
import { domainView, gatewayOf, networkView, renderDomainXml, renderNetworkXml, uuidFor, xmlEscape } from '../../vc/drivers/libvirt-xml.js';
import { needTool } from '../helpers/need.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
/** The XML after the template's opening comment (which names every variable). */
const body = (xml: string) => xml.slice(xml.indexOf('-->') + 3);

const base: VmDef = {
  domainName: 'vc1-0',
  vcpus: 1,
  memoryBytes: 512 * 1024 * 1024,
  kernel: '/var/lib/diskless/images/debian-bookworm-amd64/20261201-120000/vmlinuz',
  initrd: '/var/lib/diskless/images/debian-bookworm-amd64/20261201-120000/initrd.img',
  cmdline: 'console=ttyS0 diskless.name=vc1-0 diskless.rootdev=serial:root diskless.scratch=serial:scratch diskless.ip=10.40.0.2/24',
  rootImage: '/var/lib/diskless/images/debian-bookworm-amd64/20261201-120000/root.squashfs',
  scratch: { kind: 'disk', path: '/var/lib/diskless/vc/vc1/vc1-0.qcow2' },
  mac: '52:54:00:28:00:02',
  network: 'diskless-vc1',
  consoleLog: '/var/log/diskless/vc/vc1-0.log',
};

const DOMAINS: { file: string; vm: VmDef; virt: VirtType }[] = [
  { file: 'domain-disk-qemu.xml', vm: base, virt: 'qemu' },
  { file: 'domain-ram-qemu.xml', vm: { ...base, scratch: { kind: 'ram' } }, virt: 'qemu' },
  { file: 'domain-pinned-kvm.xml', vm: { ...base, domainName: 'vc1-1', vcpus: 2, pinnedCores: [2, 3], mac: '52:54:00:28:00:03' }, virt: 'kvm' },
  {
    file: 'domain-escaped-qemu.xml',
    vm: { ...base, domainName: 'vc-x', cmdline: `console=ttyS0 note="a<b>&'c'"`, consoleLog: "/var/log/it's & <here>.log" },
    virt: 'qemu',
  },
];

const NETWORKS: { file: string; net: NetDef }[] = [
  { file: 'network-isolated.xml', net: { name: 'diskless-vc1', bridge: 'dlvc1', cidr: '10.40.0.0/24' } },
  { file: 'network-nat.xml', net: { name: 'diskless-vc2', bridge: 'dlvc2', cidr: '10.41.0.0/24', gateway: true, mtu: 1450 } },
];

const cases = [
  ...DOMAINS.map((d) => ({ file: d.file, xml: renderDomainXml(d.vm, d.virt), define: 'define' })),
  ...NETWORKS.map((n) => ({ file: n.file, xml: renderNetworkXml(n.net), define: 'net-define' })),
];

if (process.env.DISKLESS_REGEN_FIXTURES) for (const c of cases) writeFileSync(join(FIXTURES, c.file), c.xml);

for (const c of cases) {
  test(`golden: ${c.file}`, () => {
    const file = join(FIXTURES, c.file);
    if (!existsSync(file)) throw new Error(`fixture ${file} is missing: it is committed with the test (DISKLESS_REGEN_FIXTURES=1 makes it again)`);
    assert.fixture(c.xml, readFileSync(file, 'utf8'));
  });
}

test('libvirt accepts every fixture (test:///default driver, no daemon)', () => {
  needTool('virsh', 'libvirt-clients');
  for (const c of cases) {
    const out = execFileSync('virsh', ['-c', 'test:///default', c.define, join(FIXTURES, c.file)], { encoding: 'utf8' });
    assert.match(out, /defined from/, c.file);
  }
});

test('the root disk is read-only and shareable, with the serial the initrd looks for', () => {
  const xml = body(renderDomainXml(base, 'qemu'));
  const root = xml.slice(xml.indexOf('<disk'), xml.indexOf('</disk>'));
  for (const s of ['<readonly/>', '<shareable/>', '<serial>root</serial>', "<driver name='qemu' type='raw'/>", `<source file='${base.rootImage}'>`]) assert.match(root, s);
  assert.not.match(xml, '<graphics', 'no graphics element at all');
});

test('scratch: a qcow2 vdb with a disk, none with ram', () => {
  assert.match(renderDomainXml(base, 'qemu'), /<driver name='qemu' type='qcow2'\/>\s*<source file='\/var\/lib\/diskless\/vc\/vc1\/vc1-0.qcow2'\/>\s*<target dev='vdb'/);
  const ram = body(renderDomainXml({ ...base, scratch: { kind: 'ram' } }, 'qemu'));
  assert.is(ram.match(/<disk /g)?.length, 1);
  assert.not.match(ram, 'vdb');
});

test('pinning: one vcpupin per vCPU, none when vCPUs float; kvm gets the host CPU', () => {
  const pinned = renderDomainXml({ ...base, vcpus: 2, pinnedCores: [2, 3] }, 'kvm');
  assert.match(pinned, /<cputune>\s*<vcpupin vcpu='0' cpuset='2'\/>\s*<vcpupin vcpu='1' cpuset='3'\/>\s*<\/cputune>/);
  assert.match(pinned, "<domain type='kvm'>");
  assert.match(pinned, "<cpu mode='host-passthrough'/>");
  const free = body(renderDomainXml(base, 'qemu'));
  assert.not.match(free, 'cputune');
  assert.not.match(free, '<cpu ');
  assert.match(free, "<domain type='qemu'>");
});

test('values are XML-escaped', () => {
  assert.is(xmlEscape(`a<b>&'c'"d"`), 'a&lt;b&gt;&amp;&apos;c&apos;&quot;d&quot;');
  const xml = renderDomainXml(DOMAINS[3]!.vm, 'qemu');
  assert.match(xml, '<cmdline>console=ttyS0 note=&quot;a&lt;b&gt;&amp;&apos;c&apos;&quot;</cmdline>');
  assert.match(xml, "<source path='/var/log/it&apos;s &amp; &lt;here&gt;.log' append='on'/>");
});

test('networks: isolated has no forward and no host address; NAT has both, the host on the first address', () => {
  const iso = body(renderNetworkXml(NETWORKS[0]!.net));
  assert.not.match(iso, '<forward');
  assert.not.match(iso, '<ip');
  assert.not.match(iso, '<dhcp');
  const nat = body(renderNetworkXml(NETWORKS[1]!.net));
  assert.match(nat, "<forward mode='nat'/>");
  assert.match(nat, "<ip address='10.41.0.1' prefix='24'/>");
  assert.match(nat, "<mtu size='1450'/>");
  assert.not.match(nat, '<dhcp');
});

test('gatewayOf: the first address of the network, refusals', () => {
  assert.equal(gatewayOf('10.40.3.7/24'), { address: '10.40.3.1', prefix: 24 });
  assert.equal(gatewayOf('172.16.0.0/12'), { address: '172.16.0.1', prefix: 12 });
  assert.throws(() => gatewayOf('10.0.0.0/31'), /at most 30/);
  assert.throws(() => gatewayOf('10.0.0.300/24'), /not an IPv4 network/);
  assert.throws(() => gatewayOf('fd00::/64'), /not an IPv4 network/);
});

test('bad input is refused with its reason', () => {
  assert.throws(() => domainView({ ...base, mac: '52:54:00:28:00' }, 'qemu'), /is not a MAC address/);
  assert.throws(() => domainView({ ...base, vcpus: 2, pinnedCores: [1] }, 'qemu'), /1 pinned cores for 2 vCPUs/);
  assert.throws(() => domainView({ ...base, vcpus: 0 }, 'qemu'), /vcpus must be a positive integer/);
  assert.throws(() => domainView({ ...base, domainName: 'a b' }, 'qemu'), /domain name/);
  assert.throws(() => networkView({ name: 'n', bridge: 'a-bridge-name-too-long' }), /1 to 15/);
  assert.throws(() => networkView({ name: 'n', bridge: 'br0', gateway: true }), /needs the network's CIDR/);
});

test('UUIDs come from the name: stable, version 5, different per kind and name', () => {
  const u = uuidFor('domain', 'vc1-0');
  assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.is(uuidFor('domain', 'vc1-0'), u);
  assert.is.not(uuidFor('domain', 'vc1-1'), u);
  assert.is.not(uuidFor('network', 'vc1-0'), u);
});

test.run();
