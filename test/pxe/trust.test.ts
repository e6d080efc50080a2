// Trust, attacked as on a real boot network: fake replicas at servers: addresses (each
// in its own network namespace) offer a higher-version inventory unsigned and one
// signed with another key, forged image manifests, a signed manifest replayed under a
// new version, and a 20 MB stream for a 10-byte artifact. A real `diskless serve
// --trust` refuses each, logs what and from where, writes nothing, and serves its own
// inventory and images unchanged; its own file is taken only signed, at every reload.
// A new replica --join'ing with --trust skips the fakes that answer first.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubTopology } from '../../host/bridge.js';
import { netnsAvailable, type Netns } from '../../host/netns.js';
import { watchOutput } from '../../host/output.js';
import { generateKeys, signFile } from '../../lib/sign.js';
import { makeImages } from '../../tools/images.js';
import type { FakeReplicaSpec } from '../../tools/fake-replica.js';
import { projectRoot } from '../../lib/paths.js';
import { need } from '../helpers/need.js';

const skip = netnsAvailable();
const IPS = ['10.77.0.1', '10.77.0.2', '10.77.0.3', '10.77.0.4'];
const inventory = (version: number, extra = '') => `cluster: signed
version: ${version}
network:
  subnet: 10.77.0.0/24
servers: [10.77.0.1, 10.77.0.2, 10.77.0.3]
defaults: { image: debian-bookworm-amd64${extra} }
nodes:
  - { name: node01, mac: "52:54:00:77:00:01", ip: 10.77.0.11 }
`;
const tree = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => !p.split('/').some((s) => s === '.lock')).sort() : [];

function serve(ns: Netns, dir: string, args: string[]) {
  return ns.spawn(
    ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', join(dir, 'cluster.yaml'), '--images', join(dir, 'images'),
      '--no-dhcp', '--no-tftp', '--sync-interval', '1', '--lease-file', join(dir, 'leases.json'), ...args],
    { cwd: projectRoot() },
  );
}

function fake(ns: Netns, dir: string, spec: FakeReplicaSpec) {
  writeFileSync(join(dir, 'spec.json'), JSON.stringify({ ...spec, address: '0.0.0.0', port: 80 }));
  return ns.spawn(['node', '--import', 'tsx/esm', join(projectRoot(), 'tools/fake-replica.ts'), join(dir, 'spec.json')], { cwd: projectRoot() });
}

