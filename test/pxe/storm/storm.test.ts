// A boot storm against three real `diskless serve` replicas, each in its own network
// namespace, joined by veth pairs to a bridge in a fourth namespace that also holds
// the simulated nodes (tools/storm). One replica is killed mid-storm; every node must
// still get its reserved address and the right kernel and initrd.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsAvailable } from '../../../host/netns.js';
import { makeImages } from '../../../tools/images.js';
import { projectRoot } from '../../../lib/paths.js';
import { parseScript, expandBootFile } from '../../../tools/storm/script.js';
import { formatStorm, stats } from '../../../tools/storm/storm.js';
import { watchLines } from '../../../host/output.js';
import { nodeMac, startStorm, topology } from '../../../tools/storm/netns.js';
import { need } from '../../helpers/need.js';

const skip = netnsAvailable();
const SUBNET = '10.77.0';
const STORM_IP = `${SUBNET}.100`;

test('script: labels, || goto fallbacks, option arguments, boot', () => {
  const s = parseScript(`#!ipxe
echo hi
:replica0
kernel http://a/vmlinuz initrd=initrd.img console=ttyS0 || goto replica1
initrd --name initrd.img http://a/initrd.img || goto replica1
boot || goto replica1
:replica1
kernel http://b/vmlinuz || goto failed
:failed
sleep 10
goto replica0
`);
  assert.equal(s.steps[1], { op: 'fetch', what: 'kernel', url: 'http://a/vmlinuz', onFail: 'replica1', cmdline: 'initrd=initrd.img console=ttyS0' });
  assert.equal(s.steps[2], { op: 'fetch', what: 'initrd', url: 'http://a/initrd.img', onFail: 'replica1' });
  assert.is(s.labels.get('replica1'), 4);
  assert.equal(s.steps.at(-1), { op: 'goto', label: 'replica0' });
  assert.throws(() => parseScript('kernel x'), /not an iPXE script/);
  assert.is(expandBootFile('http://s/boot/${mac:hexhyp}.ipxe', '52:54:00:aa:bb:cc'), 'http://s/boot/52-54-00-aa-bb-cc.ipxe');
});

test('stats: nearest-rank percentiles', () => {
  assert.equal(stats(Array.from({ length: 100 }, (_, i) => i + 1)), { min: 1, median: 50, p95: 95, max: 100 });
  assert.is(stats([]), undefined);
});

test('storm: 50 nodes boot from three replicas, one killed mid-storm', async () => {
  need(skip);
  const t0 = Date.now();
  const IPS = [1, 2, 3].map((i) => `${SUBNET}.${i}`);
  const N = 50;
  const nodes = Array.from({ length: N }, (_, i) => ({ name: `node${String(i + 1).padStart(2, '0')}`, mac: nodeMac(i), ip: `${SUBNET}.${11 + i}` }));
  const work = mkdtempSync(join(tmpdir(), 'dl-storm-'));
  const img = makeImages();
  const topo = topology(IPS, `${STORM_IP}/24`);
  try {
    const inv = join(work, 'cluster.yaml');
    writeFileSync(
      inv,
      `cluster: storm\nnetwork:\n  subnet: ${SUBNET}.0/24\nservers: [${IPS.join(', ')}]\ndefaults: { image: ${img.name} }\nnodes:\n` +
        nodes.map((n) => `  - { name: ${n.name}, mac: "${n.mac}", ip: ${n.ip} }`).join('\n') + '\n',
    );
    const replicas = topo.replicas.map((ns, i) => {
      const dir = join(work, `r${i}`);
      mkdirSync(join(dir, 'images'), { recursive: true });
      cpSync(img.root, join(dir, 'images'), { recursive: true, verbatimSymlinks: true });
      const child = ns.spawn(
        ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', inv, '--images', join(dir, 'images'),
          '--address', IPS[i]!, '--no-tftp', '--sync-interval', '0', '--lease-file', join(dir, 'leases.json'), '--log-format', 'json'],
        { cwd: projectRoot() },
      );
      return { child, w: watchLines(child) };
    });
    await Promise.all(replicas.map((r, i) => r.w.waitFor(/serving cluster storm/, 30_000, `replica ${i}`)));

    // 0.05: DHCP retransmits at 200, 400, 800, 1600 ms instead of 4, 8, 16, 32 s.
    const storm = await startStorm(topo.hub, { transport: 'broadcast', localAddress: STORM_IP, macs: nodes.map((n) => n.mac), concurrency: 10, timeScale: 0.05 });
    const victim = replicas[0]!.child;
    const killAt = Math.floor(N / 3);
    const doneAtKill = await storm.w.waitFor(new RegExp(`^DONE ${killAt}$`), 60_000, `${killAt} nodes booted`);
    process.kill(victim.pid!, 'SIGKILL');
    const r = await storm.result(90_000);
    console.log(formatStorm(`storm (replica ${IPS[0]} killed after ${doneAtKill.slice(5)} of ${N})`, r));
    console.log(`  answered by: ${JSON.stringify(r.clients.reduce<Record<string, number>>((m, c) => ((m[c.dhcpServer ?? '-'] = (m[c.dhcpServer ?? '-'] ?? 0) + 1), m), {}))}`);

    const a = img.manifest.artifacts;
    assert.is(r.clients.length, N);
    for (const [i, c] of r.clients.entries()) {
      assert.ok(c.ok, `${c.mac} did not boot: ${c.error} (${c.errors.join('; ')})`);
      assert.is(c.address, nodes[i]!.ip, `${c.mac} got its reservation`);
      const kernel = c.files.find((f) => f.what === 'kernel');
      const initrd = c.files.find((f) => f.what === 'initrd');
      assert.is(kernel?.sha256, a.kernel!.sha256, `${c.mac} kernel sha256`);
      assert.is(initrd?.sha256, a.initrd!.sha256, `${c.mac} initrd sha256`);
    }
    // The kill happened while nodes were still booting, and some of them had to route around it.
    assert.ok(r.clients.some((c) => c.dhcpServer !== IPS[0]), 'the other replicas answered');
    assert.ok(r.fallbacks + r.reboots > 0, 'some nodes routed around the killed replica');
    console.log(`  test took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    await topo.destroy();
    rmSync(work, { recursive: true, force: true });
    rmSync(img.root, { recursive: true, force: true });
  }
});

test.run();
