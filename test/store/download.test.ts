// The bounded fetches of store/download.ts against real HTTP servers on loopback that
// misbehave: a body that never ends, an artifact far longer or shorter than declared,
// a peer that drips a byte at a time.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deadlineMs, downloadFile, fetchCapped, fetchJson, TransferError } from '../../store/download.js';
import { makeImages } from '../../tools/images.js';
import { startFakePeer } from '../../tools/replica/fake-peer.js';

const MB = 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), 'dl-download-'));
const inventory = { version: 0, hash: 'x' };

async function thrown(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected it to fail');
}

test('deadline: a floor plus the size at the minimum rate', () => {
  assert.is(deadlineMs(0, { floorMs: 60_000, minBytesPerSec: 1000 }), 60_000);
  assert.is(deadlineMs(5000, { floorMs: 1000, minBytesPerSec: 1000 }), 6000);
});

test('an endless JSON body stops at the cap, however long the peer would go on', async () => {
  const img = makeImages();
  const peer = await startFakePeer({ imagesRoot: img.root, inventory, endlessStatus: true });
  try {
    const err = await thrown(fetchJson(`http://${peer.peer}/status`, { timeoutMs: 20_000, maxBytes: MB }));
    assert.match(err.message, /passed the 1048576 bytes allowed/);
    assert.ok(err instanceof TransferError);
    assert.ok((err as TransferError).received <= MB + 64 * 1024, `read ${(err as TransferError).received} bytes`);
    // The default cap holds too, and a good body under it is returned whole.
    assert.match((await thrown(fetchJson(`http://${peer.peer}/status`, { timeoutMs: 20_000 }))).message, /passed the 8388608 bytes allowed/);
    const ok = await fetchCapped(`http://${peer.peer}/images/${img.name}/${img.version}/manifest.json`, { timeoutMs: 5000, maxBytes: 100_000 });
    assert.is(JSON.parse(ok.toString()).version, img.version);
    // A declared length over the cap is refused before the body is read.
    const early = await thrown(fetchCapped(`http://${peer.peer}/images/${img.name}/${img.version}/root.squashfs`, { timeoutMs: 5000, maxBytes: 1000 }));
    assert.match(early.message, /the body is 65536 bytes, more than the 1000 allowed/);
  } finally {
    await peer.close();
  }
});

test('an artifact the manifest says is 10 bytes: a 20 MB stream is cut after the first piece, nothing kept', async () => {
  const img = makeImages();
  const peer = await startFakePeer({ imagesRoot: img.root, inventory, files: { 'root.squashfs': { kind: 'flood', bytes: 20 * MB } } });
  const url = `http://${peer.peer}/images/${img.name}/${img.version}/root.squashfs`;
  const file = join(work, 'flood');
  try {
    const err = await thrown(downloadFile(url, file, { size: 10, silenceMs: 5000 }));
    assert.ok(err instanceof TransferError, err.message);
    assert.match(err.message, /more than the 10 bytes the manifest says/);
    assert.ok((err as TransferError).received <= 10 + 64 * 1024, `read ${(err as TransferError).received} bytes`);
    assert.ok(!existsSync(file) || statSync(file).size <= 10, 'at most the declared bytes were written');
    await new Promise((r) => setTimeout(r, 200));
    const sent = peer.sent.get(`/images/${img.name}/${img.version}/root.squashfs`) ?? 0;
    assert.ok(sent < 20 * MB, `the peer could send only ${sent} bytes before the connection closed`);
  } finally {
    await peer.close();
  }
});

test('an artifact shorter than the manifest says fails; the right size passes', async () => {
  const img = makeImages();
  const peer = await startFakePeer({ imagesRoot: img.root, inventory });
  const url = `http://${peer.peer}/images/${img.name}/${img.version}/initrd.img`;
  try {
    const err = await thrown(downloadFile(url, join(work, 'short'), { size: 8193 }));
    assert.match(err.message, /ended after 8192 of the 8193 bytes/);
    const lying = await thrown(downloadFile(url, join(work, 'long'), { size: 8191 }));
    assert.match(lying.message, /sends 8192 bytes, the manifest says 8191/);
    const got = await downloadFile(url, join(work, 'right'), { size: 8192 });
    assert.is(got.size, 8192);
    assert.is(got.sha256, img.manifest.artifacts.initrd!.sha256);
    assert.is(statSync(join(work, 'right')).size, 8192);
  } finally {
    await peer.close();
  }
});

test('a peer that drips a byte at a time is given up at the deadline, though it is never silent', async () => {
  const img = makeImages();
  const peer = await startFakePeer({ imagesRoot: img.root, inventory, files: { 'vmlinuz': { kind: 'drip', everyMs: 20 } } });
  const url = `http://${peer.peer}/images/${img.name}/${img.version}/vmlinuz`;
  try {
    const err = await thrown(downloadFile(url, join(work, 'drip'), { size: 4096, silenceMs: 10_000, floorMs: 300, minBytesPerSec: 1_000_000 }));
    assert.ok(err instanceof TransferError, err.message);
    assert.match(err.message, /not finished within 305 ms \(\d+ of 4096 bytes; the limit is 300 ms plus 1000000 bytes\/s\)/);
    assert.ok((err as TransferError).received < 4096);
  } finally {
    await peer.close();
  }
});

test.run();
