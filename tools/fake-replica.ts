// A fake replica, for trust and sync tests: it answers /status, /inventory(.sig) and
// /images/... like `diskless serve`, but serves whatever the test laid out, forged or
// not: an inventory with any version and signature, image folders whose manifests
// lie, an endless stream for a small artifact. It can also never answer, or drip.
// Run in a network namespace at a servers: address:
//   node --import tsx/esm tools/fake-replica.ts spec.json
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { heldImages } from '../store/held.js';

export interface FakeReplicaSpec {
  address?: string;
  port?: number;
  /** Served as /inventory and announced in /status (version read from its text, or `version`). */
  inventoryFile?: string;
  /** Served as /inventory.sig when given. */
  inventorySigFile?: string;
  /** Announce this version instead of the one in the file. */
  announceVersion?: number;
  /** An images folder in the store's layout, announced and served as is. */
  imagesDir?: string;
  /** Requests for these paths get `bytes` of zeros, whatever the manifest says. */
  streams?: Record<string, number>;
  /** `silent`: accept connections and never answer; `drip`: answer every request one byte every `dripMs`. */
  mode?: 'normal' | 'silent' | 'drip';
  dripMs?: number;
}

export interface FakeReplica {
  port: number;
  /** Request paths in the order they came. */
  requests: string[];
  close(): Promise<void>;
}

async function status(spec: FakeReplicaSpec): Promise<string> {
  const text = spec.inventoryFile ? readFileSync(spec.inventoryFile) : Buffer.from('');
  const version = spec.announceVersion ?? Number(/^version:\s*(\d+)/m.exec(text.toString())?.[1] ?? 0);
  const hash = createHash('sha256').update(text).digest('hex');
  return JSON.stringify({ replica: 'fake', inventory: { version, hash }, images: spec.imagesDir ? await heldImages(spec.imagesDir) : [] });
}

function body(spec: FakeReplicaSpec, path: string): Buffer | number | undefined {
  if (spec.streams?.[path] !== undefined) return spec.streams[path];
  const file = (f: string | undefined) => (f && existsSync(f) ? readFileSync(f) : undefined);
  if (path === '/inventory') return file(spec.inventoryFile);
  if (path === '/inventory.sig') return file(spec.inventorySigFile);
  const m = /^\/images\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
  if (m && spec.imagesDir && !m.slice(1).some((p) => p!.startsWith('.'))) return file(join(spec.imagesDir, m[1]!, m[2]!, m[3]!));
  return undefined;
}

export async function startFakeReplica(spec: FakeReplicaSpec): Promise<FakeReplica> {
  const requests: string[] = [];
  const srv = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push(path);
    if (spec.mode === 'silent') return; // the connection stays open, unanswered
    const data = path === '/status' ? Buffer.from(await status(spec)) : body(spec, path);
    if (data === undefined) return res.writeHead(404).end('not here\n');
    if (typeof data === 'number') {
      // An endless-looking stream: `data` bytes, with no Content-Length to warn.
      res.writeHead(200);
      const chunk = Buffer.alloc(65536);
      for (let left = data; left > 0 && !res.destroyed; left -= chunk.length) {
        if (!res.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await new Promise((r) => res.once('drain', r));
      }
      return res.end();
    }
    if (spec.mode === 'drip') {
      res.writeHead(200, { 'content-length': data.length });
      for (let i = 0; i < data.length && !res.destroyed; i++) {
        res.write(data.subarray(i, i + 1));
        await new Promise((r) => setTimeout(r, spec.dripMs ?? 200));
      }
      return res.end();
    }
    res.writeHead(200, { 'content-length': data.length }).end(data);
  });
  await new Promise<void>((r) => srv.listen(spec.port ?? 0, spec.address ?? '127.0.0.1', r));
  return {
    port: (srv.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as FakeReplicaSpec;
  const fake = await startFakeReplica(spec);
  // One line per request, so a test can see what the real replica asked for.
  const log = (p: string) => process.stdout.write(`fake replica: GET ${p}\n`);
  const seen = fake.requests.length;
  setInterval(() => fake.requests.splice(seen).forEach(log), 100);
  process.stdout.write(`fake replica listening on ${spec.address ?? '127.0.0.1'}:${fake.port}\n`);
  process.on('SIGTERM', () => void fake.close().then(() => process.exit(0)));
}
