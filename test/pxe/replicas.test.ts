// Three real `diskless serve` replicas, each in its own network namespace on one
// bridge: an image built on one appears, verified, on the others; a corrupted copy is
// never taken; a newer inventory spreads to all.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubTopology } from '../../host/bridge.js';
import { netnsAvailable } from '../../host/netns.js';
import { watchOutput } from '../../host/output.js';
import { makeImages } from '../../tools/images.js';
import { projectRoot } from '../../lib/paths.js';
import { need } from '../helpers/need.js';

const skip = netnsAvailable();
const IPS = ['10.77.0.1', '10.77.0.2', '10.77.0.3'];
const inventory = (version: number, extra = '') => `cluster: trio
version: ${version}
network:
  subnet: 10.77.0.0/24
servers: [${IPS.join(', ')}]
defaults: { image: debian-bookworm-amd64 }
nodes:
  - { name: node01, mac: "52:54:00:77:00:01", ip: 10.77.0.11 }${extra}
`;
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

test('three replicas: an image spreads verified, a corrupted copy never does, a newer inventory spreads', async () => {
  need(skip);
  const work = mkdtempSync(join(tmpdir(), 'dl-trio-'));
  const img = makeImages({ rootBytes: 2_000_000 });
  const topo = hubTopology(IPS.map((ip) => `${ip}/24`));
  try {
    const dirs = IPS.map((_, i) => {
      const d = join(work, `r${i}`);
      mkdirSync(join(d, 'images'), { recursive: true });
      writeFileSync(join(d, 'cluster.yaml'), inventory(1));
      return d;
    });
    // The image is built on replica 0 only.
    cpSync(img.root, join(dirs[0]!, 'images'), { recursive: true, verbatimSymlinks: true });
    const children = topo.replicas.map((ns, i) =>
      ns.spawn(
        ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', join(dirs[i]!, 'cluster.yaml'), '--images', join(dirs[i]!, 'images'),
          '--no-dhcp', '--no-tftp', '--address', IPS[i]!, '--sync-interval', '1', '--dead-after', '4', '--lease-file', join(dirs[i]!, 'leases.json'), '--log-format', 'json'],
        { cwd: projectRoot() },
      ),
    );
    const outs = children.map((c) => watchOutput(c));
    await Promise.all(outs.map((o, i) => o.waitFor(/serving cluster trio/, 30_000, `replica ${i}`)));

    // 1. The image appears, verified, on replicas 1 and 2.
    for (const i of [1, 2]) {
      await outs[i]!.waitFor(new RegExp(`image ${img.name}/${img.version} pulled from 10\\.77\\.0\\.\\d, every artifact verified`), 30_000, `replica ${i} pulling the image`);
      for (const f of ['vmlinuz', 'initrd.img', 'root.squashfs', 'manifest.json']) {
        assert.is(sha(join(dirs[i]!, 'images', img.name, img.version, f)), sha(join(img.dir, f)), `replica ${i} ${f}`);
      }
    }

    // 2. A new version whose root image is corrupted on replica 0 is never taken.
    const bad = join(dirs[0]!, 'images', img.name, '20990101-000000');
    cpSync(join(dirs[0]!, 'images', img.name, img.version), bad, { recursive: true });
    writeFileSync(join(bad, 'manifest.json'), JSON.stringify({ ...img.manifest, version: '20990101-000000' }));
    const root = readFileSync(join(bad, 'root.squashfs'));
    root.writeUInt8(root.readUInt8(1000) ^ 1, 1000);
    writeFileSync(join(bad, 'root.squashfs'), root);
    for (const i of [1, 2]) {
      await outs[i]!.waitFor(/image debian-bookworm-amd64\/20990101-000000 from 10\.77\.0\.1 not taken: root\.squashfs .* is corrupted/, 30_000, `replica ${i} refusing the corrupted copy`);
      assert.not.ok(existsSync(join(dirs[i]!, 'images', img.name, '20990101-000000')), `replica ${i} has no corrupted version`);
    }

    // 3. A newer inventory written on replica 2 spreads to 0 and 1.
    const v2 = inventory(2, '\n  - { name: node02, mac: "52:54:00:77:00:02", ip: 10.77.0.12 }');
    writeFileSync(join(dirs[2]!, 'cluster.yaml.new'), v2);
    renameSync(join(dirs[2]!, 'cluster.yaml.new'), join(dirs[2]!, 'cluster.yaml'));
    for (const i of [0, 1]) {
      await outs[i]!.waitFor(/inventory version 2 adopted from 10\.77\.0\.\d/, 30_000, `replica ${i} adopting inventory v2`);
      assert.is(readFileSync(join(dirs[i]!, 'cluster.yaml'), 'utf8'), v2);
    }

    // 4. Boot scripts list the live replicas: all three, then, once replica 2 has been
    //    silent for --dead-after, only the two left.
    const script = () => topo.replicas[1]!.exec(['curl', '-sf', '--max-time', '5', 'http://10.77.0.1/boot/52-54-00-77-00-01.ipxe']).stdout;
    const listed = () => /diskless\.servers=(\S+)/.exec(script())?.[1]?.split(',').sort();
    assert.equal(listed(), IPS, 'every replica while all answer');
    process.kill(children[2]!.pid!, 'SIGKILL');
    const killedAt = Date.now();
    while (listed()?.length !== 2 && Date.now() - killedAt < 20_000) await new Promise((r) => setTimeout(r, 250));
    assert.equal(listed(), IPS.slice(0, 2), 'the dead replica is left out');
    // Its last heartbeat answer was up to one interval (4/3 s) before the kill.
    assert.ok(Date.now() - killedAt >= 2500, 'not before --dead-after');
    console.log(`boot scripts dropped the dead replica ${((Date.now() - killedAt) / 1000).toFixed(1)} s after it was killed (--dead-after 4)`);
  } finally {
    await topo.destroy();
  }
});

test.run();
