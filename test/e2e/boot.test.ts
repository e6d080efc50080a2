// The product, end to end: build-image debian, `diskless serve` in a network
// namespace, and diskless machines PXE-booting in QEMU (TCG) from it, e1000 and
// virtio at once, up to the image's own init. Each node reports on its serial
// console that it runs on the read-only squashfs under a RAM overlay. The image and the
// inventories are signed with the run's cluster key, and every replica serves with --trust.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubTopology } from '../../host/bridge.js';
import { createNetns, netnsAvailable, type Netns } from '../../host/netns.js';
import { bootNetwork } from '../../host/bridge.js';
import { watchOutput } from '../../host/output.js';
import { qemuMissing, startNode, type Nic } from '../../host/qemu.js';
import { radvdMissing, startRadvd } from '../../host/radvd.js';
import { projectRoot } from '../../lib/paths.js';
import { builtDebian, builtXen, runKeys } from '../helpers/built-image.js';
import { loadPrivateKey, loadTrustKey, signFile, verifyBytes } from '../../lib/sign.js';
import { need } from '../helpers/need.js';
import { ClusterViewSchema, type ClusterView } from '../../pxe/status/schema.js';

const work = mkdtempSync(join(tmpdir(), 'diskless-e2e-'));
const images = join(work, 'images');
const skip =
  netnsAvailable() ??
  qemuMissing() ??
  radvdMissing() ??
  (spawnSync('sh', ['-c', 'command -v mmdebstrap && command -v mksquashfs']).status !== 0 ? 'mmdebstrap/mksquashfs missing (scripts/install-deps.sh)' : undefined);

const NODES: { name: string; mac: string; ip: string; nic: Nic }[] = [
  { name: 'node01', mac: '52:54:00:77:00:01', ip: '10.77.0.11', nic: 'e1000' },
  { name: 'node02', mac: '52:54:00:77:00:02', ip: '10.77.0.12', nic: 'virtio' },
];

const inventory = `cluster: e2e
network:
  subnet: 10.77.0.0/24
servers: [10.77.0.1]
defaults:
  image: debian-bookworm-amd64
  kernelArgs: diskless.selftest=1
nodes:
${NODES.map((n) => `  - { name: ${n.name}, mac: "${n.mac}", ip: ${n.ip} }`).join('\n')}
  - name: dom0
    mac: "52:54:00:77:00:03"
    ip: 10.77.0.13
    role: xen-dom0
    image: debian-bookworm-amd64-xen-dom0
    xenArgs: dom0_mem=768M,max:768M console=com1 com1=115200,8n1
  - { name: node04, mac: "52:54:00:77:00:04", ip: 10.77.0.14, image: broken }
`;

