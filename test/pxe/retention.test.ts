// Retention that holds across replicas: three real `diskless serve --trust` replicas in
// network namespaces; one publishes four signed versions with --keep 2 (the store's
// publish and prune, as build-image does). Every replica ends holding exactly current
// plus the newest two, and none pulls a pruned version back, the publisher included.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubTopology } from '../../host/bridge.js';
import { netnsAvailable } from '../../host/netns.js';
import { watchOutput } from '../../host/output.js';
import { generateKeys, signFile } from '../../lib/sign.js';
import { projectRoot } from '../../lib/paths.js';
import { lockImage } from '../../store/lock.js';
import { publish, pruneVersions } from '../../store/publish.js';
import type { Manifest } from '../../store/manifest.js';
import { need } from '../helpers/need.js';

const skip = netnsAvailable();
const IPS = ['10.77.0.1', '10.77.0.2', '10.77.0.3'];
const NAME = 'debian-bookworm-amd64';
const V = [1, 2, 3, 4].map((n) => `2026010${n}-000000`);
const inventory = `cluster: kept
version: 1
network:
  subnet: 10.77.0.0/24
servers: [${IPS.join(', ')}]
defaults: { image: ${NAME} }
nodes:
  - { name: node01, mac: "52:54:00:77:00:01", ip: 10.77.0.11 }
`;

/** Build-image's last steps for one version: artifacts and a signed manifest saying keep 2, publish, prune. */
async function publishVersion(imageDir: string, version: string, key: ReturnType<typeof createPrivateKey>): Promise<string[]> {
  const out = join(imageDir, `.build-${version}`);
  mkdirSync(out, { recursive: true });
  const root = randomBytes(200_000);
  writeFileSync(join(out, 'root.squashfs'), root);
  const m = {
    schema: 1, name: NAME, version, distro: 'debian', suite: 'bookworm', arch: 'amd64', kernelVersion: 'k', cmdline: '', templateHash: 'x',
    rootFormat: 'squashfs', initrdCompression: 'zstd', initrdModules: [], initrdBuiltin: [], bootstrap: { method: 'test', sourceHash: '' },
    rootInputs: '', builtAt: '', builder: 'test', keep: 2,
    artifacts: { root: { file: 'root.squashfs', size: root.length, sha256: createHash('sha256').update(root).digest('hex') } },
  } satisfies Manifest;
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(m));
  await signFile(join(out, 'manifest.json'), key);
  const release = await lockImage(imageDir);
  try {
    await publish(imageDir, out, version);
    return await pruneVersions(imageDir, 2);
  } finally {
    await release();
  }
}

const held = (dir: string) => readdirSync(join(dir, 'images', NAME)).filter((n) => !n.startsWith('.') && n !== 'current').sort();

test('three replicas converge on current plus the newest two; a pruned version is never pulled back', async () => {
  need(skip);
  const work = mkdtempSync(join(tmpdir(), 'dl-keep-'));
  const topo = hubTopology(IPS.map((ip) => `${ip}/24`));
  const k = generateKeys();
  const key = createPrivateKey(k.privatePem);
  writeFileSync(join(work, 'diskless.pub'), k.publicPem);
  try {
    const dirs = IPS.map((_, i) => {
      const d = join(work, `r${i}`);
      mkdirSync(join(d, 'images', NAME), { recursive: true });
      writeFileSync(join(d, 'cluster.yaml'), inventory);
      return d;
    });
    for (const d of dirs) await signFile(join(d, 'cluster.yaml'), key);
    const outs = topo.replicas.map((ns, i) =>
      watchOutput(
        ns.spawn(
          ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', join(dirs[i]!, 'cluster.yaml'), '--images', join(dirs[i]!, 'images'),
            '--no-dhcp', '--no-tftp', '--address', IPS[i]!, '--sync-interval', '1', '--lease-file', join(dirs[i]!, 'leases.json'), '--trust', join(work, 'diskless.pub')],
          { cwd: projectRoot() },
        ),
      ),
    );
    await Promise.all(outs.map((o, i) => o.waitFor(/serving cluster kept/, 30_000, `replica ${i}`)));

    // Replica 0 publishes four times; each version reaches the other two before the next.
    const prunedAtSource: string[] = [];
    for (const v of V) {
      prunedAtSource.push(...(await publishVersion(join(dirs[0]!, 'images', NAME), v, key)));
      for (const i of [1, 2]) await outs[i]!.waitFor(new RegExp(`image ${NAME}/${v} pulled from 10\\.77\\.0\\.\\d`), 30_000, `replica ${i} pulling ${v}`);
    }
    assert.equal(prunedAtSource, [V[0], V[1]], 'the publisher pruned the two oldest');
    for (const i of [1, 2]) {
      for (const v of [V[0]!, V[1]!]) await outs[i]!.waitFor(new RegExp(`image ${NAME}/${v} pruned: the publisher keeps current plus the newest 2`), 30_000, `replica ${i} pruning ${v}`);
    }
    const start = Date.now();
    while (Date.now() - start < 2500) await new Promise((r) => setTimeout(r, 250)); // two --sync-interval 1 rounds
    for (const [i, d] of dirs.entries()) {
      assert.equal(held(d), [V[2], V[3]], `replica ${i} holds exactly current plus the newest two`);
      assert.is(readlinkSync(join(d, 'images', NAME, 'current')), V[3]);
      for (const v of [V[0]!, V[1]!]) {
        const pulls = outs[i]!.log().match(new RegExp(`image ${NAME}/${v} pulled`, 'g')) ?? [];
        assert.ok(pulls.length <= (i === 0 ? 0 : 1), `replica ${i} pulled ${v} ${pulls.length} times:\n${outs[i]!.log().slice(-3000)}`);
      }
    }
  } finally {
    await topo.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});

test.run();
