// A real `diskless serve` killed with SIGKILL mid lease write and mid pull, then
// restarted: it starts, answers DHCP (busybox udhcpc) and HTTP, sweeps the pull's
// staging and the lease write's temp file, and finishes the pull. Then a corrupt
// leases.json: a loud warning, the file moved aside, a working service. Namespaces on
// one bridge: serve (10.77.0.1), a replica that drips its root image (10.77.0.2, a
// `servers:` address), and a DHCP client.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubTopology } from '../../host/bridge.js';
import { createNetns, netnsAvailable, veth, type Netns } from '../../host/netns.js';
import { ip } from '../../host/ip.js';
import { stop, watchOutput } from '../../host/output.js';
import { projectRoot } from '../../lib/paths.js';
import { makeImages } from '../../tools/images.js';
import { missingTools } from './dhcp/nstools.js';
import { need } from '../helpers/need.js';

const skip = netnsAvailable() ?? missingTools(['busybox', 'curl']);
const SEEDED = 50_000; // a lease file of a few MB, so a write takes long enough to be caught in the middle

const inventory = `cluster: crash
version: 5
network:
  subnet: 10.77.0.0/16
  pool: { start: 10.77.0.100, end: 10.77.0.250 }
servers: [10.77.0.1, 10.77.0.2]
defaults: { image: debian-bookworm-amd64 }
nodes:
  - { name: node01, mac: "52:54:00:77:00:01", ip: 10.77.0.11 }
`;

