// A hostile replica for the bounds tests: it announces the images under `imagesRoot`
// in /status like a real one, but may serve any artifact as a flood (far more bytes
// than its manifest says), a drip (one byte at a time), or /status as an endless
// body. It counts what it managed to send. Run as a process (in a namespace):
//   node --import tsx/esm tools/replica/fake-peer.ts '{"address":"127.0.0.2","port":8080,...}'
// prints LISTENING <port> once it listens.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { heldImages } from '../../store/held.js';

export type Behaviour = { kind: 'flood'; bytes: number } | { kind: 'drip'; everyMs: number } | { kind: 'endless' };

export interface FakePeerOptions {
  imagesRoot: string;
  /** What /status says of the peer's inventory (set it to ours to leave inventories alone). */
  inventory: { version: number; hash: string };
  /** How to serve an artifact (by file name); files not named are served whole. */
  files?: Record<string, Behaviour>;
  /** /status as a body that never ends. */
  endlessStatus?: boolean;
  address?: string;
  port?: number;
}

export interface FakePeer {
  peer: string;
  /** Body bytes handed to the kernel, per URL. */
  sent: Map<string, number>;
  /** Every URL asked for, in order. */
  requests: string[];
  close(): Promise<void>;
}

const CHUNK = 64 * 1024;

/** Write `next()` chunks until it returns undefined or the client goes away; counts what was written. */
async function stream(res: http.ServerResponse, next: () => Buffer | undefined, count: (n: number) => void, gapMs = 0): Promise<void> {
  let gone = false;
  res.on('close', () => (gone = true));
  for (let chunk = next(); chunk && !gone; chunk = next()) {
    const ok = res.write(chunk);
    count(chunk.length);
    if (!ok) {
      await new Promise<void>((r) => {
        const done = () => (res.off('drain', done), res.off('close', done), r());
        res.on('drain', done);
        res.on('close', done);
      });
    }
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
  }
  if (!gone) res.end();
}

export async function startFakePeer(o: FakePeerOptions): Promise<FakePeer> {
  const sent = new Map<string, number>();
  const requests: string[] = [];
  const srv = http.createServer(async (req, res) => {
    const url = req.url ?? '/';
    requests.push(url);
    const count = (n: number) => sent.set(url, (sent.get(url) ?? 0) + n);
    if (url === '/status') {
      if (o.endlessStatus) {
        res.writeHead(200, { 'content-type': 'application/json' });
        const filler = Buffer.from(`{"images":[${'{"name":"x"},'.repeat(CHUNK / 12)}`);
        return stream(res, () => filler, count);
      }
      return res.end(JSON.stringify({ inventory: o.inventory, images: await heldImages(o.imagesRoot) }));
    }
    const m = /^\/images\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url);
    if (!m) return res.writeHead(404).end();
    const b = o.files?.[m[3]!];
    if (b?.kind === 'flood') {
      res.writeHead(200); // chunked: no length to refuse up front
      let left = b.bytes;
      const block = Buffer.alloc(CHUNK, 0x55);
      return stream(res, () => (left <= 0 ? undefined : ((left -= CHUNK), block)), count);
    }
    const path = join(o.imagesRoot, m[1]!, m[2]!, m[3]!);
    if (!existsSync(path)) return res.writeHead(404).end(); // e.g. the .sig of an unsigned image
    const data = readFileSync(path);
    if (b?.kind === 'drip') {
      res.writeHead(200, { 'content-length': data.length });
      let off = 0;
      return stream(res, () => (off < data.length ? data.subarray(off, ++off) : undefined), count, b.everyMs);
    }
    res.end(data);
    count(data.length);
  });
  await new Promise<void>((r) => srv.listen(o.port ?? 0, o.address ?? '127.0.0.1', r));
  const addr = srv.address() as AddressInfo;
  return {
    peer: `${addr.address}:${addr.port}`,
    sent,
    requests,
    close: () => new Promise((r) => {
      srv.closeAllConnections();
      srv.close(() => r());
    }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const peer = await startFakePeer(JSON.parse(process.argv[2]!) as FakePeerOptions);
  console.log(`LISTENING ${peer.peer}`);
}
