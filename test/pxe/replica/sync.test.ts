// Sync asks its peers side by side: one that never answers, or drips its answer a
// byte at a time, does not hold up the pull from a good one. On loopback.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseInventory } from '../../../cluster/inventory.js';
import { syncOnce } from '../../../pxe/replica/sync.js';
import { memoryLogger } from '../../../lib/log.js';
import { makeImages } from '../../../tools/images.js';
import { startFakeReplica } from '../../../tools/fake-replica.js';
import { sample } from '../../helpers/inventory.js';

const work = mkdtempSync(join(tmpdir(), 'dl-sync-par-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

async function until(cond: () => boolean, what: string, pending: () => boolean): Promise<void> {
  while (!cond()) {
    if (!pending()) throw new Error(`sync ended before ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const mode of ['silent', 'drip'] as const) {
  test(`a peer that ${mode === 'silent' ? 'never answers' : 'drips its answers'} does not stall the pull from a good one`, async () => {
    const a = makeImages({ rootBytes: 500_000 });
    const invFile = join(work, `${mode}-peer.yaml`);
    writeFileSync(invFile, sample);
    const bad = await startFakeReplica({ mode, dripMs: 500, inventoryFile: invFile, imagesDir: a.root });
    const good = await startFakeReplica({ inventoryFile: invFile, imagesDir: a.root });
    const dir = mkdtempSync(join(work, `${mode}-`));
    const file = join(dir, 'cluster.yaml');
    writeFileSync(file, sample);
    const log = memoryLogger();
    let done = false;
    // The slow peer is asked first, and the timeout is long: only asking side by side gets the image now.
    const sync = syncOnce({
      peers: [`127.0.0.1:${bad.port}`, `127.0.0.1:${good.port}`], imagesDir: join(dir, 'images'), inventoryFile: file,
      inventory: () => parseInventory(readFileSync(file, 'utf8'), file), log, timeoutMs: 120_000,
    }).finally(() => (done = true));
    try {
      await until(() => existsSync(join(dir, 'images', a.name, a.version, 'manifest.json')), 'the good peer\'s image arrived', () => !done);
      assert.not.ok(done, 'the image is in place while the slow peer still holds its request');
      assert.ok(bad.requests.includes('/status'), 'the slow peer was asked');
      assert.ok(log.lines.some((l) => l.includes(`pulled from 127.0.0.1:${good.port}`)), log.lines.join('\n'));
    } finally {
      await bad.close(); // its request fails now, and the round ends
      await good.close();
    }
    const r = await sync;
    assert.equal(r.pulled, [`${a.name}/${a.version}`]);
  });
}

test('a peer whose /status is not a replica\'s is skipped and named; the round goes on', async () => {
  const a = makeImages();
  const invFile = join(work, 'odd-peer.yaml');
  writeFileSync(invFile, sample);
  const odd = http.createServer((_req, res) => res.end(JSON.stringify({ inventory: { version: 'high' }, images: 'all of them' })));
  await new Promise<void>((r) => odd.listen(0, '127.0.0.1', r));
  const oddPeer = `127.0.0.1:${(odd.address() as AddressInfo).port}`;
  const good = await startFakeReplica({ inventoryFile: invFile, imagesDir: a.root });
  const dir = mkdtempSync(join(work, 'odd-'));
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, sample);
  const log = memoryLogger();
  try {
    const r = await syncOnce({ peers: [oddPeer, `127.0.0.1:${good.port}`], imagesDir: join(dir, 'images'), inventoryFile: file, inventory: () => parseInventory(sample, file), log });
    assert.equal(r.unreachable, [oddPeer]);
    assert.equal(r.pulled, [`${a.name}/${a.version}`]);
    assert.ok(log.lines.some((l) => l.includes(`replica ${oddPeer} did not answer: its /status is not a replica's: inventory.version`)), log.lines.join('\n'));
  } finally {
    odd.close();
    await good.close();
  }
});

test('two peers announcing the same version: it is pulled once, from one of them, and nothing fails', async () => {
  const a = makeImages({ rootBytes: 200_000 });
  const invFile = join(work, 'twin-peer.yaml');
  writeFileSync(invFile, sample);
  const p1 = await startFakeReplica({ inventoryFile: invFile, imagesDir: a.root });
  const p2 = await startFakeReplica({ inventoryFile: invFile, imagesDir: a.root });
  const dir = mkdtempSync(join(work, 'twin-'));
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, sample);
  const log = memoryLogger();
  try {
    const r = await syncOnce({
      peers: [`127.0.0.1:${p1.port}`, `127.0.0.1:${p2.port}`], imagesDir: join(dir, 'images'), inventoryFile: file,
      inventory: () => parseInventory(readFileSync(file, 'utf8'), file), log, timeoutMs: 10_000,
    });
    assert.equal(r.pulled, [`${a.name}/${a.version}`]);
    assert.equal(r.rejected, []);
    assert.not.ok(log.lines.some((l) => l.includes('not taken')), log.lines.join('\n'));
    const manifests = [...p1.requests, ...p2.requests].filter((u) => u.endsWith('/manifest.json'));
    assert.is(manifests.length, 1, `one pull, not two: ${manifests.join(', ')}`);
  } finally {
    await p1.close();
    await p2.close();
  }
});

test.run();
