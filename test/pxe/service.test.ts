// `diskless serve` as a whole, in a pair of network namespaces, against real
// clients: busybox udhcpc, tftp-hpa and curl; then inventory reloads.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLink, netnsAvailable, type Link } from '../../host/netns.js';
import { waitFor, stop, lines } from '../../host/output.js';
import { missingTools } from './dhcp/nstools.js';
import { makeImages } from '../../tools/images.js';
import { sample } from '../helpers/inventory.js';
import { projectRoot } from '../../lib/paths.js';
import { chooseAddress } from '../../pxe/service.js';
import type { ChildProcess } from 'node:child_process';
import { need } from '../helpers/need.js';

const MAC = '52:54:00:77:00:01';
const skip = netnsAvailable() ?? missingTools(['busybox', 'tftp', 'curl']);

test('the replica address: the flag, else the one local address the inventory lists', () => {
  assert.is(chooseAddress({ servers: ['10.0.0.1', '10.0.0.2'] }, undefined, ['127.0.0.1', '10.0.0.2']), '10.0.0.2');
  assert.is(chooseAddress({ servers: ['10.0.0.1'] }, '10.9.9.9', []), '10.9.9.9');
  assert.throws(() => chooseAddress({ servers: ['10.0.0.1'] }, undefined, ['127.0.0.1']), /add this replica to servers: in the inventory, or pass --address/);
  assert.throws(() => chooseAddress({ servers: ['10.0.0.1', '10.0.0.2'] }, undefined, ['10.0.0.1', '10.0.0.2']), /pick one with --address/);
});

interface Running {
  link: Link;
  child: ChildProcess;
  out: string[];
  dir: string;
  inventory: string;
}

async function serve(): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'dl-serve-'));
  const img = makeImages();
  const inventory = join(dir, 'cluster.yaml');
  writeFileSync(inventory, sample);
  const link = createLink({ serverCidr: '10.77.0.1/24', clientMac: MAC });
  const child = link.server.spawn(
    ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', inventory, '--images', img.root,
      '--lease-file', join(dir, 'leases.json'), '--log-format', 'json'],
    { cwd: projectRoot() },
  );
  const out = lines(child);
  await waitFor(child, /serving cluster lab as 10\.77\.0\.1/, 30_000, 'diskless serve to start');
  return { link, child, out, dir, inventory };
}

const events = (r: Running) => r.out.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

test('serve: udhcpc gets its reservation and boot file, tftp-hpa and curl get files, each logged as node01', async () => {
  need(skip);
  const r = await serve();
  try {
    const script = join(r.dir, 'udhcpc.sh');
    writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] && echo "BOUND $ip $boot_file $siaddr"\nexit 0\n');
    chmodSync(script, 0o755);
    const dh = r.link.client.exec(['busybox', 'udhcpc', '-i', r.link.clientIf, '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', script], { timeoutMs: 30_000 });
    assert.match(dh.stdout, /BOUND 10\.77\.0\.11 undionly\.kpxe 10\.77\.0\.1/);
    r.link.client.exec(['ip', 'addr', 'add', '10.77.0.11/24', 'dev', r.link.clientIf]);

    const got = join(r.dir, 'undionly.kpxe');
    r.link.client.exec(['tftp', '-m', 'binary', '10.77.0.1', '-c', 'get', 'undionly.kpxe', got]);
    assert.ok(readFileSync(got).equals(readFileSync('/usr/lib/ipxe/undionly.kpxe')), 'undionly.kpxe over TFTP');
    const viaTftp = join(r.dir, 'node.ipxe');
    r.link.client.exec(['tftp', '-m', 'binary', '10.77.0.1', '-c', 'get', 'boot/52-54-00-77-00-01.ipxe', viaTftp]);
    assert.match(readFileSync(viaTftp, 'utf8'), /diskless\.name=node01/);
    const viaHttp = r.link.client.exec(['curl', '-sS', 'http://10.77.0.1/boot/52-54-00-77-00-01.ipxe']).stdout;
    assert.match(viaHttp, /^#!ipxe\n/);
    assert.match(viaHttp, /kernel http:\/\/10\.77\.0\.1\/images\/debian-bookworm-amd64\//);

    await new Promise((res) => setTimeout(res, 200));
    const ev = events(r);
    for (const want of [{ kind: 'dhcp', type: 'offer' }, { kind: 'dhcp', type: 'ack' }, { kind: 'tftp', file: 'undionly.kpxe' }, { kind: 'http', path: '/boot/52-54-00-77-00-01.ipxe' }]) {
      assert.ok(ev.some((e) => e.node === 'node01' && Object.entries(want).every(([k, v]) => e[k] === v)), `event ${JSON.stringify(want)} for node01 in\n${r.out.join('\n')}`);
    }
  } finally {
    await stop(r.child);
    await r.link.destroy();
  }
});

test('serve: a changed inventory is picked up; a broken one is refused and the old one kept', async () => {
  need(skip);
  const r = await serve();
  try {
    r.link.client.exec(['ip', 'addr', 'add', '10.77.0.50/24', 'dev', r.link.clientIf]);
    const script = () => r.link.client.exec(['curl', '-sS', 'http://10.77.0.1/boot/52-54-00-77-00-01.ipxe']).stdout;
    // Replace the file the way editors do: write a new one, rename it over.
    writeFileSync(`${r.inventory}.new`, sample.replace('name: node01', 'name: compute01'));
    renameSync(`${r.inventory}.new`, r.inventory);
    await waitFor(r.child, /inventory reloaded \(file changed\)/, 10_000, 'the reload');
    assert.match(script(), /diskless\.name=compute01/);

    writeFileSync(r.inventory, sample.replace('ip: 10.77.0.11', 'ip: 10.77.0.12'));
    process.kill(r.child.pid!, 'SIGHUP');
    await waitFor(r.child, /inventory reload \(.*\) failed; still serving/, 10_000, 'the refused reload');
    assert.match(r.out.join('\n'), /nodes\[1\]\.ip: 10\.77\.0\.12 is already used by node01/);
    assert.match(script(), /diskless\.name=compute01/, 'the previous inventory is still served');
  } finally {
    await stop(r.child);
    await r.link.destroy();
  }
});

test.run();
