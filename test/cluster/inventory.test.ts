import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseInventory, networkFor } from '../../cluster/inventory.js';
import { ConfigError } from '../../lib/yamlfile.js';
import { normalizeMac, parseCidr, parseIp4, formatIp4, inCidr } from '../../cluster/addr.js';
import { sample } from '../helpers/inventory.js';


function problems(text: string): string[] {
  try {
    parseInventory(text, 'cluster.yaml');
    assert.unreachable('should not load');
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

test('MACs in any common spelling are normalised; junk is refused', () => {
  for (const s of ['52:54:00:AB:cd:EF', '52-54-00-ab-cd-ef', '5254.00ab.cdef', '525400ABCDEF']) assert.is(normalizeMac(s), '52:54:00:ab:cd:ef', s);
  for (const s of ['52:54:00:ab:cd', '52:54:00:ab:cd:eg', '52:54-00:ab:cd:ef', '5254:00ab:cdef']) assert.is(normalizeMac(s), undefined, s);
});

test('IPv4 and subnet helpers', () => {
  assert.is(formatIp4(parseIp4('10.77.0.11')!), '10.77.0.11');
  assert.is(parseIp4('10.77.0.256'), undefined);
  const c = parseCidr('10.77.0.0/24')!;
  assert.ok(inCidr(c, parseIp4('10.77.0.200')!));
  assert.not.ok(inCidr(c, parseIp4('10.77.1.1')!));
  assert.is(formatIp4(c.broadcast), '10.77.0.255');
});

test('the issue example loads, with defaults applied per node', () => {
  const inv = parseInventory(sample, 'cluster.yaml');
  assert.is(inv.cluster, 'lab');
  assert.is(inv.nodes.length, 2);
  const n2 = inv.byMac.get('52:54:00:77:00:02')!;
  assert.is(n2.name, 'node02');
  assert.is(n2.role, 'xen-dom0');
  assert.is(n2.image, 'debian-bookworm-amd64');
  assert.is(n2.kernelArgs, 'console=ttyS0');
  assert.is(networkFor(inv, parseIp4('10.77.0.50')!)?.subnetText, '10.77.0.0/24');
  assert.match(inv.hash, /^[0-9a-f]{64}$/);
});

test('duplicates name the line and the node that already has the value', () => {
  const p = problems(sample.replace('mac: 52-54-00-77-00-02', 'mac: 52:54:00:77:00:01').replace('ip: 10.77.0.12', 'ip: 10.77.0.11'));
  assert.ok(p.some((x) => /cluster\.yaml:15: nodes\[1\]\.mac: 52:54:00:77:00:01 is already used by node01/.test(x)), p.join('\n'));
  assert.ok(p.some((x) => /nodes\[1\]\.ip: 10\.77\.0\.11 is already used by node01/.test(x)), p.join('\n'));
});

test('bad values name the line and key', () => {
  const p = problems(sample.replace('mac: 52:54:00:77:00:01', 'mac: 52:54:00:77:00').replace('role: linux', 'role: windows'));
  assert.ok(p.some((x) => /cluster\.yaml:12: nodes\[0\]\.mac: must be a MAC address/.test(x)), p.join('\n'));
  assert.ok(p.some((x) => /cluster\.yaml:14: nodes\[0\]\.role:/.test(x)), p.join('\n'));
});

test('an address outside every subnet, or inside the pool, is refused', () => {
  const p = problems(sample.replace('ip: 10.77.0.11', 'ip: 10.78.0.11'));
  assert.ok(p.some((x) => /nodes\[0\]\.ip: 10\.78\.0\.11 is in no subnet/.test(x)), p.join('\n'));
  const q = problems(sample.replace('  dns: [10.77.0.1]', '  dns: [10.77.0.1]\n  pool: { start: 10.77.0.10, end: 10.77.0.20 }'));
  assert.ok(q.some((x) => /10\.77\.0\.11 is inside the dynamic pool/.test(x)), q.join('\n'));
});

test('no image anywhere is an error; unknown keys are named', () => {
  const p = problems(sample.replace('  image: debian-bookworm-amd64\n', ''));
  assert.ok(p.some((x) => /nodes\[0\]\.image: no image, and defaults\.image is not set/.test(x)), p.join('\n'));
  const q = problems(sample.replace('cluster: lab', 'cluster: lab\nclustr: typo'));
  assert.ok(q.some((x) => /cluster\.yaml:2: clustr: unknown key/.test(x)), q.join('\n'));
});

test('relay subnets are networks too', () => {
  const inv = parseInventory(sample.replace('servers:', 'subnets:\n  - subnet: 10.78.0.0/24\n    router: 10.78.0.1\nservers:').replace('ip: 10.77.0.12', 'ip: 10.78.0.12'), 'c.yaml');
  assert.is(inv.byName.get('node02')!.network.subnetText, '10.78.0.0/24');
  assert.is(inv.networks.length, 2);
});

test('relays: per subnet, validated with line numbers', () => {
  const relayed = sample.replace('servers:', 'subnets:\n  - subnet: 10.78.0.0/24\n    relays: [10.77.0.254, 10.78.0.1]\nservers:');
  const inv = parseInventory(relayed, 'c.yaml');
  assert.equal(inv.networks[1]!.relays, ['10.77.0.254', '10.78.0.1']);
  assert.equal(inv.networks[0]!.relays, []);
  const p = problems(relayed.replace('[10.77.0.254, 10.78.0.1]', '[10.77.0.254, 10.77.0.254, 0.0.0.0]'));
  const line = relayed.split('\n').findIndex((l) => l.includes('relays:')) + 1;
  assert.ok(p.some((x) => x === `cluster.yaml:${line}: subnets[0].relays[1]: 10.77.0.254 is listed twice; list each relay once`), p.join('\n'));
  assert.ok(p.some((x) => x.startsWith(`cluster.yaml:${line}: subnets[0].relays[2]: 0.0.0.0 cannot be a relay's address`)), p.join('\n'));
  const q = problems(relayed.replace('10.78.0.1]', 'relay-host]'));
  assert.ok(q.includes(`cluster.yaml:${line}: subnets[0].relays[1]: must be an IPv4 address like 10.77.0.11`), q.join('\n'));
});

test('firmware: per node or in defaults; absent means option 93 decides', () => {
  const inv = parseInventory(sample.replace('  kernelArgs: console=ttyS0\n', '  kernelArgs: console=ttyS0\n  firmware: uefi\n').replace('    role: linux\n', '    role: linux\n    firmware: uefi-secure\n'), 'cluster.yaml');
  assert.is(inv.byName.get('node01')!.firmware, 'uefi-secure');
  assert.is(inv.byName.get('node02')!.firmware, 'uefi');
  assert.is(parseInventory(sample, 'cluster.yaml').byName.get('node01')!.firmware, undefined);
  for (const fw of ['bios', 'uefi', 'uefi-http', 'uefi-secure']) {
    assert.is(parseInventory(sample.replace('    role: linux\n', `    role: linux\n    firmware: ${fw}\n`), 'cluster.yaml').byName.get('node01')!.firmware, fw);
  }
  const p = problems(sample.replace('    role: linux\n', '    role: linux\n    firmware: efi\n'));
  assert.ok(p.some((x) => /cluster\.yaml:15: nodes\[0\]\.firmware:.*bios.*uefi-secure/.test(x)), p.join('\n'));
});

test('firmware uefi-secure with role xen-dom0 is refused, naming why and the line', () => {
  const p = problems(sample.replace('    role: xen-dom0\n', '    role: xen-dom0\n    firmware: uefi-secure\n'));
  assert.is(p.length, 1, p.join('\n'));
  assert.match(p[0]!, /^cluster\.yaml:19: nodes\[1\]\.firmware: uefi-secure cannot boot role xen-dom0: Debian's Xen is not signed/);
  const q = problems(sample.replace('  kernelArgs: console=ttyS0\n', '  kernelArgs: console=ttyS0\n  firmware: uefi-secure\n'));
  assert.is(q.length, 1, q.join('\n'));
  assert.match(q[0]!, /^cluster\.yaml:10: nodes\[1\]\.firmware: uefi-secure \(from defaults\.firmware\) cannot boot role xen-dom0.*firmware: uefi/);
});

test.run();
