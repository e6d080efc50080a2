// What the HTTP server sends for files, against real requests on loopback: the
// manifest's .sha256 is never the manifest, current/ is revalidated while version
// paths are cached for good, and /ipxe/ serves the configured binaries only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import { join } from 'node:path';
import { startHttpServer, type HttpServer } from '../../../pxe/http/server.js';
import { ImageStore } from '../../../pxe/images.js';
import { parseInventory } from '../../../cluster/inventory.js';
import { defaultTemplatesDir } from '../../../lib/paths.js';
import { makeImages } from '../../../tools/images.js';
import { sample } from '../../helpers/inventory.js';

const img = makeImages();
const inv = parseInventory(sample, 'cluster.yaml');
// An iPXE folder laid out like Debian's: ipxe.efi is a symlink into another folder.
const work = mkdtempSync(join(tmpdir(), 'dl-http-files-'));
const ipxeDir = join(work, 'ipxe');
mkdirSync(ipxeDir);
mkdirSync(join(work, 'boot'));
writeFileSync(join(ipxeDir, 'undionly.kpxe'), 'bios ipxe');
writeFileSync(join(work, 'boot', 'ipxe.efi'), 'efi ipxe');
symlinkSync('../boot/ipxe.efi', join(ipxeDir, 'ipxe.efi'));
writeFileSync(join(ipxeDir, 'ipxe.pxe'), 'not configured');
symlinkSync('/etc/passwd', join(ipxeDir, 'passwd.efi'));
writeFileSync(join(work, 'secret'), 'secret');
symlinkSync('../secret', join(ipxeDir, 'secret.kpxe'));

let srv: HttpServer;
let base = '';
interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A plain GET with node:http (fetch adds Cache-Control: no-cache to conditional requests). */
function get(path: string, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    http.get(`${base}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() });
      });
    }).on('error', reject);
  });
}

test.before(async () => {
  srv = await startHttpServer({
    images: new ImageStore(img.root), inventory: () => inv, templatesDir: defaultTemplatesDir(), ipxeDir,
    servers: () => ['127.0.0.1'], address: '127.0.0.1', port: 0,
  });
  base = `http://127.0.0.1:${srv.port}`;
});
test.after(async () => {
  await srv.close();
  rmSync(work, { recursive: true, force: true });
  rmSync(img.root, { recursive: true, force: true });
});

test('manifest.json.sha256 is a 404, never the manifest; manifest.json itself is served', async () => {
  const manifest = readFileSync(join(img.dir, 'manifest.json'), 'utf8');
  for (const v of [img.version, 'current']) {
    const r = await get(`/images/${img.name}/${v}/manifest.json.sha256`);
    const body = r.body;
    assert.is(r.status, 404, body);
    assert.not.ok(body.includes(manifest), 'the manifest is not in the answer');
    assert.match(body, /manifest\.json has no \.sha256/);
    const m = await get(`/images/${img.name}/${v}/manifest.json`);
    assert.is(m.status, 200);
    assert.is(m.body, manifest);
  }
});

test('version paths are immutable; current/ is no-cache with the ETag, and revalidates to 304', async () => {
  const sha = img.manifest.artifacts.kernel!.sha256;
  const pinned = await get(`/images/${img.name}/${img.version}/vmlinuz`);
  assert.is(pinned.headers['cache-control'], 'public, max-age=31536000, immutable');
  for (const f of ['vmlinuz', 'root.squashfs', 'manifest.json']) {
    const cur = await get(`/images/${img.name}/current/${f}`);
    assert.is(cur.status, 200, f);
    assert.is(cur.headers['cache-control'], 'no-cache', `current/${f}`);
  }
  const cur = await get(`/images/${img.name}/current/vmlinuz`);
  assert.is(cur.headers['etag'], `"${sha}"`);
  const again = await get(`/images/${img.name}/current/vmlinuz`, { 'If-None-Match': `"${sha}"` });
  assert.is(again.status, 304);
  const moved = await get(`/images/${img.name}/current/vmlinuz`, { 'If-None-Match': `"${'0'.repeat(64)}"` });
  assert.is(moved.status, 200, 'another ETag (current moved) gets the file');
});

test('/ipxe/: the configured binaries, through Debian-style symlinks; nothing else, and no symlink swapped in later', async () => {
  const ok = async (name: string, want: string) => {
    const r = await get(`/ipxe/${name}`);
    assert.is(r.status, 200, name);
    assert.is(r.body, want, name);
  };
  const refused = async (name: string) => {
    const r = await get(`/ipxe/${name}`);
    const body = r.body;
    assert.is(r.status, 404, `${name}: ${body}`);
    assert.ok(!body.includes('root:') && body !== 'secret' && body !== 'not configured', `${name} leaked: ${body}`);
  };
  await ok('undionly.kpxe', 'bios ipxe');
  await ok('ipxe.efi', 'efi ipxe');
  for (const name of ['passwd.efi', 'secret.kpxe', 'ipxe.pxe', 'snponly.efi']) await refused(name);
  // Swapped after start: the symlink is not followed, and a new target is not picked up.
  unlinkSync(join(ipxeDir, 'undionly.kpxe'));
  symlinkSync('/etc/passwd', join(ipxeDir, 'undionly.kpxe'));
  unlinkSync(join(ipxeDir, 'ipxe.efi'));
  symlinkSync('../secret', join(ipxeDir, 'ipxe.efi'));
  await refused('undionly.kpxe');
  await ok('ipxe.efi', 'efi ipxe');
});

test.run();
