// Real DHCP clients against our server, each pair of namespaces joined by a veth:
// busybox udhcpc (plain, PXE-like with option 93, iPXE-like with option 77) and
// ISC dhclient. Our server runs in the server namespace as its own process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLink, netnsAvailable, type Link } from '../../../host/netns.js';
import { stop } from '../../../host/output.js';
import { inventoryYaml, startOurServer } from '../../../tools/dhcp/netns.js';
import { missingTools } from './nstools.js';
import { need } from '../../helpers/need.js';

const MAC = '52:54:00:77:00:01';
const dir = mkdtempSync(join(tmpdir(), 'dl-dhcp-interop-'));
const skip = netnsAvailable() ?? missingTools(['busybox', 'dhclient']);

async function withServer(fn: (link: Link, events: string[]) => Promise<void>): Promise<void> {
  const link = createLink({ serverCidr: '10.77.0.1/24', clientMac: MAC });
  try {
    const inv = inventoryYaml('10.77.0.0/24', '10.77.0.1', '10.77.0.1', [{ name: 'node1', mac: MAC, ip: '10.77.0.11' }]);
    const { child, events } = await startOurServer(link.server, dir, { inventoryText: inv, serverIp: '10.77.0.1', httpPort: 8080 });
    try {
      await fn(link, events);
    } finally {
      await stop(child);
    }
  } finally {
    await link.destroy();
  }
}

function udhcpc(link: Link, extra: string[]): Record<string, string> {
  const script = join(dir, 'udhcpc.sh');
  writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] && echo "BOUND ip=$ip subnet=$subnet router=$router hostname=$hostname domain=$domain siaddr=$siaddr boot_file=$boot_file"\nexit 0\n');
  chmodSync(script, 0o755);
  const r = link.client.exec(['busybox', 'udhcpc', '-i', link.clientIf, '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', script, ...extra], { timeoutMs: 30_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('BOUND '));
  assert.ok(line, `udhcpc did not bind:\n${r.stdout}\n${r.stderr}`);
  return Object.fromEntries(line!.slice(6).split(' ').map((kv) => kv.split('=') as [string, string]));
}

test('busybox udhcpc gets the reserved address, network options and the BIOS boot file', async () => {
  need(skip);
  await withServer(async (link, events) => {
    const env = udhcpc(link, []);
    assert.is(env.ip, '10.77.0.11');
    assert.is(env.subnet, '255.255.255.0');
    assert.is(env.router, '10.77.0.1');
    assert.is(env.hostname, 'node1');
    assert.is(env.domain, 'cluster.test');
    assert.is(env.siaddr, '10.77.0.1');
    assert.is(env.boot_file, 'undionly.kpxe');
    await new Promise((r) => setTimeout(r, 100));
    const evs = events.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; node?: string });
    assert.ok(evs.some((e) => e.type === 'offer' && e.node === 'node1'));
    assert.ok(evs.some((e) => e.type === 'ack' && e.node === 'node1'));
  });
});

test('udhcpc as a UEFI x64 PXE client (60 PXEClient, 93 = 7) gets ipxe.efi; as iPXE (77) gets the script URL', async () => {
  need(skip);
  await withServer(async (link) => {
    const efi = udhcpc(link, ['-V', 'PXEClient:Arch:00007:UNDI:003016', '-x', '0x5d:0007']);
    assert.is(efi.ip, '10.77.0.11');
    assert.is(efi.boot_file, 'ipxe.efi');
    const ipxe = udhcpc(link, ['-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x4d:69505845']);
    assert.is(ipxe.boot_file, 'http://10.77.0.1:8080/boot/52-54-00-77-00-01.ipxe');
  });
});

test('ISC dhclient gets the reserved address and writes filename into its lease file', async () => {
  need(skip);
  await withServer(async (link) => {
    const lease = join(dir, 'dhclient.leases');
    const child = link.client.spawn(['dhclient', '-d', '-1', '-v', '-cf', '/dev/null', '-lf', lease, '-pf', join(dir, 'dhclient.pid'), '-sf', '/bin/true', link.clientIf]);
    let out = '';
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!(existsSync(lease) && readFileSync(lease, 'utf8').includes('filename')) && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await stop(child);
    assert.ok(existsSync(lease), `no lease file; dhclient said:\n${out}`);
    const text = readFileSync(lease, 'utf8');
    assert.match(text, /fixed-address 10\.77\.0\.11;/);
    assert.match(text, /filename "undionly\.kpxe";/);
    assert.match(text, /option dhcp-server-identifier 10\.77\.0\.1;/);
    assert.match(text, /option host-name "node1";/);
  });
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
