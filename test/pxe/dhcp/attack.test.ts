// Attacks on the DHCP server, with real packets between namespaces: a starvation flood
// from 10,000 spoofed MACs sent from 0.0.0.0 as unconfigured hosts send (tools/dhcp/flood.ts),
// real busybox udhcpc clients beside it, and relayed requests from listed and unlisted relays.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLink, netnsAvailable, type Link } from '../../../host/netns.js';
import { stop, waitFor } from '../../../host/output.js';
import { projectRoot } from '../../../lib/paths.js';
import { DEFAULT_LIMITS } from '../../../pxe/dhcp/limits.js';
import { inventoryYaml, startOurServer } from '../../../tools/dhcp/netns.js';
import type { FloodOptions, FloodResult } from '../../../tools/dhcp/flood.js';
import { missingTools } from './nstools.js';
import { need } from '../../helpers/need.js';

const NODE_MAC = '52:54:00:77:00:01';
const STRANGER_MAC = '52:54:00:99:00:42';
const POOL: [string, string] = ['10.77.0.100', '10.77.0.163'];
const POOL_SIZE = 64;
const dir = mkdtempSync(join(tmpdir(), 'dl-dhcp-attack-'));
const skip = netnsAvailable() ?? missingTools(['busybox']);

function udhcpc(link: Link): { ip?: string; out: string } {
  const script = join(dir, 'udhcpc.sh');
  writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] && echo "BOUND $ip"\nexit 0\n');
  chmodSync(script, 0o755);
  const r = link.client.exec(['busybox', 'udhcpc', '-i', link.clientIf, '-f', '-q', '-n', '-t', '8', '-T', '1', '-s', script], { timeoutMs: 30_000, allowFail: true });
  return { ip: /^BOUND (\S+)$/m.exec(r.stdout)?.[1], out: `${r.stdout}\n${r.stderr}` };
}

function startFlood(link: Link, o: FloodOptions): { child: ChildProcess; result: Promise<FloodResult> } {
  const child = link.client.spawn([process.execPath, '--import', 'tsx/esm', join(projectRoot(), 'tools/dhcp/flood.ts'), JSON.stringify(o)], { cwd: projectRoot() });
  return { child, result: waitFor(child, /RESULT .*\n/, 120_000, 'flood').then((l) => JSON.parse(l.slice(7)) as FloodResult) };
}

/** Pool leases the spoofed MACs hold once the flood is over (the server saves within 250 ms). */
async function floodLeases(leaseFile: string): Promise<number> {
  await new Promise((r) => setTimeout(r, 600));
  if (!existsSync(leaseFile)) return 0;
  const data = JSON.parse(readFileSync(leaseFile, 'utf8')) as { leases: Array<{ mac: string }> };
  return data.leases.filter((l) => l.mac.startsWith('02:f1:')).length;
}

/** One link, our server on it, the client side with no address and a route for limited broadcasts. */
async function withServer(limits: false | undefined, fn: (link: Link, leaseFile: string) => Promise<void>): Promise<void> {
  const link = createLink({ serverCidr: '10.77.0.1/24', clientMac: NODE_MAC });
  try {
    link.client.exec(['ip', 'route', 'add', '255.255.255.255/32', 'dev', link.clientIf]);
    const inv = inventoryYaml('10.77.0.0/24', '10.77.0.1', '10.77.0.1', [{ name: 'node1', mac: NODE_MAC, ip: '10.77.0.11' }], POOL);
    const { child, leaseFile } = await startOurServer(link.server, dir, { inventoryText: inv, serverIp: '10.77.0.1', httpPort: 8080, quiet: true, limits });
    try {
      await fn(link, leaseFile);
    } finally {
      await stop(child);
    }
  } finally {
    await link.destroy();
  }
}

const FLOOD: FloodOptions = { dora: 10_000, selecting: 1000, initReboot: 1000, serverIp: '10.77.0.1', pool: POOL, rate: 4000 };

test('without limits the same flood drains the pool (the attack is real)', async () => {
  need(skip);
  await withServer(false, async (_link, leaseFile) => {
    const r = await startFlood(_link, FLOOD).result;
    assert.is(r.acks.initReboot, 0, 'INIT-REBOOT from clients with no record: silent, limits or not');
    assert.is(await floodLeases(leaseFile), POOL_SIZE, JSON.stringify(r.acks));
  });
});

