// A reserved address held by another host: busybox udhcpc checks the offer with an ARP
// ping (-a), finds it taken and sends a DECLINE. `diskless serve` reports it as a boot
// event of its own and lists it in /status, not only in a log line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLink, netnsAvailable } from '../../../host/netns.js';
import { lines, stop, waitFor } from '../../../host/output.js';
import { projectRoot } from '../../../lib/paths.js';
import { makeImages } from '../../../tools/images.js';
import { sample } from '../../helpers/inventory.js';
import { need } from '../../helpers/need.js';
import { missingTools } from './nstools.js';

const MAC = '52:54:00:77:00:01';
const skip = netnsAvailable() ?? missingTools(['busybox', 'curl']);

test('DECLINE of a reserved address: a conflict event and /status addressConflicts', async () => {
  need(skip);
  const dir = mkdtempSync(join(tmpdir(), 'dl-dhcp-conflict-'));
  const img = makeImages();
  const inventory = join(dir, 'cluster.yaml');
  writeFileSync(inventory, sample);
  const link = createLink({ serverCidr: '10.77.0.1/24', clientMac: MAC });
  try {
    const child = link.server.spawn(
      ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', inventory, '--images', img.root, '--no-tftp',
        '--lease-file', join(dir, 'leases.json'), '--log-format', 'json'],
      { cwd: projectRoot() },
    );
    const out = lines(child);
    try {
      await waitFor(child, /serving cluster lab as 10\.77\.0\.1/, 30_000, 'diskless serve to start');
      // Another host holds node01's address (here: the server's namespace answers ARP for it).
      link.server.exec(['ip', 'addr', 'add', '10.77.0.11/32', 'dev', link.serverIf]);
      const script = join(dir, 'udhcpc.sh');
      writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] && echo "BOUND $ip"\nexit 0\n');
      chmodSync(script, 0o755);
      const dh = link.client.spawn(['busybox', 'udhcpc', '-i', link.clientIf, '-f', '-q', '-n', '-a', '-t', '2', '-T', '1', '-s', script]);
      let said = '';
      dh.stdout?.on('data', (d: Buffer) => (said += d.toString()));
      // After a DECLINE udhcpc waits seconds before it tries again; the conflict is what matters.
      await waitFor(child, /"type":"conflict"/, 30_000, 'the conflict event');
      await stop(dh);
      assert.not.match(said, /BOUND/, 'udhcpc found the address taken');

      link.client.exec(['ip', 'addr', 'add', '10.77.0.50/24', 'dev', link.clientIf]);
      const status = JSON.parse(link.client.exec(['curl', '-sS', 'http://10.77.0.1/status']).stdout) as { addressConflicts: Array<{ node: string; mac: string; ip: string; count: number; at: string }> };
      assert.is(status.addressConflicts.length, 1, JSON.stringify(status));
      const c = status.addressConflicts[0]!;
      assert.equal([c.node, c.mac, c.ip], ['node01', MAC, '10.77.0.11']);
      assert.ok(c.count >= 1 && !Number.isNaN(Date.parse(c.at)), JSON.stringify(c));
      assert.equal((status as unknown as { dhcpLimited: unknown }).dhcpLimited, { mac: 0, source: 0 });
      const events = out.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(events.some((e) => e.kind === 'dhcp' && e.type === 'conflict' && e.node === 'node01' && e.ip === '10.77.0.11'), out.join('\n'));
    } finally {
      await stop(child);
    }
  } finally {
    await link.destroy();
    rmSync(dir, { recursive: true, force: true });
    rmSync(img.root, { recursive: true, force: true });
  }
});

test.run();
