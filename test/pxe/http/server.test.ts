// The HTTP server against a real client (curl) on loopback.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_REUSE_MS, startHttpServer, type HttpServer } from '../../../pxe/http/server.js';
import { ImageStore } from '../../../pxe/images.js';
import { parseInventory } from '../../../cluster/inventory.js';
import { defaultTemplatesDir } from '../../../lib/paths.js';
import type { BootEvent } from '../../../pxe/events.js';
import { makeImages } from '../../../tools/images.js';
import { sample } from '../../helpers/inventory.js';
import { need, needTool } from '../../helpers/need.js';

const img = makeImages({ rootBytes: 100 * 1024 * 1024 });
const inv = parseInventory(sample, 'cluster.yaml');
const events: BootEvent[] = [];
let srv: HttpServer;
let base = '';

/** curl in a child process, awaited without blocking this process's event loop (the server runs here). */
function curl(args: string[]): Promise<{ code: number | null; out: Buffer; err: string }> {
  return new Promise((resolve) => {
    const c = spawn('curl', ['-sS', '--max-time', '60', '--path-as-is', ...args]);
    const out: Buffer[] = [];
    let err = '';
    c.stdout.on('data', (d: Buffer) => out.push(d));
    c.stderr.on('data', (d: Buffer) => (err += d));
    c.on('close', (code) => resolve({ code, out: Buffer.concat(out), err }));
  });
}

test.before(async () => {
  srv = await startHttpServer({
    images: new ImageStore(img.root),
    inventory: () => inv,
    templatesDir: defaultTemplatesDir(),
    ipxeDir: '/usr/lib/ipxe',
    servers: () => ['10.77.0.1:8080'],
    address: '127.0.0.1',
    port: 0,
    onEvent: (e) => events.push(e),
  });
  base = `http://127.0.0.1:${srv.port}`;
});
test.after(() => srv.close());

test('curl fetches a 100 MB root image with the right sha256; the event names the bytes', async () => {
  needTool('curl', 'curl');
  const r = (await curl([`${base}/images/${img.name}/${img.version}/root.squashfs`]));
  assert.is(r.code, 0, r.err);
  assert.is(createHash('sha256').update(r.out).digest('hex'), img.manifest.artifacts.root!.sha256);
  const ev = events.filter((e) => e.kind === 'http' && e.path.endsWith('root.squashfs')).at(-1);
  assert.ok(ev && ev.kind === 'http' && ev.status === 200 && ev.bytes === 100 * 1024 * 1024, JSON.stringify(ev));
});

