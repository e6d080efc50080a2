// The one version order, as a table, and the proof that publish (--keep), replica sync
// (which version becomes current) and root-image reuse (newest first) all follow it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareVersions, isNewer, sortVersions, versionCandidate, versionFor } from '../../store/version.js';
import { createStaging, pointCurrent, pruneVersions } from '../../store/publish.js';
import { currentVersion, listVersions } from '../../store/layout.js';
import { heldImages } from '../../store/held.js';
import { resolveImage } from '../../store/resolve.js';
import { sha256Hex } from '../../store/hash.js';
import type { Manifest } from '../../store/manifest.js';
import { findReusable } from '../../builders/steps/rootimage.js';
import { syncOnce } from '../../pxe/replica/sync.js';
import { parseInventory } from '../../cluster/inventory.js';
import { memoryLogger } from '../../lib/log.js';
import { projectRoot } from '../../lib/paths.js';
import { sample } from '../helpers/inventory.js';

const T = '20261123-141502';

// [older, newer]
const ORDER: [string, string, string][] = [
  ['x-9', 'x-10', 'digit runs compare as numbers'],
  [`${T}.9`, `${T}.10`, 'the 9th and 10th build of one second'],
  [T, `${T}.2`, 'the first build of a second, then the second'],
  [`${T}.2`, `${T}.3`, 'same-second builds in build order'],
  [`${T}.12`, '20261123-141503', 'a later second beats any same-second suffix'],
  ['20261123-235959', '20261124-000000', 'midnight'],
  ['20261231-235959', '20270101-000000', 'new year'],
  ['v1.2', 'v1.10', 'dotted numbers'],
  ['a', 'b', 'names without digits: plain order'],
];

test('the order, as a table: older before newer, both ways round', () => {
  for (const [older, newer, why] of ORDER) {
    assert.ok(compareVersions(older, newer) < 0, `${older} < ${newer}: ${why}`);
    assert.ok(compareVersions(newer, older) > 0, `${newer} > ${older}: ${why}`);
    assert.is(compareVersions(older, older), 0);
    assert.ok(isNewer(newer, older) && !isNewer(older, newer), why);
  }
  assert.ok(isNewer(T, undefined), 'anything is newer than no current');
  assert.not.ok(isNewer(T, T), 'the same version is not newer');
});

test('same-second builds: the timestamp, then .2, .3, ... sort in build order', async () => {
  const now = new Date('2026-11-23T14:15:02.345Z');
  assert.is(versionFor(now), T);
  const names = Array.from({ length: 12 }, (_, i) => versionCandidate(now, i + 1));
  assert.equal(names.slice(0, 3), [T, `${T}.2`, `${T}.3`]);
  assert.equal(sortVersions([...names].reverse()), names);
  // createStaging picks the next unused name, as two builds in one second do.
  const imageDir = mkdtempSync(join(tmpdir(), 'dl-version-'));
  try {
    const got: string[] = [];
    for (let i = 0; i < 11; i++) {
      const s = await createStaging(imageDir, now);
      mkdirSync(join(imageDir, s.version));
      got.push(s.version);
    }
    assert.equal(got, names.slice(0, 11));
    assert.equal(await listVersions(imageDir), names.slice(0, 11));
  } finally {
    rmSync(imageDir, { recursive: true, force: true });
  }
});

/** An image folder with these versions, each with a manifest; `current` -> `current`. */
function store(versions: string[], current?: string, rootInputs = 'same-inputs') {
  const root = mkdtempSync(join(tmpdir(), 'dl-version-'));
  const dir = join(root, 'img');
  for (const v of versions) {
    mkdirSync(join(dir, v), { recursive: true });
    const data = Buffer.from(`root of ${v}`);
    writeFileSync(join(dir, v, 'root.squashfs'), data);
    const m = {
      schema: 1, name: 'img', version: v, distro: 'debian', suite: 'bookworm', arch: 'amd64', kernelVersion: 'k', cmdline: '',
      templateHash: 'x', rootFormat: 'squashfs', initrdCompression: 'zstd', initrdModules: [], initrdBuiltin: [],
      bootstrap: { method: 'test', sourceHash: '' }, rootInputs, builtAt: '', builder: 'test',
      artifacts: { root: { file: 'root.squashfs', size: data.length, sha256: sha256Hex(data) } },
    } satisfies Manifest;
    writeFileSync(join(dir, v, 'manifest.json'), JSON.stringify(m));
  }
  if (current) symlinkSync(current, join(dir, 'current'));
  return { root, dir };
}