test('--trust: forged inventories and images from fake replicas are refused and logged; nothing is written; --join skips them', async () => {
  need(skip);
  const work = mkdtempSync(join(tmpdir(), 'dl-trust-'));
  const topo = hubTopology(IPS.map((ip) => `${ip}/24`));
  const ours = generateKeys();
  const theirs = generateKeys();
  const key = createPrivateKey(ours.privatePem);
  const otherKey = createPrivateKey(theirs.privatePem);
  const pub = join(work, 'diskless.pub');
  writeFileSync(pub, ours.publicPem);
  const [r1, f2, f3, r4] = IPS.map((_, i) => {
    const d = join(work, `n${i + 1}`);
    mkdirSync(join(d, 'images'), { recursive: true });
    return d;
  }) as [string, string, string, string];
  try {
    // The real replica: a signed inventory and a signed image.
    writeFileSync(join(r1, 'cluster.yaml'), inventory(1));
    await signFile(join(r1, 'cluster.yaml'), key);
    const img = makeImages();
    await signFile(join(img.dir, 'manifest.json'), key);
    cpSync(img.root, join(r1, 'images'), { recursive: true, verbatimSymlinks: true });
    // A second signed image the real replica lacks: fake 2 replays its real manifest but streams 20 MB for a 10-byte root.
    const tiny = makeImages({ name: 'tiny', rootBytes: 10 });
    await signFile(join(tiny.dir, 'manifest.json'), key);

    // Fake 2: an unsigned inventory at the highest version, an unsigned forged image made current.
    writeFileSync(join(f2, 'cluster.yaml'), inventory(9007199254740991, ', kernelArgs: "diskless.root=http://10.77.0.2/evil"'));
    const forged = join(f2, 'images', img.name, '99999999-999999');
    cpSync(img.dir, forged, { recursive: true });
    rmSync(join(forged, 'manifest.json.sig'));
    writeFileSync(join(forged, 'manifest.json'), JSON.stringify({ ...img.manifest, version: '99999999-999999' }));
    cpSync(tiny.root, join(f2, 'images'), { recursive: true, verbatimSymlinks: true });
    const spec2: FakeReplicaSpec = { inventoryFile: join(f2, 'cluster.yaml'), imagesDir: join(f2, 'images'), streams: { [`/images/tiny/${tiny.version}/root.squashfs`]: 20 * 1024 * 1024 } };
    const fake2 = fake(topo.replicas[1]!, f2, spec2);

    // Fake 3: an inventory and a forged manifest signed with another key, and our real signed manifest replayed as a newer version.
    writeFileSync(join(f3, 'cluster.yaml'), inventory(9007199254740990));
    await signFile(join(f3, 'cluster.yaml'), otherKey);
    const other = join(f3, 'images', img.name, '99999999-999998');
    cpSync(img.dir, other, { recursive: true });
    writeFileSync(join(other, 'manifest.json'), JSON.stringify({ ...img.manifest, version: '99999999-999998' }));
    await signFile(join(other, 'manifest.json'), otherKey);
    cpSync(img.dir, join(f3, 'images', img.name, '99999999-999997'), { recursive: true });
    fake(topo.replicas[2]!, f3, { inventoryFile: join(f3, 'cluster.yaml'), inventorySigFile: join(f3, 'cluster.yaml.sig'), imagesDir: join(f3, 'images') });

    const before = { inv: readFileSync(join(r1, 'cluster.yaml')), sig: readFileSync(join(r1, 'cluster.yaml.sig')), images: tree(join(r1, 'images')) };
    const out = watchOutput(serve(topo.replicas[0]!, r1, ['--address', IPS[0]!, '--trust', pub]));
    await out.waitFor(/serving cluster signed as 10\.77\.0\.1/, 30_000, 'the real replica');
    assert.not.match(out.log(), /no --trust key/, 'no unsigned-mode warning with --trust');
    for (const [re, what] of [
      [/inventory from 10\.77\.0\.2 refused: not signed \(no \/inventory\.sig\)/, 'the unsigned inventory'],
      [new RegExp(`inventory from 10\\.77\\.0\\.3 refused: signed by key ${theirs.id}, trusted key is ${ours.id}; nothing written`), 'the inventory signed with another key'],
      [/image debian-bookworm-amd64\/99999999-999999 from 10\.77\.0\.2 not taken: manifest\.json .* is not signed/, 'the unsigned forged image'],
      [new RegExp(`image debian-bookworm-amd64/99999999-999998 from 10\\.77\\.0\\.3 not taken: manifest\\.json\\.sig .*: signed by key ${theirs.id}, trusted key is ${ours.id}`), 'the forged manifest signed with another key'],
      [/image debian-bookworm-amd64\/99999999-999997 from 10\.77\.0\.3 not taken: manifest\.json served as .*99999999-999997 by 10\.77\.0\.3 describes debian-bookworm-amd64\/20260101-000000/, 'the replayed manifest'],
      [new RegExp(`image tiny/${tiny.version} from 10\\.77\\.0\\.2 not taken: .*root\\.squashfs`), 'the 20 MB stream for a 10-byte root'],
    ] as const) {
      await out.waitFor(re, 30_000, `the refusal of ${what}`);
    }
    // Another full round, then nothing may have changed.
    const rounds = (out.log().match(/inventory from 10\.77\.0\.2 refused/g) ?? []).length;
    while ((out.log().match(/inventory from 10\.77\.0\.2 refused/g) ?? []).length < rounds + 2) await new Promise((r) => setTimeout(r, 200));
    // A pull of tiny/ may be in flight (its staging is private until verified): end fake 2, and with it that stream.
    fake2.kill('SIGTERM');
    for (let i = 0; i < 100 && JSON.stringify(tree(join(r1, 'images'))) !== JSON.stringify(before.images); i++) await new Promise((r) => setTimeout(r, 200));
    assert.ok(readFileSync(join(r1, 'cluster.yaml')).equals(before.inv), 'inventory file unchanged');
    assert.ok(readFileSync(join(r1, 'cluster.yaml.sig')).equals(before.sig), 'its signature unchanged');
    assert.equal(tree(join(r1, 'images')), before.images, 'images folder unchanged: no forged version, no staging, no tiny/');
    const curl = (path: string) => topo.replicas[3]!.exec(['curl', '-sf', '--max-time', '5', `http://10.77.0.1${path}`]).stdout;
    assert.is(curl('/inventory'), inventory(1), 'the real inventory is served');
    assert.is(curl('/inventory.sig'), before.sig.toString());
    assert.is(JSON.parse(curl('/status')).inventory.version, 1);
    assert.is(curl(`/images/${img.name}/current/manifest.json`), readFileSync(join(img.dir, 'manifest.json'), 'utf8'), 'current is still the real image');

    // The local file: an unsigned edit is refused at reload; signed, it is taken.
    writeFileSync(join(r1, 'cluster.yaml'), inventory(2));
    await out.waitFor(/inventory reload \(file changed\) failed; still serving version 1 [^\n]*:\n[^\n]*refused: [^\n]*cluster\.yaml\.sig: signature by key [0-9a-f]+ does not match the bytes/, 10_000, 'the unsigned local edit refused');
    assert.is(curl('/inventory'), inventory(1));
    await signFile(join(r1, 'cluster.yaml'), key);
    await out.waitFor(/inventory reloaded \([^)]*\): cluster signed version 2/, 10_000, 'the signed edit taken');
    assert.is(curl('/inventory'), inventory(2));

    // A new replica joins with --trust (fake 2 is back): the fakes answer first and are refused; the real one is taken.
    const fake2again = watchOutput(fake(topo.replicas[1]!, f2, spec2));
    await fake2again.waitFor(/fake replica listening/, 30_000, 'fake 2 again');
    const joiner = watchOutput(serve(topo.replicas[3]!, r4, ['--address', IPS[3]!, '--trust', pub, '--join', '10.77.0.2,10.77.0.3,10.77.0.1']));
    await joiner.waitFor(/join: inventory from 10\.77\.0\.2 refused: not signed/, 30_000, 'the joiner refusing fake 2');
    await joiner.waitFor(new RegExp(`join: inventory from 10\\.77\\.0\\.3 refused: signed by key ${theirs.id}, trusted key is ${ours.id}`), 30_000, 'the joiner refusing fake 3');
    await joiner.waitFor(/joined cluster signed \(inventory version 2\) from 10\.77\.0\.1/, 30_000, 'the joiner taking the real replica');
    assert.is(readFileSync(join(r4, 'cluster.yaml'), 'utf8'), inventory(2));
    assert.ok(readFileSync(join(r4, 'cluster.yaml.sig')).equals(readFileSync(join(r1, 'cluster.yaml.sig'))), 'saved with its signature');
    await joiner.waitFor(new RegExp(`image ${img.name}/${img.version} pulled from 10\\.77\\.0\\.1, every artifact verified, manifest signed by key ${ours.id}`), 30_000, 'the joiner pulling the real image');
    assert.ok(existsSync(join(r4, 'images', img.name, img.version, 'manifest.json.sig')), 'the image kept with its signature');
    assert.not.ok(existsSync(join(r4, 'images', img.name, '99999999-999999')));
  } finally {
    await topo.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});

