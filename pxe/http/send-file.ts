// Sends files for the HTTP server. `send` decides the status and headers (Range,
// If-Range, ETag, If-None-Match, HEAD) exactly as before; only the bytes take another
// path than its fs.createReadStream pipe (64 KiB reads into a fresh buffer each): 256 KiB
// reads into buffers kept on a free list (fresh large buffers cost page faults on every
// read), the next read running while the socket takes the current chunk.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { open } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import send from 'send';
import type { FileCache } from './file-cache.js';

const CHUNK = 256 * 1024;
const KEEP_FREE = 64; // buffers kept for reuse: 16 MiB at most
const free: Buffer[] = [];
const take = () => free.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
const give = (b: Buffer) => void (free.length < KEEP_FREE && free.push(b));

export interface SendFileOptions {
  /** Let send make a weak ETag and Last-Modified (when the caller sets no ETag itself). */
  validators: boolean;
  onBytes: (n: number) => void;
  onError: (status: number, message: string) => void;
  /** Send from (and fill) this cache: only for files that do not change in place, as image artifacts. */
  cache?: FileCache;
}

/** Send `dir`/`name` as the answer to `req`; headers the caller set stay. */
export function sendFile(req: IncomingMessage, res: ServerResponse, dir: string, name: string, o: SendFileOptions): void {
  const s = send(req, `/${name}`, { root: dir, etag: o.validators, lastModified: o.validators, dotfiles: 'deny', index: false });
  let held: Buffer | undefined;
  s.on('file', (path: string, st: Stats) => (held = o.cache?.get(path, st)));
  s.stream = (path: string, range?: { start?: number; end?: number }) => {
    const [start, end] = [range?.start ?? 0, range?.end ?? Infinity];
    const sent = held ? fromMemory(held, res, start, end, o.onBytes) : pump(path, res, start, end, o.onBytes);
    sent.catch((err: Error) => {
      if (res.headersSent) return void res.destroy(err);
      // send's headers (Content-Range, ETag) were for the file, not for this error.
      for (const h of res.getHeaderNames()) res.removeHeader(h);
      o.onError(500, `reading ${path}: ${err.message}`);
    });
  };
  s.on('error', (err: { status?: number; message: string }) => o.onError(err.status ?? 500, err.message));
  s.pipe(res);
}

/** Bytes `start`..`end` (inclusive) of a held file into `res`, then end it. */
async function fromMemory(buf: Buffer, res: ServerResponse, start: number, end: number, onBytes: (n: number) => void): Promise<void> {
  const last = Math.min(end, buf.length - 1);
  for (let pos = start; pos <= last && !res.destroyed; pos += CHUNK) {
    const chunk = buf.subarray(pos, Math.min(pos + CHUNK, last + 1));
    onBytes(chunk.length);
    if (!res.write(chunk)) await drained(res);
  }
  if (!res.destroyed) res.end();
}

/** Bytes `start`..`end` (inclusive) of `path` into `res`, then end it. */
async function pump(path: string, res: ServerResponse, start: number, end: number, onBytes: (n: number) => void): Promise<void> {
  const fh = await open(path, 'r');
  const read = async (pos: number) => {
    const buf = take();
    try {
      const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, end + 1 - pos), pos);
      return { buf, n: bytesRead };
    } catch (err) {
      give(buf);
      throw err;
    }
  };
  let next = start <= end ? read(start) : undefined;
  try {
    for (let pos = start; next; ) {
      const { buf, n } = await next;
      pos += n;
      const more = n > 0 && pos <= end;
      // Read ahead while the socket takes this chunk, unless it still holds the last one:
      // a client that stops reading then pins one buffer, not two.
      next = more && res.writableLength === 0 ? read(pos) : undefined;
      if (n === 0 || res.destroyed) {
        give(buf);
        break;
      }
      onBytes(n);
      if (!res.write(n === CHUNK ? buf : buf.subarray(0, n), () => give(buf))) await drained(res);
      if (more && !next && !res.destroyed) next = read(pos);
    }
    if (!res.destroyed) res.end();
  } finally {
    // A read still running when the client left: wait for it before closing the file.
    await next?.then((r) => give(r.buf), () => {});
    await fh.close();
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