test('current resolution: `name` is what current points at, `name/version` is pinned; pointCurrent moves it', async () => {
  const s = store([`${T}.9`, `${T}.10`], `${T}.9`);
  try {
    assert.is((await resolveImage(s.root, 'img')).version, `${T}.9`);
    assert.is((await resolveImage(s.root, `img/${T}.10`)).version, `${T}.10`);
    await pointCurrent(s.dir, `${T}.10`);
    assert.is(await currentVersion(s.dir), `${T}.10`);
    assert.is((await resolveImage(s.root, 'img')).version, `${T}.10`);
    assert.equal((await heldImages(s.root)).map((h) => [h.version, h.current]), [[`${T}.9`, false], [`${T}.10`, true]]);
    await resolveImage(s.root, 'other').then(
      () => assert.unreachable('an image with no current does not resolve'),
      (err: Error) => assert.match(err.message, /has no current version/),
    );
  } finally {
    rmSync(s.root, { recursive: true, force: true });
  }
});

test('publish: --keep removes the oldest by the one order (.2 ... .9 before .10, .11)', async () => {
  const versions = [T, ...Array.from({ length: 10 }, (_, i) => `${T}.${i + 2}`)];
  const s = store(versions, `${T}.11`);
  try {
    const removed = await pruneVersions(s.dir, 2);
    assert.equal(removed, versions.slice(0, -2));
    assert.equal(readdirSync(s.dir).sort(), [`${T}.10`, `${T}.11`, 'current']);
  } finally {
    rmSync(s.root, { recursive: true, force: true });
  }
});

test('root-image reuse: the newest matching version by the one order (.10, not .9)', async () => {
  const s = store([`${T}.9`, `${T}.10`]);
  try {
    const ctx = { opts: { outDir: s.root }, name: 'img', rootInputs: 'same-inputs', format: 'squashfs' } as Parameters<typeof findReusable>[0];
    assert.is((await findReusable(ctx))?.file, join(s.dir, `${T}.10`, 'root.squashfs'));
  } finally {
    rmSync(s.root, { recursive: true, force: true });
  }
});

/** A peer that announces and serves the versions under `root`, with our inventory. */
async function peer(root: string, inventoryHash: string): Promise<{ addr: string; close(): Promise<void> }> {
  const srv = http.createServer(async (req, res) => {
    if (req.url === '/status') return res.end(JSON.stringify({ inventory: { version: 0, hash: inventoryHash }, images: await heldImages(root) }));
    const m = /^\/images\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(req.url ?? '');
    if (!m || !existsSync(join(root, m[1]!, m[2]!, m[3]!))) return res.writeHead(404).end();
    res.end(readFileSync(join(root, m[1]!, m[2]!, m[3]!)));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { addr: `127.0.0.1:${(srv.address() as AddressInfo).port}`, close: () => new Promise((r) => srv.close(() => r())) };
}

test('sync: a pulled version becomes current only when newer by the one order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-version-sync-'));
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, sample);
  const inv = parseInventory(sample, file);
  // [peer's current, our current, our current after the pull]
  const cases: [string, string, string][] = [
    [`${T}.9`, `${T}.10`, `${T}.10`],
    [`${T}.10`, `${T}.9`, `${T}.10`],
    ['x-10', 'x-9', 'x-10'],
  ];
  try {
    for (const [theirs, ours, after] of cases) {
      const a = store([theirs], theirs);
      const b = store([ours], ours);
      const p = await peer(a.root, inv.hash);
      try {
        const r = await syncOnce({ peers: [p.addr], imagesDir: b.root, inventoryFile: file, inventory: () => inv, log: memoryLogger() });
        assert.equal(r.pulled, [`img/${theirs}`]);
        assert.is(readlinkSync(join(b.dir, 'current')), after, `peer current ${theirs}, ours ${ours}`);
      } finally {
        await p.close();
        rmSync(a.root, { recursive: true, force: true });
        rmSync(b.root, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('publish, sync and root-image reuse order versions with the one compareVersions', () => {
  const src = (f: string) => readFileSync(join(projectRoot(), f), 'utf8');
  // Each reaches the order through the store: listVersions / isNewer sort with compareVersions.
  assert.match(src('store/layout.ts'), /import \{ sortVersions \} from '\.\/version\.js'/);
  assert.match(src('store/version.ts'), /export function sortVersions[^}]*\.sort\(compareVersions\)/);
  assert.match(src('store/version.ts'), /export function isNewer[^}]*compareVersions\(/);
  assert.match(src('store/publish.ts'), /listVersions\(imageDir\)/);
  assert.match(src('store/pull.ts'), /isNewer\(img\.version/);
  assert.match(src('pxe/replica/sync.ts'), /from '\.\.\/\.\.\/store\/pull\.js'/);
  assert.match(src('builders/steps/rootimage.ts'), /listVersions\(imageDir\)\)\.reverse\(\)/);
  // And nothing else sorts or compares versions its own way.
  for (const f of ['store/publish.ts', 'store/pull.ts', 'store/held.ts', 'pxe/replica/sync.ts', 'builders/steps/rootimage.ts', 'builders/pipeline.ts']) {
    assert.not.match(src(f), /function compareVersions|\.sort\(\)|current\s*<|<\s*img\.version/, f);
  }
});

test.run();
