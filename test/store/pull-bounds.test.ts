// A pull from a hostile peer on loopback: a 20 MB stream for an artifact whose manifest
// says 10 bytes is cut early, leaves nothing in the images folder, and is not fetched
// again at the next sync; a peer that drips is given up at the deadline.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInventory } from '../../cluster/inventory.js';
import { memoryLogger } from '../../lib/log.js';
import { syncOnce } from '../../pxe/replica/sync.js';
import { heldImages } from '../../store/held.js';
import { pullVersion } from '../../store/pull.js';
import { TransferError } from '../../store/download.js';
import { makeImages } from '../../tools/images.js';
import { startFakePeer } from '../../tools/replica/fake-peer.js';
import { sample } from '../helpers/inventory.js';

const MB = 1024 * 1024;

function localSide() {
  const dir = mkdtempSync(join(tmpdir(), 'dl-pull-bounds-'));
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, sample);
  return { images: join(dir, 'images'), file, inv: () => parseInventory(readFileSync(file, 'utf8'), file) };
}

/** Files, and hidden folders (staging), left anywhere under the images folder; an empty image folder is fine. */
function leftIn(images: string): string[] {
  if (!existsSync(images)) return [];
  return readdirSync(images, { recursive: true, withFileTypes: true }).filter((d) => !d.isDirectory() || d.name.startsWith('.')).map((d) => d.name);
}

test('a 20 MB stream for a 10-byte artifact: refused early, nothing left, not fetched again at the next sync', async () => {
  const img = makeImages();
  const manifest = JSON.parse(readFileSync(join(img.dir, 'manifest.json'), 'utf8'));
  manifest.artifacts.root.size = 10;
  writeFileSync(join(img.dir, 'manifest.json'), JSON.stringify(manifest));
  const b = localSide();
  const peer = await startFakePeer({ imagesRoot: img.root, inventory: { version: 0, hash: b.inv().hash }, files: { 'root.squashfs': { kind: 'flood', bytes: 20 * MB } } });
  const rootUrl = `/images/${img.name}/${img.version}/root.squashfs`;
  try {
    const log = memoryLogger();
    const r = await syncOnce({ peers: [peer.peer], imagesDir: b.images, inventoryFile: b.file, inventory: b.inv, log });
    assert.equal(r.pulled, []);
    assert.equal(r.rejected, [`${img.name}/${img.version}`]);
    assert.ok(log.lines.some((l) => /not taken: .*root\.squashfs: more than the 10 bytes the manifest says \(\d+ received\)/.test(l)), log.lines.join('\n'));
    const received = Number(/\((\d+) received\)/.exec(log.lines.join('\n'))![1]);
    assert.ok(received <= 10 + 64 * 1024, `read ${received} bytes`);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok((peer.sent.get(rootUrl) ?? 0) < 20 * MB, `the peer sent only ${peer.sent.get(rootUrl)} bytes before it was cut off`);
    assert.equal(leftIn(b.images), [], 'nothing left in the images folder');
    assert.equal(await heldImages(b.images), []);

    // The next sync does not fetch it again: the version is held back from this peer.
    const again = await syncOnce({ peers: [peer.peer], imagesDir: b.images, inventoryFile: b.file, inventory: b.inv, log });
    assert.equal(again.rejected, [`${img.name}/${img.version}`]);
    assert.is(peer.requests.filter((u) => u === rootUrl).length, 1, peer.requests.join('\n'));
    assert.ok(log.lines.some((l) => /not taken: failed 1 time before; not asked again for \d+ s/.test(l)), log.lines.join('\n'));
  } finally {
    await peer.close();
  }
});

test('a peer that drips the root image is given up at the per-artifact deadline, leaving nothing', async () => {
  const img = makeImages({ rootBytes: 4096 });
  const held = (await heldImages(img.root))[0]!;
  const b = localSide();
  const peer = await startFakePeer({ imagesRoot: img.root, inventory: { version: 0, hash: b.inv().hash }, files: { 'root.squashfs': { kind: 'drip', everyMs: 10 } } });
  try {
    let err: unknown;
    await pullVersion({ peer: peer.peer, imagesUrl: `http://${peer.peer}/images`, timeoutMs: 10_000, limits: { floorMs: 400, minBytesPerSec: 1_000_000 } }, held, b.images).catch((e) => (err = e));
    assert.ok(err instanceof TransferError, String(err));
    assert.match((err as Error).message, /root\.squashfs: not finished within 405 ms/);
    assert.ok((err as TransferError).received < 4096);
    assert.equal(leftIn(b.images), [], 'nothing left in the images folder');
  } finally {
    await peer.close();
  }
});

test('a peer whose /status never ends is reported unreachable after the cap, and nothing is pulled', async () => {
  const img = makeImages();
  const b = localSide();
  const peer = await startFakePeer({ imagesRoot: img.root, inventory: { version: 0, hash: b.inv().hash }, endlessStatus: true });
  try {
    const log = memoryLogger();
    const r = await syncOnce({ peers: [peer.peer], imagesDir: b.images, inventoryFile: b.file, inventory: b.inv, log, timeoutMs: 30_000 });
    assert.equal(r.unreachable, [peer.peer]);
    assert.ok(log.lines.some((l) => /did not answer: .*passed the 8388608 bytes allowed/.test(l)), log.lines.join('\n'));
    assert.equal(r.pulled, []);
  } finally {
    await peer.close();
  }
});

test.run();