function seedLeases(file: string): void {
  const expires = Date.now() + 86_400_000;
  const leases = Array.from({ length: SEEDED }, (_, i) => ({
    ip: `10.77.${100 + Math.floor(i / 250)}.${1 + (i % 250)}`,
    mac: `52:54:01:${[i >> 16, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`,
    state: 'bound',
    expires,
  }));
  writeFileSync(file, JSON.stringify({ version: 1, leases }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, ms: number, probe: () => T | undefined): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

const randomMac = () => `52:54:02:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;

test('SIGKILL mid lease write and mid pull: the restart starts, sweeps, serves; a corrupt lease file is set aside', async () => {
  need(skip);
  const work = mkdtempSync(join(tmpdir(), 'dl-crash-'));
  const img = makeImages({ rootBytes: 200_000 });
  const images = join(work, 'images');
  const leases = join(work, 'leases.json');
  mkdirSync(images);
  writeFileSync(join(work, 'cluster.yaml'), inventory);
  seedLeases(leases);
  const script = join(work, 'udhcpc.sh');
  writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] && echo "BOUND ip=$ip"\nexit 0\n');
  chmodSync(script, 0o755);

  const topo = hubTopology(['10.77.0.1/16', '10.77.0.2/16']);
  const [srv, peerNs] = topo.replicas as [Netns, Netns];
  let client: Netns | undefined;
  try {
    client = createNetns('cli');
    veth(topo.hub, 'hubc', client, 'eth0');
    topo.hub.exec(ip.master('hubc', 'br0'));
    topo.hub.exec(ip.up('hubc'));
    client.exec(ip.up('eth0'));
    const cli = client;

    const startPeer = async (drip: boolean) => {
      const cfg = { imagesRoot: img.root, inventory: { version: 0, hash: 'none' }, address: '10.77.0.2', port: 8080, files: drip ? { 'root.squashfs': { kind: 'drip', everyMs: 20 } } : {} };
      const child = peerNs.spawn([process.execPath, '--import', 'tsx/esm', join(projectRoot(), 'tools/replica/fake-peer.ts'), JSON.stringify(cfg)], { cwd: projectRoot() });
      await watchOutput(child).waitFor(/LISTENING/, 30_000, 'the fake replica');
      return child;
    };
    const startServe = async () => {
      const child = srv.spawn(
        [process.execPath, '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', join(work, 'cluster.yaml'), '--images', images,
          '--address', '10.77.0.1', '--http-port', '8080', '--no-tftp', '--lease-file', leases, '--sync-interval', '1', '--dead-after', '30'],
        { cwd: projectRoot() },
      );
      const out = watchOutput(child);
      await out.waitFor(/serving cluster crash/, 60_000, 'diskless serve');
      return { child, out };
    };
    /** One udhcpc exchange with a new MAC: a new lease, so a lease write follows. */
    const dhcp = (): ChildProcess => {
      cli.exec(ip.mac('eth0', randomMac()));
      return cli.spawn(['busybox', 'udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', script]);
    };
    const imageDir = join(images, img.name);
    const pullDirs = () => (existsSync(imageDir) ? readdirSync(imageDir).filter((n) => n.startsWith('.pull-')) : []);
    const leaseTemps = () => readdirSync(work).filter((n) => n.startsWith('.leases.json.') && n.endsWith('.tmp'));

    let peer = await startPeer(true);
    // Kill mid pull and mid lease write; a round whose kill landed just after the rename is repeated.
    let killed: number | undefined;
    for (let round = 1; round <= 6 && killed === undefined; round++) {
      const { child } = await startServe();
      await until('a pull in progress', 30_000, () => pullDirs().find((d) => existsSync(join(imageDir, d, 'root.squashfs')) && statSync(join(imageDir, d, 'root.squashfs')).size > 0));
      for (let i = 0; i < 5 && killed === undefined; i++) {
        const udhcpc = dhcp();
        const end = Date.now() + 8000;
        while (Date.now() < end && !leaseTemps().length) await new Promise((r) => setImmediate(r));
        if (leaseTemps().length) {
          process.kill(child.pid!, 'SIGKILL');
          await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
          if (leaseTemps().some((n) => n.includes(`.${child.pid}.`))) killed = child.pid!;
        }
        await stop(udhcpc);
      }
      if (killed === undefined) {
        process.kill(child.pid!, 'SIGKILL');
        await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
      }
    }
    assert.ok(killed, 'a SIGKILL landed in the middle of a lease write');
    console.log(`killed serve (pid ${killed}) mid lease write and mid pull`);
    const leftPull = pullDirs().filter((d) => d.endsWith(`-${killed}`));
    assert.is(leftPull.length, 1, `the pull's staging is left: ${pullDirs().join(', ')}`);
    assert.ok(leaseTemps().length >= 1, 'the lease write left its temp file');
    // The lease file is the old table or the new one, whole.
    assert.ok(JSON.parse(readFileSync(leases, 'utf8')).leases.length >= SEEDED);

    // Restart, with the replica now sending its image at full speed.
    await stop(peer);
    peer = await startPeer(false);
    let serve = await startServe();
    await serve.out.waitFor(new RegExp(`removed \\S*${leftPull[0]!.replace(/[.]/g, '\\.')}, left by an interrupted pull`), 10_000, 'the sweep');
    assert.not.ok(existsSync(join(imageDir, leftPull[0]!)), 'staging swept');
    const bound = await watchOutput(dhcp()).waitFor(/BOUND ip=(10\.77\.0\.\d+)/, 30_000, 'udhcpc after the restart');
    assert.ok(bound[1], 'DHCP answers');
    assert.equal(leaseTemps(), [], 'the cut-short lease write is swept');
    const status = JSON.parse(peerNs.exec(['curl', '-sf', '--max-time', '5', 'http://10.77.0.1:8080/status']).stdout) as { replica: string };
    assert.is(status.replica, '10.77.0.1', 'HTTP answers');
    await serve.out.waitFor(new RegExp(`image ${img.name}/${img.version} pulled from 10\\.77\\.0\\.2:8080, every artifact verified`), 30_000, 'the pull, done again');
    assert.equal(pullDirs(), []);

    // A corrupt lease file: a loud warning, the file set aside, and a working service.
    await stop(serve.child);
    writeFileSync(leases, '{"version":1,"leases":[{"ip":"10.77');
    serve = await startServe();
    await serve.out.waitFor(/LEASE FILE UNREADABLE: \S*leases\.json: not valid JSON/, 10_000, 'the warning');
    assert.is(readdirSync(work).filter((n) => n.startsWith('leases.json.corrupt-')).length, 1, 'set aside');
    await watchOutput(dhcp()).waitFor(/BOUND ip=10\.77\.0\.\d+/, 30_000, 'udhcpc with a fresh lease table');
    assert.ok(peerNs.exec(['curl', '-sf', '--max-time', '5', 'http://10.77.0.1:8080/status']).stdout.includes('"replica"'), 'HTTP answers');
    await stop(serve.child);
    await stop(peer);
  } finally {
    await client?.destroy();
    await topo.destroy();
  }
});

test.run();