test('flood of 10,000 spoofed MACs from 0.0.0.0: the pool keeps addresses, a reserved node is served during it, a new client after it', async () => {
  need(skip);
  await withServer(undefined, async (link, leaseFile) => {
    const t0 = Date.now();
    const flood = startFlood(link, FLOOD);
    // A reserved node on the same segment, in the middle of the flood.
    await new Promise((r) => setTimeout(r, 800));
    const node = udhcpc(link);
    const r = await flood.result;
    const seconds = (Date.now() - t0) / 1000;
    assert.is(node.ip, '10.77.0.11', node.out);
    assert.is(r.acks.initReboot, 0, 'INIT-REBOOT from clients with no record binds nothing');
    // New addresses for this source: the burst, then the sustained rate, whatever was sent.
    const budget = DEFAULT_LIMITS.newAddresses.burst + DEFAULT_LIMITS.newAddresses.perSecond * seconds;
    const held = await floodLeases(leaseFile);
    console.log(`  flood: ${r.sent} packets, ${r.offers} offers, ACKs ${JSON.stringify(r.acks)}, ${held} pool leases held (budget ${budget.toFixed(1)} in ${seconds.toFixed(1)} s)`);
    assert.ok(r.acks.dora + r.acks.selecting <= budget, `flood bound ${r.acks.dora + r.acks.selecting} addresses`);
    assert.ok(held <= budget && held < POOL_SIZE / 2, `flood holds ${held} of ${POOL_SIZE}`);
    // A client the server has never seen, on the same segment, once the flood has stopped.
    link.client.exec(['ip', 'link', 'set', link.clientIf, 'down']);
    link.client.exec(['ip', 'link', 'set', link.clientIf, 'address', STRANGER_MAC]);
    link.client.exec(['ip', 'link', 'set', link.clientIf, 'up']);
    link.client.exec(['ip', 'route', 'replace', '255.255.255.255/32', 'dev', link.clientIf]);
    const stranger = udhcpc(link);
    assert.match(stranger.ip ?? '', /^10\.77\.0\.1([0-5]\d|6[0-3])$/, stranger.out);
  });
});

/** runDora from `relay` (its address, also giaddr) in the client namespace, as its own process. */
async function relayed(link: Link, relay: string, macs: string[]): Promise<{ exchanges: number; failures: number }> {
  const code = `
    import { runDora } from ${JSON.stringify(join(projectRoot(), 'tools/dhcp/loadgen.ts'))};
    const r = await runDora({ server: { address: '10.77.0.1' }, relayAddress: ${JSON.stringify(relay)}, macs: ${JSON.stringify(macs)}, count: ${macs.length}, concurrency: ${macs.length}, timeoutMs: 300, retries: 2 });
    console.log('RESULT ' + JSON.stringify({ exchanges: r.exchanges, failures: r.failures }));
  `;
  const child = link.client.spawn([process.execPath, '--import', 'tsx/esm', '--input-type=module', '-e', code], { cwd: projectRoot() });
  return JSON.parse((await waitFor(child, /RESULT .*\n/, 30_000, 'relay')).slice(7));
}

test('giaddr from a relay not in relays: is ignored (one warning); from a listed relay it is served', async () => {
  need(skip);
  const link = createLink({ serverCidr: '10.77.0.1/24', clientCidr: '10.77.0.2/24' });
  try {
    link.client.exec(['ip', 'addr', 'add', '10.77.0.3/24', 'dev', link.clientIf]);
    const nodes = [0, 1, 2, 3].map((i) => ({ name: `n${i}`, mac: `52:54:00:77:01:0${i}`, ip: `10.77.0.${20 + i}` }));
    const inv = inventoryYaml('10.77.0.0/24', '10.77.0.1', '10.77.0.1', nodes, undefined, ['10.77.0.3']);
    const srv = await startOurServer(link.server, dir, { inventoryText: inv, serverIp: '10.77.0.1', httpPort: 8080 });
    let stderr = '';
    srv.child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const macs = nodes.map((n) => n.mac);
      const unlisted = await relayed(link, '10.77.0.2', macs);
      assert.equal(unlisted, { exchanges: 0, failures: 4 });
      assert.is(srv.events.filter((l) => /"type":"(offer|ack)"/.test(l)).length, 0);
      const warnings = stderr.split('\n').filter((l) => /relayed \(giaddr 10\.77\.0\.2\) by 10\.77\.0\.2, which is not in the relays: of 10\.77\.0\.0\/24/.test(l));
      assert.is(warnings.length, 1, `one warning for the relay however many packets:\n${stderr}`);
      assert.is(srv.events.filter((l) => l.startsWith('{')).length, 1, `one boot event for it too:\n${srv.events.join('\n')}`);
      const listed = await relayed(link, '10.77.0.3', macs);
      assert.equal(listed, { exchanges: 4, failures: 0 });
      assert.is(srv.events.filter((l) => /"type":"ack"/.test(l)).length, 4);
    } finally {
      await stop(srv.child);
    }
  } finally {
    await link.destroy();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
