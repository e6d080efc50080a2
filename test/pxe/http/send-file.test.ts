// File sending (pxe/http/send-file.ts) with real curl clients: the bytes are right when
// reads reuse buffers across many transfers at once, for ranges that cross chunks, and
// from memory once an artifact is held.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startHttpServer, type HttpServer } from '../../../pxe/http/server.js';
import { ImageStore } from '../../../pxe/images.js';
import { parseInventory } from '../../../cluster/inventory.js';
import { defaultTemplatesDir } from '../../../lib/paths.js';
import { makeImages } from '../../../tools/images.js';
import { sample } from '../../helpers/inventory.js';
import { needTool } from '../../helpers/need.js';

const img = makeImages({ rootBytes: 24 * 1024 * 1024 + 12345 });
const full = readFileSync(join(img.dir, 'root.squashfs'));
let srv: HttpServer;
let url = '';

function curl(args: string[]): Promise<{ code: number | null; out: Buffer; err: string }> {
  return new Promise((resolve) => {
    const c = spawn('curl', ['-sS', '--max-time', '120', ...args]);
    const out: Buffer[] = [];
    let err = '';
    c.stdout.on('data', (d: Buffer) => out.push(d));
    c.stderr.on('data', (d: Buffer) => (err += d));
    c.on('close', (code) => resolve({ code, out: Buffer.concat(out), err }));
  });
}

const serve = (cacheBytes?: number) =>
  startHttpServer({
    images: new ImageStore(img.root),
    inventory: () => parseInventory(sample, 'cluster.yaml'),
    templatesDir: defaultTemplatesDir(),
    ipxeDir: '/usr/lib/ipxe',
    servers: () => ['10.77.0.1:8080'],
    address: '127.0.0.1',
    port: 0,
    cacheBytes,
  });

test.before(async () => {
  // From disk: nothing held in memory.
  srv = await serve(0);
  url = `http://127.0.0.1:${srv.port}/images/${img.name}/${img.version}/root.squashfs`;
});
test.after(() => srv.close());

async function until(cond: () => boolean, what: string): Promise<void> {
  for (const end = Date.now() + 30_000; !cond(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
  }
}

/** A client that reads the first bytes of `url`, then stops reading until resumed. */
function stalled(): { resume: () => Promise<Buffer> } {
  const u = new URL(url);
  const chunks: Buffer[] = [];
  const s = connect({ host: u.hostname, port: Number(u.port) }, () => s.write(`GET ${u.pathname} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
  const ended = new Promise<void>((r) => s.on('end', () => r()));
  s.on('data', (d: Buffer) => chunks.push(d));
  s.once('data', () => s.pause());
  return {
    resume: async () => {
      s.resume();
      await ended;
      const all = Buffer.concat(chunks);
      return all.subarray(all.indexOf('\r\n\r\n') + 4);
    },
  };
}

test('clients that stall with a chunk still queued get their bytes right after 10 others took buffers', async () => {
  needTool('curl', 'curl');
  const slow = Array.from({ length: 4 }, stalled);
  // Long enough for the stalled sockets' kernel buffers to fill and a chunk to wait in the server.
  await new Promise((r) => setTimeout(r, 500));
  const fast = await Promise.all(Array.from({ length: 10 }, () => curl([url])));
  for (const r of fast) {
    assert.is(r.code, 0, r.err);
    assert.is(createHash('sha256').update(r.out).digest('hex'), img.manifest.artifacts.root!.sha256);
  }
  for (const c of slow) assert.is(createHash('sha256').update(await c.resume()).digest('hex'), img.manifest.artifacts.root!.sha256);
});

test('ranges across chunk boundaries, to the last byte, and of one byte', async () => {
  needTool('curl', 'curl');
  for (const [a, b] of [[200_000, 800_000], [262_143, 262_144], [1, full.length - 1], [full.length - 1, full.length - 1], [0, 0]] as const) {
    const r = await curl(['-r', `${a}-${b}`, url]);
    assert.ok(r.out.equals(full.subarray(a, b + 1)), `${a}-${b}: got ${r.out.length} bytes`);
  }
});

test('from memory once held: the whole file, ranges, and a replaced file gives its new bytes', async () => {
  needTool('curl', 'curl');
  const mem = await serve();
  const url = `http://127.0.0.1:${mem.port}/images/${img.name}/${img.version}/root.squashfs`;
  await curl(['-o', '/dev/null', url]);
  await until(() => mem.cachedBytes() >= full.length, 'the root image to be held');
  const whole = await curl([url]);
  assert.ok(whole.out.equals(full));
  for (const [a, b] of [[200_000, 800_000], [full.length - 1, full.length - 1]] as const) {
    assert.ok((await curl(['-r', `${a}-${b}`, url])).out.equals(full.subarray(a, b + 1)), `${a}-${b}`);
  }
  const path = join(img.dir, 'root.squashfs');
  const fresh = Buffer.alloc(full.length, 7);
  writeFileSync(`${path}.new`, fresh);
  renameSync(`${path}.new`, path);
  try {
    assert.ok((await curl([url])).out.equals(fresh), 'a replaced file is not served from the old entry');
  } finally {
    writeFileSync(path, full);
    await mem.close();
  }
});

test.run();
