// The VC spec from flags and from vc.yaml: defaults, each bad value's message (with
// file:line for YAML), a CIDR too small for N, and the derived names and addresses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../lib/yamlfile.js';
import { chooseNetwork, cidrTooSmall, imageRef, loadSpecFile, MAX_NAME_LENGTH, parseSpecText, pickSpecFlags, specFromFlags, type VcFlags } from '../../vc/spec.js';
import { IFNAME_MAX, vcNetwork, vmAddress, vmIdentities } from '../../vc/identity.js';
import { formatSize, GiB, MiB, parseSize } from '../../vc/size.js';

function flagProblems(flags: VcFlags): string[] {
  try {
    specFromFlags(flags);
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('the flags were accepted');
}

function yamlProblems(text: string): string[] {
  try {
    parseSpecText(text, 'vc.yaml');
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('the YAML was accepted');
}

const base = { name: 'lab', image: 'debian', nodes: 3 };

test('--append: extra kernel arguments, one printable line of bounded length', () => {
  assert.is(specFromFlags({ ...base, append: ' diskless.selftest=1 ' }).append, 'diskless.selftest=1');
  assert.equal(flagProblems({ ...base, append: 'a\nb' }), ['--append: kernel arguments must be one line of printable characters']);
  assert.match(flagProblems({ ...base, append: 'x'.repeat(2000) })[0]!, /--append: 2000 characters is too long/);
});

test('flags: defaults are applied and numbers given as strings are read', () => {
  assert.equal(specFromFlags({ ...base, nodes: '3' }), {
    name: 'lab',
    image: { name: 'debian' },
    nodes: 3,
    vcpus: 1,
    memoryBytes: 512 * MiB,
    network: '10.213.0.0/24',
    placement: 'block',
    cores: 'free',
    scratch: { kind: 'disk', sizeBytes: 1 * GiB },
    gateway: false,
    append: '',
  });
  const s = specFromFlags({ ...base, image: 'debian/20260101-1200', vcpus: '2', memory: '1.5G', network: '10.9.0.0/28', placement: 'cyclic', cores: 'strict', scratch: 'ram', gateway: true });
  assert.equal(s.image, { name: 'debian', version: '20260101-1200' });
  assert.is(imageRef(s.image), 'debian/20260101-1200');
  assert.equal([s.vcpus, s.memoryBytes, s.network, s.placement, s.cores, s.scratch, s.gateway], [2, 1536 * MiB, '10.9.0.0/28', 'cyclic', 'strict', { kind: 'ram' }, true]);
  assert.equal(specFromFlags({ ...base, scratch: 'disk:256M' }).scratch, { kind: 'disk', sizeBytes: 256 * MiB });
  // A yargs argv carries more than the spec: only the spec's flags are taken.
  const argv = { _: ['vc', 'create'], $0: 'diskless', ...base, images: '/srv/images', start: true, memory: undefined };
  assert.equal(pickSpecFlags(argv), base);
  assert.is(specFromFlags(pickSpecFlags(argv)).memoryBytes, 512 * MiB);
});

test('flags: every bad value is named by its flag, with what to write instead', () => {
  const p = flagProblems({ name: 'Lab_1', image: 'a/b/c', nodes: 0, vcpus: 'two', memory: '512', network: '10.0.0.0', placement: 'spread', cores: 'pinned', scratch: 'disk:1x', gateway: 'yes' });
  assert.equal(p, [
    `NAME: 'Lab_1' is not a VC name: use 1-12 characters, lower-case letters, digits and dashes, starting with a letter and not ending with a dash (it names the bridge vc-NAME, and Linux allows 15 characters)`,
    `--image: 'a/b/c' is not an image reference: write IMAGE or IMAGE/VERSION, e.g. debian or debian/20260101-1200`,
    `--nodes: '0' is not a whole number from 1 to 4096 (e.g. 3)`,
    `--vcpus: 'two' is not a whole number from 1 to 256 (e.g. 2)`,
    `--memory: '512' is not a size like 512M or 2G (units K, M, G, T are powers of 1024)`,
    `--network: '10.0.0.0' is not a network like 10.213.0.0/24`,
    `--placement: 'spread' is not one of: block, cyclic`,
    `--cores: 'pinned' is not one of: strict, free`,
    `--scratch: disk:SIZE: '1x' is not a size like 512M or 2G (units K, M, G, T are powers of 1024)`,
    `--gateway: 'yes' is not true or false`,
  ]);
  assert.equal(flagProblems({ image: 'debian' }), ['NAME: is required', '--nodes: is required']);
  assert.equal(flagProblems({ ...base, memory: '32M' }), ['--memory: 32M is too small: at least 64 MiB']);
  assert.equal(flagProblems({ ...base, memory: '100.5M' }), ['--memory: 100.5M is not a whole number of MiB (libvirt would round it); write e.g. 101M']);
  assert.equal(flagProblems({ ...base, scratch: 'tmpfs' }), [`--scratch: 'tmpfs' is not disk:SIZE (a scratch disk, e.g. disk:1G) or ram (the upper layer in tmpfs)`]);
  assert.equal(flagProblems({ ...base, network: '10.1.2.3/24' }), ['--network: 10.1.2.3/24 has host bits set: write the network address, 10.1.2.0/24']);
  assert.equal(flagProblems({ ...base, colour: 'red' } as VcFlags), ['--colour: unknown option']);
});

test('VC names: short and safe for libvirt and interface names', () => {
  for (const ok of ['a', 'lab', 'lab-2', 'x'.repeat(MAX_NAME_LENGTH), 'a1-b2']) assert.is(specFromFlags({ ...base, name: ok }).name, ok);
  for (const bad of ['', 'x'.repeat(MAX_NAME_LENGTH + 1), 'Lab', '1lab', 'lab-', 'la b', 'lab.1', 'lab/1', '-lab']) {
    assert.match(flagProblems({ ...base, name: bad })[0]!, /^NAME: .* is not a VC name: use 1-12 characters/, bad);
  }
  assert.is(MAX_NAME_LENGTH + 'vc-'.length, IFNAME_MAX);
});

test('a CIDR too small for N says how many addresses it has and how many are needed', () => {
  assert.equal(flagProblems({ ...base, nodes: 6, network: '10.1.0.0/29' }), [
    '--network: 10.1.0.0/29 has 8 addresses; 6 VMs need 9 (theirs, plus the network, gateway and broadcast addresses): use a /28 or larger',
  ]);
  assert.is(cidrTooSmall('10.1.0.0/29', 5), undefined);
  assert.is(cidrTooSmall('10.1.0.0/32', 1), '10.1.0.0/32 has 1 addresses; 1 VMs need 4 (theirs, plus the network, gateway and broadcast addresses): use a /30 or larger');
  assert.is(cidrTooSmall('10.1.0.0/30', 1), undefined);
  assert.is(cidrTooSmall('10.0.0.0/24', 253), undefined);
  assert.match(cidrTooSmall('10.0.0.0/24', 254)!, '256 addresses; 254 VMs need 257');
});

test('vc.yaml: the same fields; problems name file:line and key', () => {
  const good = ['name: lab', 'image: debian/v1', 'nodes: 4', 'vcpus: 2', 'memory: 1G', 'network: 10.7.0.0/24', 'placement: cyclic', 'cores: strict', 'scratch: disk:2G', 'gateway: true', ''].join('\n');
  assert.equal(parseSpecText(good, 'vc.yaml'), {
    name: 'lab',
    image: { name: 'debian', version: 'v1' },
    nodes: 4,
    vcpus: 2,
    memoryBytes: 1 * GiB,
    network: '10.7.0.0/24',
    placement: 'cyclic',
    cores: 'strict',
    scratch: { kind: 'disk', sizeBytes: 2 * GiB },
    gateway: true,
    append: '',
  });
  assert.equal(yamlProblems(good.replace('memory: 1G', 'memory: lots').replace('cores: strict', 'cores: strict\nnodez: 3')), [
    "vc.yaml:5: memory: 'lots' is not a size like 512M or 2G (units K, M, G, T are powers of 1024)",
    'vc.yaml:9: nodez: unknown key (check its spelling)',
  ]);
  assert.equal(yamlProblems(good.replace('nodes: 4', 'nodes: 20').replace('10.7.0.0/24', '10.7.0.0/28')), [
    'vc.yaml:6: network: 10.7.0.0/28 has 16 addresses; 20 VMs need 23 (theirs, plus the network, gateway and broadcast addresses): use a /27 or larger',
  ]);
  assert.equal(yamlProblems('image: debian\nnodes: 2\n'), ['vc.yaml:1: name: is required']);
  assert.match(yamlProblems('name: [lab\n')[0]!, /^vc\.yaml:\d+: /);
});

test('vc.yaml from a file: its path in the messages, a missing file said so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-vcspec-'));
  try {
    const file = join(dir, 'vc.yaml');
    writeFileSync(file, 'name: lab\nimage: debian\nnodes: 2\nscratch: disk\n');
    await loadSpecFile(file).then(
      () => assert.unreachable('scratch: disk is refused'),
      (err: ConfigError) => assert.equal(err.problems, [`${file}:4: scratch: 'disk' is not disk:SIZE (a scratch disk, e.g. disk:1G) or ram (the upper layer in tmpfs)`]),
    );
    writeFileSync(file, 'name: lab\nimage: debian\nnodes: 2\n');
    assert.is((await loadSpecFile(file, { usedNetworks: ['10.213.0.0/24'] })).network, '10.213.1.0/24');
    await loadSpecFile(join(dir, 'none.yaml')).then(
      () => assert.unreachable('a missing file fails'),
      (err: Error) => assert.match(err.message, /cannot read .*none\.yaml: ENOENT/),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('default network: the first free block of 10.213.0.0/16 (larger for a big VC); a full pool says to give --network', () => {
  assert.throws(() => chooseNetwork(3, ['10.0.0.0/8']), /no free \/24 left in 10\.213\.0\.0\/16 for 3 VMs: give one with --network CIDR/);
  assert.is(chooseNetwork(3, []), '10.213.0.0/24');
  assert.is(chooseNetwork(3, ['10.213.0.0/24', '10.213.2.0/24']), '10.213.1.0/24');
  assert.is(chooseNetwork(3, ['10.213.0.0/23']), '10.213.2.0/24');
  assert.is(chooseNetwork(300, ['10.213.0.0/24']), '10.213.2.0/23');
});

test('sizes: units are powers of 1024; no unit is refused', () => {
  assert.is(parseSize('512M'), 512 * MiB);
  assert.is(parseSize('2g'), 2 * GiB);
  assert.is(parseSize('1.5GiB'), 1.5 * GiB);
  assert.is(parseSize('64 MB'), 64 * MiB);
  for (const bad of ['512', 'M', '-1G', '1.G', '2 X', '0M']) assert.is(parseSize(bad), undefined, bad);
  assert.is(formatSize(1536 * MiB), '1.5 GiB');
  assert.is(formatSize(512 * MiB), '512 MiB');
});

test('derivation: hostnames <vc>-<i> from 1, addresses from the second usable one, the first kept for the gateway', () => {
  const s = specFromFlags({ ...base, nodes: 5, network: '10.5.0.0/29', gateway: true });
  const ids = vmIdentities(s);
  assert.equal(
    ids.map((v) => [v.index, v.hostname, v.domain, v.ip]),
    [
      [1, 'lab-1', 'lab-1', '10.5.0.2'],
      [2, 'lab-2', 'lab-2', '10.5.0.3'],
      [3, 'lab-3', 'lab-3', '10.5.0.4'],
      [4, 'lab-4', 'lab-4', '10.5.0.5'],
      [5, 'lab-5', 'lab-5', '10.5.0.6'],
    ],
  );
  assert.throws(() => vmAddress(s, 6), /VM 6 has no address in 10\.5\.0\.0\/29/);
  assert.throws(() => vmAddress(s, 0), /VM 0 has no address/);
  assert.equal(vcNetwork(s), {
    name: 'vc-lab',
    bridge: 'vc-lab',
    vxlan: 'vx-lab',
    cidr: '10.5.0.0/29',
    prefix: 29,
    netmask: '255.255.255.248',
    gatewayAddress: '10.5.0.1',
    gateway: true,
  });
  const longest = vcNetwork({ name: 'x'.repeat(MAX_NAME_LENGTH), network: '10.0.0.0/24', gateway: false });
  assert.is(longest.bridge.length, IFNAME_MAX);
  assert.is(longest.vxlan.length, IFNAME_MAX);
});

test('derivation: MACs are locally administered, fixed per VC and index, distinct within a VC and across VCs', () => {
  const a = vmIdentities(specFromFlags({ ...base, nodes: 1000, network: '10.0.0.0/22' }));
  const again = vmIdentities(specFromFlags({ ...base, nodes: 3 }));
  const b = vmIdentities(specFromFlags({ ...base, name: 'lab2', nodes: 1000, network: '10.0.0.0/22' }));
  for (const v of [...a, ...b]) assert.match(v.mac, /^52:54:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
  // 0x52: bit 1 set (locally administered), bit 0 clear (unicast).
  assert.is(0x52 & 0b11, 0b10);
  assert.equal(again.map((v) => v.mac), a.slice(0, 3).map((v) => v.mac), 'a VM keeps its MAC when the VC is made again or larger');
  assert.is(new Set(a.map((v) => v.mac)).size, 1000);
  assert.is(new Set([...a, ...b].map((v) => v.mac)).size, 2000);
  assert.is.not(a[0]!.mac, b[0]!.mac);
});

test.run();
