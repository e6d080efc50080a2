// HTTP fetches for pulling from a peer, every one bounded: a JSON body by a size cap,
// an artifact by the size its manifest declares, by silence, and by a total deadline
// scaled to that size. A peer that streams forever, or drips a byte a second, costs
// little memory, disk or time.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fsyncPath } from '../lib/atomic.js';

/** /status and /inventory bodies: an inventory of ~100,000 nodes fits. */
export const JSON_CAP_BYTES = 8 * 1024 * 1024;
/** manifest.json: a few KiB in practice. */
export const MANIFEST_CAP_BYTES = 1024 * 1024;

export interface TransferLimits {
  /** A peer that sends nothing for this long is given up (ms). */
  silenceMs: number;
  /** Every artifact gets at least this long in all (ms)... */
  floorMs: number;
  /** ...plus its size at this rate (bytes/s); slower than that is given up. */
  minBytesPerSec: number;
}

export const DEFAULT_LIMITS: TransferLimits = { silenceMs: 10_000, floorMs: 60_000, minBytesPerSec: 256 * 1024 };

/** The total time one artifact of `size` bytes may take: a floor plus its size at the minimum rate. */
export function deadlineMs(size: number, l: Pick<TransferLimits, 'floorMs' | 'minBytesPerSec'>): number {
  return Math.ceil(l.floorMs + (size / l.minBytesPerSec) * 1000);
}

/** A download that broke a bound; `received` is how many body bytes had been read. */
export class TransferError extends Error {
  constructor(message: string, readonly received: number) {
    super(message);
  }
}

/**
 * GET `url` into memory, at most `maxBytes` of it: a longer body (declared or sent)
 * fails as soon as it passes the cap. The whole exchange is bounded by `timeoutMs`.
 */
export async function fetchCapped(url: string, o: { timeoutMs: number; maxBytes?: number }): Promise<Buffer> {
  return (await fetchCappedOr404(url, o, false))!;
}

/** As fetchCapped, but a 404 is undefined (a file the peer may well not have, like an unsigned image's .sig). */
export async function fetchCappedOptional(url: string, o: { timeoutMs: number; maxBytes?: number }): Promise<Buffer | undefined> {
  return fetchCappedOr404(url, o, true);
}

async function fetchCappedOr404(url: string, o: { timeoutMs: number; maxBytes?: number }, missingOk: boolean): Promise<Buffer | undefined> {
  const max = o.maxBytes ?? JSON_CAP_BYTES;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`GET ${url}: no whole answer in ${o.timeoutMs} ms`)), o.timeoutMs);
  try {
    const res = await fetch(url, { signal: ac.signal });
    if (missingOk && res.status === 404) return undefined;
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > max) throw new TransferError(`GET ${url}: the body is ${declared} bytes, more than the ${max} allowed`, 0);
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > max) throw new TransferError(`GET ${url}: the body passed the ${max} bytes allowed`, size);
      parts.push(Buffer.from(chunk));
    }
    return Buffer.concat(parts);
  } catch (err) {
    throw ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason : err;
  } finally {
    clearTimeout(timer);
    ac.abort(); // ends the connection when we stopped reading early
  }
}

/** fetchCapped, as UTF-8 text. */
export async function fetchText(url: string, o: { timeoutMs: number; maxBytes?: number }): Promise<string> {
  return (await fetchCapped(url, o)).toString('utf8');
}

/** fetchCapped, parsed as JSON. */
export async function fetchJson<T>(url: string, o: { timeoutMs: number; maxBytes?: number }): Promise<T> {
  const text = await fetchText(url, o);
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`GET ${url}: not JSON: ${(err as Error).message}`);
  }
}

export interface DownloadOptions extends Partial<TransferLimits> {
  /** The size the manifest declares: more bytes abort at once, fewer fail at the end. */
  size: number;
}

/**
 * Download `url` to `file` (fsynced), returning its size and sha256. Bounded three ways:
 * no more than `size` bytes are taken, a peer silent for `silenceMs` is given up, and so
 * is one that has not finished by deadlineMs(size). A slow but steady link gets as long
 * as that deadline allows.
 */
export async function downloadFile(url: string, file: string, o: DownloadOptions): Promise<{ size: number; sha256: string }> {
  if (!Number.isSafeInteger(o.size) || o.size < 0) throw new Error(`GET ${url}: the manifest's size ${o.size} is not a byte count`);
  const l = { ...DEFAULT_LIMITS, ...o };
  const total = deadlineMs(o.size, l);
  const ac = new AbortController();
  let received = 0;
  const fail = (msg: string) => ac.abort(new TransferError(`GET ${url}: ${msg}`, received));
  const deadline = setTimeout(() => fail(`not finished within ${total} ms (${received} of ${o.size} bytes; the limit is ${l.floorMs} ms plus ${l.minBytesPerSec} bytes/s)`), total);
  let silence = setTimeout(() => fail(`no answer in ${l.silenceMs} ms`), l.silenceMs);
  const heardFrom = () => {
    clearTimeout(silence);
    silence = setTimeout(() => fail(`no data for ${l.silenceMs} ms`), l.silenceMs);
  };
  try {
    const res = await fetch(url, { signal: ac.signal });
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    if (!res.body) throw new Error(`GET ${url}: no body`);
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > o.size) throw new TransferError(`GET ${url}: the peer sends ${declared} bytes, the manifest says ${o.size}`, 0);
    const h = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        heardFrom();
        received += chunk.length;
        if (received > o.size) return cb(new TransferError(`GET ${url}: more than the ${o.size} bytes the manifest says (${received} received)`, received));
        h.update(chunk);
        cb(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(res.body as unknown as WebReadableStream), tap, createWriteStream(file, { mode: 0o644 }), { signal: ac.signal });
    if (received < o.size) throw new TransferError(`GET ${url}: ended after ${received} of the ${o.size} bytes the manifest says`, received);
    await fsyncPath(file);
    return { size: received, sha256: h.digest('hex') };
  } catch (err) {
    // An abort surfaces as a bare AbortError; say which bound fired.
    throw ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason : err;
  } finally {
    clearTimeout(deadline);
    clearTimeout(silence);
    ac.abort(); // drops the connection if we stopped early
  }
}
