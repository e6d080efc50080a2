// Replicas pull what they lack from each other: image versions, verified artifact by
// artifact against the manifest, and newer inventories. Two replicas on loopback.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startHttpServer, type HttpServer } from '../../pxe/http/server.js';
import { ImageStore } from '../../pxe/images.js';
import { parseInventory, type Inventory } from '../../cluster/inventory.js';
import { heldImages } from '../../store/held.js';
import { syncOnce } from '../../pxe/replica/sync.js';
import { defaultTemplatesDir } from '../../lib/paths.js';
import { memoryLogger } from '../../lib/log.js';
import { makeImages } from '../../tools/images.js';
import { sample } from '../helpers/inventory.js';

async function replica(imagesRoot: string, inv: () => Inventory): Promise<{ srv: HttpServer; peer: string }> {
  const srv = await startHttpServer({
    images: new ImageStore(imagesRoot, 0),
    inventory: inv,
    templatesDir: defaultTemplatesDir(),
    ipxeDir: '/usr/lib/ipxe',
    servers: () => [],
    address: '127.0.0.1',
    port: 0,
    status: async () => ({ images: await heldImages(imagesRoot) }),
  });
  return { srv, peer: `127.0.0.1:${srv.port}` };
}

function localSide(text = sample) {
  const dir = mkdtempSync(join(tmpdir(), 'dl-replica-b-'));
  const images = join(dir, 'images');
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, text);
  return { dir, images, file, inv: () => parseInventory(readFileSync(file, 'utf8'), file) };
}

test('an image built on one replica appears, verified, on another, and becomes its current', async () => {
  const a = makeImages({ rootBytes: 3_000_000 });
  const invA = parseInventory(sample, 'a.yaml');
  const { srv, peer } = await replica(a.root, () => invA);
  try {
    const b = localSide();
    const log = memoryLogger();
    const r = await syncOnce({ peers: [peer], imagesDir: b.images, inventoryFile: b.file, inventory: b.inv, log });
    assert.equal(r.pulled, [`${a.name}/${a.version}`]);
    const dir = join(b.images, a.name, a.version);
    for (const f of ['vmlinuz', 'initrd.img', 'root.squashfs', 'manifest.json']) assert.ok(readFileSync(join(dir, f)).equals(readFileSync(join(a.dir, f))), f);
    assert.is(readlinkSync(join(b.images, a.name, 'current')), a.version);
    assert.equal(readdirSync(join(b.images, a.name)).filter((n) => n.startsWith('.')), [], 'no staging left');
    // A second round has nothing to do.
    const again = await syncOnce({ peers: [peer], imagesDir: b.images, inventoryFile: b.file, inventory: b.inv, log });
    assert.equal(again.pulled, []);
  } finally {
    await srv.close();
  }
});

/** A replica on a slow link: every file trickles out in 64 KiB pieces `gapMs` apart; `stallAfter` bytes, then silence. */
async function slowReplica(imagesRoot: string, o: { gapMs: number; stallAfter?: number }): Promise<{ peer: string; close(): Promise<void> }> {
  const srv = http.createServer(async (req, res) => {
    if (req.url === '/status') return res.end(JSON.stringify({ inventory: { version: 0, hash: parseInventory(sample, 'x').hash }, images: await heldImages(imagesRoot) }));
    const m = /^\/images\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(req.url ?? '');
    if (!m || !existsSync(join(imagesRoot, m[1]!, m[2]!, m[3]!))) return res.writeHead(404).end();
    const data = readFileSync(join(imagesRoot, m[1]!, m[2]!, m[3]!));
    res.writeHead(200, { 'content-length': data.length });
    for (let off = 0; off < data.length; off += 65536) {
      if (o.stallAfter !== undefined && off >= o.stallAfter) return; // the peer goes silent, connection open
      res.write(data.subarray(off, off + 65536));
      await new Promise((r) => setTimeout(r, o.gapMs));
    }
    res.end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { peer: `127.0.0.1:${(srv.address() as AddressInfo).port}`, close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(() => r()); }) };
}

