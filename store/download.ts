// HTTP fetches for pulling images from a peer.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fsyncPath } from '../lib/atomic.js';

/** GET `url`, failing on a non-2xx answer or after `timeoutMs` in all. */
export async function fetchOk(url: string, timeoutMs: number): Promise<Response> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res;
}

/**
 * Download `url` to `file` (fsynced), returning its size and sha256. `silenceMs` bounds
 * silence, not the whole transfer: a large image on a slow link takes as long as it
 * takes, but a peer that stops sending for `silenceMs` is given up.
 */
export async function downloadFile(url: string, file: string, silenceMs: number): Promise<{ size: number; sha256: string }> {
  const ac = new AbortController();
  let timer = setTimeout(() => ac.abort(new Error(`GET ${url}: no answer in ${silenceMs} ms`)), silenceMs);
  const restartSilenceTimer = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ac.abort(new Error(`GET ${url}: no data for ${silenceMs} ms`)), silenceMs);
  };
  try {
    const res = await fetch(url, { signal: ac.signal });
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    if (!res.body) throw new Error(`GET ${url}: no body`);
    const h = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        restartSilenceTimer();
        h.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(res.body as unknown as WebReadableStream), tap, createWriteStream(file, { mode: 0o644 }), { signal: ac.signal });
    await fsyncPath(file);
    return { size, sha256: h.digest('hex') };
  } catch (err) {
    // An abort surfaces as a bare AbortError; say which timeout fired.
    throw ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason : err;
  } finally {
    clearTimeout(timer);
  }
}