test('without --trust: one warning at start, and serve works as before', async () => {
  need(skip);
  const work = mkdtempSync(join(tmpdir(), 'dl-notrust-'));
  const topo = hubTopology(['10.77.0.1/24']);
  try {
    writeFileSync(join(work, 'cluster.yaml'), inventory(1).replace(/servers: .*/, 'servers: [10.77.0.1]'));
    mkdirSync(join(work, 'images'));
    const out = watchOutput(serve(topo.replicas[0]!, work, ['--address', '10.77.0.1']));
    await out.waitFor(/serving cluster signed as 10\.77\.0\.1/, 30_000, 'serve');
    assert.is((out.log().match(/no --trust key/g) ?? []).length, 1, out.log());
  } finally {
    await topo.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});

test('serve --trust refuses to start on an unsigned or wrongly signed inventory, and on a private key as --trust', async () => {
  const work = mkdtempSync(join(tmpdir(), 'dl-trust-start-'));
  try {
    const k = generateKeys();
    writeFileSync(join(work, 'diskless.pub'), k.publicPem);
    writeFileSync(join(work, 'diskless.key'), k.privatePem);
    writeFileSync(join(work, 'cluster.yaml'), inventory(1));
    const run = (trust: string) =>
      spawnSync(process.execPath, ['--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', join(work, 'cluster.yaml'), '--images', join(work, 'images'),
        '--no-dhcp', '--no-tftp', '--http-port', '0', '--address', '127.0.0.1', '--lease-file', join(work, 'leases.json'), '--trust', join(work, trust)], { cwd: projectRoot(), encoding: 'utf8', timeout: 60_000 });
    const unsigned = run('diskless.pub');
    assert.is(unsigned.status, 1);
    assert.match(unsigned.stderr, /inventory .*cluster\.yaml refused: .*cluster\.yaml is not signed \(no .*cluster\.yaml\.sig\); sign it with diskless sign/);
    await signFile(join(work, 'cluster.yaml'), createPrivateKey(generateKeys().privatePem));
    const wrong = run('diskless.pub');
    assert.is(wrong.status, 1);
    assert.match(wrong.stderr, new RegExp(`signed by key [0-9a-f]{16}, trusted key is ${k.id}`));
    const priv = run('diskless.key');
    assert.is(priv.status, 1);
    assert.match(priv.stderr, /diskless\.key is a private key: give replicas the public half/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test.run();
