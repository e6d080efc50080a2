// Extract a root-filesystem tarball with tar-stream, refusing entries that would
// land outside the root ('..', writes through symlinks, hard links to outside).
// Handles files, directories, symlinks, hard links, device nodes and FIFOs; owners,
// modes and mtimes are kept. Input may be plain, gzip, xz or zstd compressed.
import { createReadStream } from 'node:fs';
import { chmod, lchown, link, lutimes, mkdir, open, rm, symlink, utimes } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { spawn } from 'node:child_process';
import { extract as tarExtract, type Header } from 'tar-stream';
import { imagePathParts, safeJoin } from '../rootfs/paths.js';
import { run } from '../lib/run.js';
import type { Logger } from '../lib/log.js';

export interface ExtractStats {
  entries: number;
  files: number;
  bytes: number;
  devices: number;
  skipped: string[];
}

async function sniff(file: string): Promise<'gzip' | 'xz' | 'zstd' | 'none'> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(6);
    await fh.read(b, 0, 6, 0);
    if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
    if (b.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    await fh.close();
  }
}

function decompressed(file: string, kind: Awaited<ReturnType<typeof sniff>>): Readable {
  if (kind === 'none') return createReadStream(file);
  if (kind === 'gzip') return createReadStream(file).pipe(createGunzip());
  const tool = kind === 'xz' ? 'xz' : 'zstd';
  const child = spawn(tool, ['-dc', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.on('error', (e) => child.stdout.destroy(new Error(`cannot run ${tool} to decompress ${file}: ${e.message}`)));
  return child.stdout;
}

export async function extractTarball(file: string, root: string, opts: { log?: Logger; onProgress?: (s: ExtractStats) => void } = {}): Promise<ExtractStats> {
  const stats: ExtractStats = { entries: 0, files: 0, bytes: 0, devices: 0, skipped: [] };
  const dirTimes: { path: string; mtime: Date; mode: number }[] = [];
  const devices: { path: string; type: 'c' | 'b' | 'p'; major: number; minor: number; mode: number; uid: number; gid: number }[] = [];
  await mkdir(root, { recursive: true });
  const handle = async (h: Header, stream: AsyncIterable<unknown> & { resume(): unknown }) => {
    stats.entries++;
    if (stats.entries % 5000 === 0) opts.onProgress?.(stats);
    const rel = imagePathParts(h.name).join('/');
    if (rel === '') {
      stream.resume();
      return;
    }
    const dest = await safeJoin(root, rel, { createParents: true });
    const mode = (h.mode ?? 0o644) & 0o7777;
    const uid = h.uid ?? 0;
    const gid = h.gid ?? 0;
    const mtime = h.mtime ?? new Date(0);
    switch (h.type) {
      case 'directory':
        await mkdir(dest, { recursive: true });
        await lchown(dest, uid, gid);
        dirTimes.push({ path: dest, mtime, mode });
        stream.resume();
        return;
      case 'file':
      case 'contiguous-file': {
        await rm(dest, { force: true });
        const fh = await open(dest, 'wx', 0o600);
        try {
          for await (const chunk of stream) await fh.write(chunk as Uint8Array);
        } finally {
          await fh.close();
        }
        await lchown(dest, uid, gid);
        await chmod(dest, mode); // after chown, which clears setuid bits
        await utimes(dest, mtime, mtime);
        stats.files++;
        stats.bytes += h.size ?? 0;
        return;
      }
      case 'symlink':
        await rm(dest, { force: true });
        await symlink(h.linkname ?? '', dest);
        await lchown(dest, uid, gid);
        await lutimes(dest, mtime, mtime).catch(() => undefined);
        stream.resume();
        return;
      case 'link': {
        const target = await safeJoin(root, imagePathParts(h.linkname ?? '').join('/'));
        await rm(dest, { force: true });
        await link(target, dest);
        stream.resume();
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo':
        devices.push({
          path: dest,
          type: h.type === 'fifo' ? 'p' : h.type === 'block-device' ? 'b' : 'c',
          major: h.devmajor ?? 0,
          minor: h.devminor ?? 0,
          mode,
          uid,
          gid,
        });
        stream.resume();
        return;
      default:
        stats.skipped.push(`${h.name} (${h.type})`);
        stream.resume();
    }
  };
  const extract = tarExtract();
  const source = decompressed(file, await sniff(file));
  source.on('error', (e) => extract.destroy(e));
  source.pipe(extract);
  for await (const entry of extract) await handle(entry.header, entry);
  for (const d of devices) {
    await rm(d.path, { force: true });
    const argv = d.type === 'p' ? ['mknod', d.path, 'p'] : ['mknod', d.path, d.type, String(d.major), String(d.minor)];
    await run(argv, { log: opts.log });
    await lchown(d.path, d.uid, d.gid);
    await chmod(d.path, d.mode);
    stats.devices++;
  }
  // Directory modes and times last, deepest first, so writing their contents cannot change them.
  for (const d of dirTimes.reverse()) {
    await chmod(d.path, d.mode);
    await utimes(d.path, d.mtime, d.mtime);
  }
  if (stats.entries === 0) throw new Error(`${file}: the tarball holds no entries (is it a tar archive?)`);
  return stats;
}
