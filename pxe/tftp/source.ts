// Where a transfer's bytes come from: an open file, a Buffer or a Readable, read
// ahead in chunks and kept from the oldest unacknowledged block on, so blocks of the
// current window can be resent without reading again.
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

export interface ChunkSource {
  /** The next bytes in order, or null at the end. */
  next(): Promise<Buffer | null>;
  close(): Promise<void>;
}

const READ_CHUNK = 256 * 1024; // octets per file read

export function fileSource(fh: FileHandle, blksize: number): ChunkSource {
  // Whole blocks per read, so a block never straddles two chunks.
  const size = Math.max(blksize, Math.floor(READ_CHUNK / blksize) * blksize);
  let pos = 0;
  return {
    async next() {
      const buf = Buffer.allocUnsafe(size);
      const { bytesRead } = await fh.read(buf, 0, size, pos);
      pos += bytesRead;
      return bytesRead === 0 ? null : buf.subarray(0, bytesRead);
    },
    close: () => fh.close(),
  };
}

export function bufferSource(data: Buffer): ChunkSource {
  let done = false;
  return {
    async next() {
      if (done) return null;
      done = true;
      return data;
    },
    async close() {},
  };
}

export function streamSource(stream: Readable): ChunkSource {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  return {
    async next() {
      for (;;) {
        const r = await it.next();
        if (r.done) return null;
        const b = typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
        if (b.length > 0) return b;
      }
    },
    async close() {
      stream.destroy();
    },
  };
}

const CR = 0x0d;
const LF = 0x0a;

/** RFC 1350 / RFC 764 netascii: LF becomes CR LF and a bare CR becomes CR NUL. Per byte, so chunk edges do not matter. */
export function toNetascii(chunk: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < chunk.length; i++) if (chunk[i] === CR || chunk[i] === LF) extra++;
  if (extra === 0) return chunk;
  const out = Buffer.allocUnsafe(chunk.length + extra);
  let o = 0;
  for (let i = 0; i < chunk.length; i++) {
    const b = chunk[i]!;
    if (b === LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else if (b === CR) {
      out[o++] = CR;
      out[o++] = 0;
    } else out[o++] = b;
  }
  return out;
}

export function netasciiSource(inner: ChunkSource): ChunkSource {
  return {
    async next() {
      const c = await inner.next();
      return c === null ? null : toNetascii(c);
    },
    close: () => inner.close(),
  };
}

/**
 * Blocks (numbered from 1, never wrapped) over a ChunkSource. `block(n)` answers
 * synchronously when the bytes are here; `fill()` reads ahead.
 */
export class BlockBuffer {
  private chunks: Buffer[] = [];
  private start = 0; // offset of chunks[0]
  private end = 0; // offset after the last chunk
  private eof = false;
  private pending: Promise<void> | undefined;
  error: Error | undefined;

  constructor(
    private readonly src: ChunkSource,
    readonly blksize: number,
    private readonly readAhead = Math.max(READ_CHUNK, 4 * blksize),
  ) {}

  /** The final block's number once the end is known: a short (maybe empty) block ends a transfer. */
  get lastBlock(): number | undefined {
    return this.eof ? Math.floor(this.end / this.blksize) + 1 : undefined;
  }

  get bytesTotal(): number | undefined {
    return this.eof ? this.end : undefined;
  }

  block(n: number): Buffer | undefined {
    const from = (n - 1) * this.blksize;
    const to = Math.min(from + this.blksize, this.end);
    if (from < this.start) throw new Error(`block ${n} was already released`);
    if (this.end < from + this.blksize && !this.eof) return undefined;
    if (from >= to) return Buffer.alloc(0);
    let off = this.start;
    for (let i = 0; i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      if (from < off + c.length) {
        if (to <= off + c.length) return c.subarray(from - off, to - off);
        // A block across chunk edges (streams): copy just its pieces.
        const parts: Buffer[] = [];
        for (let j = i, o = off; j < this.chunks.length && o < to; o += this.chunks[j]!.length, j++) parts.push(this.chunks[j]!);
        return Buffer.concat(parts).subarray(from - off, to - off);
      }
      off += c.length;
    }
    return Buffer.alloc(0);
  }

  /** Forget bytes before block n. */
  release(n: number): void {
    const keepFrom = (n - 1) * this.blksize;
    while (this.chunks.length > 0 && this.start + this.chunks[0]!.length <= keepFrom) {
      this.start += this.chunks.shift()!.length;
    }
  }

  /** Whether fill(n) would start a read: checked on every ACK, so it allocates nothing. */
  wantsFill(n: number): boolean {
    return this.pending === undefined && !this.eof && this.error === undefined && this.end < n * this.blksize + this.readAhead;
  }

  /** Read until block n is complete (plus read-ahead) or the end; resolves when a read finishes. */
  fill(n: number): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.pending) return this.pending;
    const want = n * this.blksize + this.readAhead;
    if (this.eof || this.end >= want) return Promise.resolve();
    this.pending = (async () => {
      try {
        while (!this.eof && this.end < want) {
          const c = await this.src.next();
          if (c === null) this.eof = true;
          else {
            this.chunks.push(c);
            this.end += c.length;
          }
          if (this.end >= n * this.blksize) break; // let the sender go on; read-ahead continues on the next call
        }
      } catch (err) {
        this.error = err instanceof Error ? err : new Error(String(err));
        throw this.error;
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }

  close(): Promise<void> {
    return this.src.close();
  }
}