const NODE_UP = /diskless: node-up name=(\S+) addr=(\S+) image=(\S+) version=(\S+) root=(\S+) lower=(\S+) upper=(\S+) hypervisor=(\S+) secureboot=(\S+)\n/;
const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** Poll the replica's /cluster (curl in `ns`) until `done` holds for the view, up to `ms`; the last view. */
async function clusterUntil(ns: Netns, done: (v: ClusterView) => boolean, ms: number): Promise<ClusterView> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = ClusterViewSchema.parse(JSON.parse(ns.exec(['curl', '-sf', '--max-time', '10', 'http://10.77.0.1/cluster']).stdout));
    if (done(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Ev { time: string; kind: string; node?: string; type?: string; path?: string; message?: string }

if (skip) {
  test('diskless boot end to end', () => need(skip));
} else {
  let ns: Netns;
  let served: ReturnType<typeof watchOutput>;
  let taps: string[];

  test.before(async () => {
    builtDebian(images); // the run's one plain debian build (test/helpers/built-image.ts)
    ns = createNetns('e2e');
    taps = bootNetwork(ns, '10.77.0.1/24', NODES.length + 2);
    // Router advertisements, as on a normal network: without them iPXE waits ~15 s for IPv6.
    startRadvd(ns, 'br0', join(work, 'radvd.conf'));
    writeFileSync(join(work, 'cluster.yaml'), inventory);
    await signFile(join(work, 'cluster.yaml'), await loadPrivateKey(runKeys().key));
    const serve = ns.spawn(
      ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', join(work, 'cluster.yaml'),
        '--images', images, '--lease-file', join(work, 'leases.json'), '--log-format', 'json', '--trust', runKeys().pub],
      { cwd: projectRoot() },
    );
    served = watchOutput(serve);
    await served.waitFor(/serving cluster e2e as 10\.77\.0\.1/, 30_000, 'diskless serve');
  });

  test.after(async () => {
    await ns?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test('two diskless nodes (e1000 and virtio) boot at once from one image, each with its own name and address', async () => {
    const imageDir = join(images, 'debian-bookworm-amd64');
    const version = readlinkSync(join(imageDir, 'current'));
    const manifest = JSON.parse(readFileSync(join(imageDir, version, 'manifest.json'), 'utf8'));
    // A signed image, served by a replica that trusts only the run's key.
    verifyBytes(readFileSync(join(imageDir, version, 'manifest.json')), readFileSync(join(imageDir, version, 'manifest.json.sig')), await loadTrustKey(runKeys().pub));
    assert.not.match(served.log(), /no --trust key/);
    const started = Date.now();
    const machines = NODES.map((n, i) => {
      const child = startNode(ns, { tap: taps[i]!, mac: n.mac, nic: n.nic });
      return { ...n, child, out: watchOutput(child) };
    });
    const upAt: Record<string, number> = {};
    await Promise.all(
      machines.map(async (m) => {
        const up = await m.out.waitFor(NODE_UP, 240_000, `${m.name} (${m.nic}) to come up`);
        upAt[m.name] = Date.now();
        assert.is(up[1], m.name, 'inventory name');
        assert.is(up[2], `${m.ip}/24`, 'inventory address');
        assert.is(up[3], 'debian-bookworm-amd64');
        assert.is(up[4], version);
        assert.is(up[5], 'overlay', '/ is an overlay');
        assert.is(up[6], 'squashfs,ro', 'its lower layer is the read-only squashfs');
        assert.is(up[7], 'tmpfs', 'its upper layer is RAM');
        assert.is(up[8], 'none', 'no hypervisor');
        await m.out.waitFor(/diskless: selftest image (ok|FAILED).*\n/, 30_000, `${m.name} self-test`);
        const log = m.out.log();
        assert.match(log, 'diskless: selftest write /etc ok (in the RAM overlay, not in the image)');
        assert.match(log, 'diskless: selftest write /var ok (in the RAM overlay, not in the image)');
        assert.match(log, 'diskless: selftest image ok (read-only)');
      }),
    );
    for (const a of Object.values(manifest.artifacts) as { file: string; sha256: string }[]) {
      assert.is(sha256(join(imageDir, version, a.file)), a.sha256, `${a.file} unchanged on the server after the boots`);
    }

    // The replica saw the first four phases; the initrd told it init, the image's report-up told it up:
    // /cluster shows them in order, and every node up.
    const names = NODES.map((n) => n.name);
    const cv = await clusterUntil(ns, (v) => v.nodes.filter((n) => names.includes(n.name)).every((n) => n.phase === 'up'), 60_000);
    for (const n of cv.nodes.filter((x) => names.includes(x.name))) {
      assert.equal(n.boot!.phases.map((p) => p.phase).slice(0, 5), ['dhcp', 'loader', 'kernel', 'root', 'init'], `${n.name} in /cluster: ${JSON.stringify(n)}`);
      assert.is(n.phase, 'up', `${n.name} is up in /cluster: ${JSON.stringify(n)}`);
      console.log(`/cluster ${n.name}: ${n.phase}; ${n.boot!.phases.map((p) => `${p.phase} ${(p.ms / 1000).toFixed(1)} s`).join(', ')}`);
    }
    for (const m of machines) if (m.child.pid) process.kill(m.child.pid, 'SIGTERM'); // the next test wants the CPU
    // Boot time per node, broken down from the boot service's own events.
    const events = served.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Ev);
    for (const m of machines) {
      const mine = events.filter((e) => e.node === m.name);
      const at = (pred: (e: Ev) => boolean) => {
        const e = mine.find(pred);
        return e ? (Date.parse(e.time) - started) / 1000 : NaN;
      };
      const dhcp = at((e) => e.kind === 'dhcp' && e.type === 'ack');
      const kernel = at((e) => e.kind === 'http' && !!e.path?.endsWith('/initrd.img'));
      const root = at((e) => e.kind === 'http' && !!e.path?.endsWith('/root.squashfs'));
      const up = (upAt[m.name]! - started) / 1000;
      console.log(`boot ${m.name} (${m.nic}): up in ${up.toFixed(1)} s: first DHCP ack ${dhcp.toFixed(1)} s, kernel+initrd fetched ${kernel.toFixed(1)} s, root image fetched ${root.toFixed(1)} s, init ${(up - root).toFixed(1)} s`);
      assert.ok(Number.isFinite(dhcp) && Number.isFinite(kernel) && Number.isFinite(root), `events for ${m.name}: ${JSON.stringify(mine)}`);
    }
  });

  test('a Xen dom0 boots diskless: hypervisor, dom0 kernel and initrd by iPXE multiboot, same read-only root + RAM overlay', async () => {
    builtXen(images); // the run's one xen-dom0 build, shared with xen-uefi.test.ts
    // Under TCG the guest CPU must not offer SMAP, or dom0 faults on its first page fault.
    const started = Date.now();
    const m = watchOutput(startNode(ns, { tap: 'tap2', mac: '52:54:00:77:00:03', nic: 'e1000', memMb: 1536, cpu: 'max,-smap' }));
    const up = await m.waitFor(NODE_UP, 300_000, 'the Xen dom0 to come up');
    assert.is(up[1], 'dom0');
    assert.is(up[2], '10.77.0.13/24');
    assert.is(up[3], 'debian-bookworm-amd64-xen-dom0');
    assert.is(up[5], 'overlay');
    assert.is(up[6], 'squashfs,ro');
    assert.is(up[7], 'tmpfs');
    assert.match(up[8]!, /^xen:.*control_d/, 'the dom0 runs under Xen with control_d');
    assert.match(m.log(), /Xen version 4\.17/);
    console.log(`boot dom0 (xen, e1000): up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  test('a root image with the wrong sha256 stops the boot with a clear message and a retry loop, which recovers once it is right', async () => {
    // An image whose root.squashfs does not match its manifest (a bad copy on a replica).
    const good = join(images, 'debian-bookworm-amd64', readlinkSync(join(images, 'debian-bookworm-amd64', 'current')));
    const bad = join(images, 'broken', 'v1');
    mkdirSync(bad, { recursive: true });
    for (const f of ['vmlinuz', 'initrd.img', 'manifest.json']) copyFileSync(join(good, f), join(bad, f));
    const root = readFileSync(join(good, 'root.squashfs'));
    root.writeUInt8(root.readUInt8(root.length >> 1) ^ 0xff, root.length >> 1);
    writeFileSync(join(bad, 'root.squashfs'), root);
    symlinkSync('v1', join(images, 'broken', 'current'));

    const m = watchOutput(startNode(ns, { tap: taps[NODES.length + 1]!, mac: '52:54:00:77:00:04', nic: 'virtio' }));
    await m.waitFor(/diskless: sha256 mismatch for http:\/\/10\.77\.0\.1\/images\/broken\/v1\/root\.squashfs/, 240_000, 'the sha256 mismatch message');
    await m.waitFor(/diskless: ERROR: could not get a good root image from: .*\ndiskless: retrying in 10 s/, 30_000, 'the retry message');
    const failing = (await clusterUntil(ns, (v) => !!v.nodes.find((n) => n.name === 'node04')?.failed, 20_000)).nodes.find((n) => n.name === 'node04')!;
    assert.is(failing.failed, true, JSON.stringify(failing));
    assert.match(failing.failures.find((f) => f.kind === 'sha256')?.message ?? '', /^sha256 mismatch for http:\/\/10\.77\.0\.1\/images\/broken\/v1\/root\.squashfs: refused/);
    assert.not.match(m.log(), /Kernel panic/);
    // Repair the replica's copy; the waiting node picks it up on its next try.
    copyFileSync(join(good, 'root.squashfs'), join(bad, 'root.squashfs.new'));
    renameSync(join(bad, 'root.squashfs.new'), join(bad, 'root.squashfs'));
    const up = await m.waitFor(NODE_UP, 240_000, 'node04 to come up after the repair');
    assert.is(up[1], 'node04');
    assert.is(up[2], '10.77.0.14/24');
  });

  /** Replicas in namespaces of their own on one bridge, with tap `tap` for a node; each serves a copy of the images. */
  async function replicasOnHub(tag: string, ips: string[], inv: string, tap: string) {
    const topo = hubTopology(ips.map((ip) => `${ip}/24`));
    try {
      topo.hub.exec(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      topo.hub.exec(['ip', 'link', 'set', tap, 'master', 'br0']);
      topo.hub.exec(['ip', 'link', 'set', tap, 'up']);
      startRadvd(topo.replicas[1]!, 'eth0', join(work, `radvd-${tag}.conf`));
      const serves = await Promise.all(topo.replicas.map(async (ns, i) => {
        const dir = join(work, `${tag}${i}`);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'cluster.yaml'), inv);
        await signFile(join(dir, 'cluster.yaml'), await loadPrivateKey(runKeys().key));
        cpSync(join(images, 'debian-bookworm-amd64'), join(dir, 'images', 'debian-bookworm-amd64'), { recursive: true, verbatimSymlinks: true });
        const child = ns.spawn(
          ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', join(dir, 'cluster.yaml'), '--images', join(dir, 'images'),
            '--address', ips[i]!, '--sync-interval', '0', '--lease-file', join(dir, 'leases.json'), '--log-format', 'json', '--trust', runKeys().pub],
          { cwd: projectRoot() },
        );
        return { ns, dir, child, out: watchOutput(child) };
      }));
      await Promise.all(serves.map((s, i) => s.out.waitFor(/serving cluster/, 30_000, `replica ${i}`)));
      return { topo, serves };
    } catch (err) {
      await topo.destroy();
      throw err;
    }
  }

  test('a replica serving other root bytes (same manifest and size) is refused against the sha256 built into the initrd; the node comes up from the next', async () => {
    const imageDir = join(images, 'debian-bookworm-amd64');
    const version = readlinkSync(join(imageDir, 'current'));
    const bad = readFileSync(join(imageDir, version, 'root.squashfs'));
    bad.writeUInt8(bad.readUInt8(bad.length >> 1) ^ 0xff, bad.length >> 1);
    // The inventory an attacker forged: kernelArgs that point the root elsewhere, with its hash.
    const forged = `diskless.root=http://10.79.0.66/evil.squashfs diskless.sha256=${createHash('sha256').update(bad).digest('hex')}`;
    const ips = ['10.79.0.1', '10.79.0.2'];
    const mac = '52:54:00:79:00:06';
    const inv = `cluster: trust\nnetwork:\n  subnet: 10.79.0.0/24\nservers: [${ips.join(', ')}]\ndefaults: { image: debian-bookworm-amd64 }\nnodes:\n  - { name: node06, mac: "${mac}", ip: 10.79.0.16, kernelArgs: "${forged}" }\n`;
    const { topo, serves } = await replicasOnHub('trust', ips, inv, 'tapt');
    try {
      // The replicas the node will fetch from, in its order, once both replicas list both.
      const script = `/boot/${mac.replace(/:/g, '-')}.ipxe`;
      let order: string[] = [];
      for (let i = 0; i < 60 && order.length < 2; i++) {
        const lists = serves.map((s, j) => /diskless\.servers=(\S+)/.exec(s.ns.exec(['curl', '-sf', `http://${ips[j]}${script}`], { allowFail: true }).stdout)?.[1] ?? '');
        if (lists[0] === lists[1]) order = lists[0]!.split(',').filter(Boolean);
        if (order.length < 2) await new Promise((r) => setTimeout(r, 1000));
      }
      assert.is(order.length, 2, 'both replicas list both in the boot script');
      const first = order[0]!.split(':')[0]!;
      const evil = serves[ips.indexOf(first)]!;
      const goodIp = ips[1 - ips.indexOf(first)]!;
      const good = serves[ips.indexOf(goodIp)]!;
      // The first replica in the node's order serves other bytes of the same size, beside the untouched manifest.
      const evilVersion = join(evil.dir, 'images', 'debian-bookworm-amd64', version);
      writeFileSync(join(evilVersion, 'root.squashfs.new'), bad);
      renameSync(join(evilVersion, 'root.squashfs.new'), join(evilVersion, 'root.squashfs'));
      assert.ok(readFileSync(join(evilVersion, 'manifest.json')).equals(readFileSync(join(imageDir, version, 'manifest.json'))), 'same manifest');

      const m = watchOutput(startNode(topo.hub, { tap: 'tapt', mac, nic: 'virtio' }));
      await m.waitFor(/diskless: ignoring diskless\.root=http:\/\/10\.79\.0\.66\/evil\.squashfs diskless\.sha256=[0-9a-f]{64}: diskless\.image=\S+ is named/, 240_000, 'the forged kernelArgs ignored');
      const rootUrl = (ip: string) => `http://${ip}/images/debian-bookworm-amd64/${version}/root.squashfs`.replace(/\./g, '\\.');
      await m.waitFor(new RegExp(`diskless: sha256 mismatch for ${rootUrl(first)}: refused`), 240_000, `the root from ${first} refused`);
      await m.waitFor(new RegExp(`diskless: fetching root image from ${rootUrl(goodIp)}`), 60_000, 'the fallback to the good replica');
      const up = await m.waitFor(NODE_UP, 240_000, 'node06 to come up from the good replica');
      assert.is(up[1], 'node06');
      assert.is(up[2], '10.79.0.16/24');
      assert.is(up[6], 'squashfs,ro');
      const rootServed = /"path":"\/images\/debian-bookworm-amd64\/[^"]+\/root\.squashfs","status":200/;
      assert.match(evil.out.log(), rootServed, 'the node fetched the forged root');
      assert.match(good.out.log(), rootServed, 'and then the good one');
      for (const s of serves) assert.not.match(s.out.log(), /"path":"[^"]*\.sha256"/, 'no replica was asked for a hash');
      console.log(`trust: the root from ${first} (other bytes, same manifest) was refused; node06 booted from the other replica`);
    } finally {
      await topo.destroy();
    }
  });

  test('no master: a node boots although the replica that answered its DHCP is killed before the kernel fetch', async () => {
    // Two replicas, each in its own namespace, on one bridge with the node's tap.
    const ips = ['10.78.0.1', '10.78.0.2'];
    const inv = `cluster: duo\nnetwork:\n  subnet: 10.78.0.0/24\nservers: [${ips.join(', ')}]\ndefaults: { image: debian-bookworm-amd64 }\nnodes:\n  - { name: node05, mac: "52:54:00:78:00:05", ip: 10.78.0.15 }\n`;
    const { topo, serves } = await replicasOnHub('duo', ips, inv, 'tapf');
    try {
      const m = watchOutput(startNode(topo.hub, { tap: 'tapf', mac: '52:54:00:78:00:05', nic: 'virtio' }));
      // Whichever replica ACKs the node and hands it its boot script is killed right after.
      const which = await Promise.race(
        serves.map((s, i) => s.out.waitFor(/"kind":"http".*"path":"\/boot\/52-54-00-78-00-05\.ipxe","status":200/, 120_000, `the script fetch from replica ${i}`).then(() => i)),
      );
      process.kill(serves[which]!.child.pid!, 'SIGKILL');
      const up = await m.waitFor(NODE_UP, 240_000, 'node05 to come up with one replica dead');
      assert.is(up[1], 'node05');
      assert.is(up[2], '10.78.0.15/24');
      const survivor = serves[1 - which]!.out.log();
      assert.match(survivor, /"path":"\/images\/debian-bookworm-amd64\/[^"]+\/root\.squashfs","status":200/, 'the survivor served the root image');
      console.log(`failover: replica ${ips[which]} answered DHCP and was killed after the script; node05 booted from ${ips[1 - which]}`);
    } finally {
      await topo.destroy();
    }
  });
}

test.run();