test('ETag is the manifest sha256; If-None-Match gives 304; current resolves', async () => {
  needTool('curl', 'curl');
  const sha = img.manifest.artifacts.kernel!.sha256;
  const head = (await curl(['-I', `${base}/images/${img.name}/current/vmlinuz`])).out.toString();
  assert.match(head, /^HTTP\/1\.1 200/);
  assert.match(head, new RegExp(`ETag: "${sha}"`, 'i'));
  const notModified = (await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', `If-None-Match: "${sha}"`, `${base}/images/${img.name}/${img.version}/vmlinuz`]));
  assert.is(notModified.out.toString(), '304');
});

test('<artifact>.sha256 gives the manifest hash in sha256sum format, for the initrd', async () => {
  needTool('curl', 'curl');
  const r = await curl([`${base}/images/${img.name}/${img.version}/root.squashfs.sha256`]);
  assert.is(r.out.toString(), `${img.manifest.artifacts.root!.sha256}  root.squashfs\n`);
  const none = await curl(['-o', '/dev/null', '-w', '%{http_code}', `${base}/images/${img.name}/${img.version}/nothing.sha256`]);
  assert.is(none.out.toString(), '404');
});

test('Range requests: a slice, an open end, and If-Range with the ETag', async () => {
  needTool('curl', 'curl');
  const full = readFileSync(join(img.dir, 'initrd.img'));
  const part = (await curl(['-r', '100-1123', '-D', '-', '-o', '/tmp/diskless-range', `${base}/images/${img.name}/${img.version}/initrd.img`]));
  assert.match(part.out.toString(), /^HTTP\/1\.1 206/);
  assert.match(part.out.toString(), /Content-Range: bytes 100-1123\/8192/i);
  assert.ok(readFileSync('/tmp/diskless-range').equals(full.subarray(100, 1124)));
  const tail = (await curl(['-r', '8000-', `${base}/images/${img.name}/${img.version}/initrd.img`]));
  assert.ok(tail.out.equals(full.subarray(8000)));
  const stale = (await curl(['-r', '0-9', '-H', 'If-Range: "not-the-etag"', '-o', '/dev/null', '-w', '%{http_code}', `${base}/images/${img.name}/${img.version}/initrd.img`]));
  assert.is(stale.out.toString(), '200', 'a stale If-Range gets the whole file');
});

test('per-node iPXE script for a known MAC; an explaining script for an unknown one', async () => {
  needTool('curl', 'curl');
  const known = (await curl([`${base}/boot/52-54-00-77-00-01.ipxe`])).out.toString();
  assert.match(known, /^#!ipxe\n/);
  assert.match(known, /diskless\.name=node01/);
  const unknown = (await curl(['-w', '\n%{http_code}', `${base}/boot/52-54-00-99-99-99.ipxe`])).out.toString();
  assert.match(unknown, /no node with MAC 52:54:00:99:99:99 in the inventory/);
  assert.match(unknown, /\n200$/);
  const ev = events.find((e) => e.kind === 'http' && e.path === '/boot/52-54-00-77-00-01.ipxe');
  assert.is(ev?.node, 'node01');
});

test('traversal and unknown files are 404; only GET and HEAD', async () => {
  needTool('curl', 'curl');
  for (const p of ['/images/../../../etc/passwd', `/images/${img.name}/${img.version}/..%2f..%2f..%2fetc%2fpasswd`, `/images/${img.name}/${img.version}/secret`, '/ipxe/../../etc/passwd']) {
    const r = (await curl(['-o', '/dev/null', '-w', '%{http_code}', `${base}${p}`]));
    assert.is(r.out.toString(), '404', p);
  }
  assert.is((await curl(['-X', 'POST', '-o', '/dev/null', '-w', '%{http_code}', `${base}/status`])).out.toString(), '405');
});

test('iPXE binaries from the ipxe package, and /status', async () => {
  needTool('curl', 'curl');
  // The file is on this host, so a 404 is the server's fault.
  need(existsSync('/usr/lib/ipxe/undionly.kpxe') ? undefined : '/usr/lib/ipxe/undionly.kpxe is missing (apt-get install ipxe)');
  const r = (await curl(['-o', '/dev/null', '-w', '%{http_code} %{size_download}', `${base}/ipxe/undionly.kpxe`])).out.toString();
  assert.match(r, /^200 [1-9]\d+$/);
  const status = JSON.parse((await curl([`${base}/status`])).out.toString());
  assert.is(status.cluster, 'lab');
  assert.is(status.inventory.hash, inv.hash);
});

test('/cluster: twenty pages asking at once cost one view; ?nodes=0 leaves the node views out', async () => {
  needTool('curl', 'curl');
  let made = 0;
  const view = async () => {
    made++;
    await new Promise((r) => setTimeout(r, 50));
    return { cluster: 'lab', made, nodes: [{ name: 'node01' }], replicas: [] };
  };
  const s = await startHttpServer({
    images: new ImageStore(img.root), inventory: () => inv, templatesDir: defaultTemplatesDir(), ipxeDir: '/usr/lib/ipxe',
    servers: () => [], address: '127.0.0.1', port: 0, cluster: view,
  });
  try {
    const url = `http://127.0.0.1:${s.port}/cluster`;
    const bodies = await Promise.all(Array.from({ length: 20 }, () => curl([url])));
    assert.is(made, 1, 'one view for twenty requests');
    for (const b of bodies) assert.equal(JSON.parse(b.out.toString()), { cluster: 'lab', made: 1, nodes: [{ name: 'node01' }], replicas: [] });
    const slim = JSON.parse((await curl([`${url}?nodes=0`])).out.toString());
    assert.equal(slim, { cluster: 'lab', made: 2, replicas: [] });
    await new Promise((r) => setTimeout(r, CLUSTER_REUSE_MS + 100));
    assert.is(JSON.parse((await curl([url])).out.toString()).made, 3, 'a fresh view once the reuse time is over');
  } finally {
    await s.close();
  }
});

test.run();