test('a slow link: a pull longer than the timeout succeeds while data flows; a peer gone silent is given up, leaving nothing', async () => {
  const a = makeImages({ rootBytes: 1_500_000 });
  const slow = await slowReplica(a.root, { gapMs: 60 });
  try {
    const b = localSide();
    const started = Date.now();
    const r = await syncOnce({ peers: [slow.peer], imagesDir: b.images, inventoryFile: b.file, inventory: b.inv, log: memoryLogger(), timeoutMs: 400 });
    assert.ok(Date.now() - started > 1000, 'the pull took longer than the 400 ms timeout');
    assert.equal(r.pulled, [`${a.name}/${a.version}`]);
  } finally {
    await slow.close();
  }
  const stalled = await slowReplica(a.root, { gapMs: 10, stallAfter: 300_000 });
  try {
    const b = localSide();
    const log = memoryLogger();
    const r = await syncOnce({ peers: [stalled.peer], imagesDir: b.images, inventoryFile: b.file, inventory: b.inv, log, timeoutMs: 400 });
    assert.equal(r.pulled, []);
    assert.ok(log.lines.some((l) => /not taken: .*no data for 400 ms/.test(l)), log.lines.join('\n'));
    assert.equal(existsSync(join(b.images, a.name)) ? readdirSync(join(b.images, a.name)).filter((n) => n !== '.lock') : [], [], 'nothing left behind');
  } finally {
    await stalled.close();
  }
});

test('a corrupted copy is never taken: nothing appears, the reason is logged', async () => {
  const a = makeImages({ rootBytes: 1_000_000 });
  // The replica's root image no longer matches its manifest (bit rot, a bad copy).
  const root = readFileSync(join(a.dir, 'root.squashfs'));
  root.writeUInt8(root.readUInt8(12345) ^ 1, 12345);
  writeFileSync(join(a.dir, 'root.squashfs'), root);
  const invA = parseInventory(sample, 'a.yaml');
  const { srv, peer } = await replica(a.root, () => invA);
  try {
    const b = localSide();
    const log = memoryLogger();
    const r = await syncOnce({ peers: [peer], imagesDir: b.images, inventoryFile: b.file, inventory: b.inv, log });
    assert.equal(r.pulled, []);
    assert.equal(r.rejected, [`${a.name}/${a.version}`]);
    assert.not.ok(existsSync(join(b.images, a.name, a.version)), 'no version folder');
    assert.not.ok(existsSync(join(b.images, a.name, 'current')), 'no current');
    assert.not.ok(existsSync(join(b.images, a.name)), 'staging removed, and the image folder this pull made');
    assert.ok(log.lines.some((l) => /root\.squashfs of .* is corrupted: sha256/.test(l)), log.lines.join('\n'));
  } finally {
    await srv.close();
  }
});

test('a higher inventory version spreads; the same version with other content is a loud conflict', async () => {
  const a = makeImages();
  const newer = sample.replace('cluster: lab', 'cluster: lab\nversion: 2').replace('name: node01', 'name: compute01');
  let invA = parseInventory(newer, 'a.yaml');
  const { srv, peer } = await replica(a.root, () => invA);
  try {
    const b = localSide(sample.replace('cluster: lab', 'cluster: lab\nversion: 1'));
    const log = memoryLogger();
    const r = await syncOnce({ peers: [peer], imagesDir: b.images, inventoryFile: b.file, inventory: b.inv, log });
    assert.is(r.inventory, 'adopted');
    assert.is(readFileSync(b.file, 'utf8'), newer);
    assert.is(b.inv().byName.get('compute01')?.ip, '10.77.0.11');

    invA = parseInventory(newer.replace('ip: 10.77.0.12', 'ip: 10.77.0.13'), 'a.yaml');
    const c = await syncOnce({ peers: [peer], imagesDir: b.images, inventoryFile: b.file, inventory: b.inv, log });
    assert.is(c.inventory, 'conflict');
    assert.is(readFileSync(b.file, 'utf8'), newer, 'ours is kept, whole');
    assert.ok(log.lines.some((l) => /INVENTORY CONFLICT: replica .* same version 2/.test(l)), log.lines.join('\n'));
  } finally {
    await srv.close();
  }
});

test('an unreachable replica is reported, not fatal', async () => {
  const b = localSide();
  const r = await syncOnce({ peers: ['127.0.0.1:1'], imagesDir: b.images, inventoryFile: b.file, inventory: b.inv, log: memoryLogger(), timeoutMs: 2000 });
  assert.equal(r.unreachable, ['127.0.0.1:1']);
});

test.run();
