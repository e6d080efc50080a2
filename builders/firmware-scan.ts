// The firmware closure's I/O: the firmware every kernel module in the image names (read
// from each .ko's .modinfo section; compressed modules are unpacked in batches, one
// process per batch, not one per module), the listing of the firmware folder, and
// applying the plan to it.
import { copyFile, lstat, mkdir, readdir, readFile, readlink, rm, rmdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { run } from '../lib/run.js';
import { resolveInRoot } from '../rootfs/paths.js';
import { modinfoFirmware } from './elf.js';
import type { FirmwarePlan, FirmwareTree, FirmwareEntry } from './firmware.js';
import type { Logger } from '../lib/log.js';

const MODULE_FILE = /\.ko(\.gz|\.xz|\.zst)?$/;
const UNPACK: Record<string, string> = { '.zst': 'zstd', '.xz': 'xz' };
const BATCH = 256;

/** Host paths of the files below `dir` whose name matches `re`; symlinks are not followed. */
async function walkFiles(dir: string, re: RegExp): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walkFiles(p, re)));
    else if (e.isFile() && re.test(e.name)) out.push(p);
  }
  return out;
}

/** Every kernel module in the image, for every kernel under /lib/modules. */
export async function listModules(root: string): Promise<string[]> {
  return (await walkFiles(await resolveInRoot(root, '/lib/modules'), MODULE_FILE)).sort();
}

/**
 * The firmware names of every module in `files` (host paths), as `modinfo -F firmware`
 * prints them. `scratch` is an empty folder for unpacking compressed modules.
 */
export async function namedFirmware(files: string[], scratch: string, opts: { log?: Logger; signal?: AbortSignal; shown?: (f: string) => string } = {}): Promise<Set<string>> {
  const names = new Set<string>();
  const read = (file: string, elf: Buffer) => {
    try {
      for (const n of modinfoFirmware(elf)) names.add(n);
    } catch (err) {
      throw new Error(`${opts.shown?.(file) ?? file}: cannot read its .modinfo: ${(err as Error).message} (a kernel module is an ELF file; firmware: all in the template skips the closure)`);
    }
  };
  const packed = new Map<string, string[]>();
  for (const f of files) {
    const ext = /\.(xz|zst)$/.exec(f)?.[0];
    if (ext) packed.set(ext, [...(packed.get(ext) ?? []), f]);
    else read(f, f.endsWith('.gz') ? gunzipSync(await readFile(f)) : await readFile(f));
  }
  await mkdir(scratch, { recursive: true });
  for (const [ext, list] of packed) {
    for (let i = 0; i < list.length; i += BATCH) {
      const batch = list.slice(i, i + BATCH);
      const copies = batch.map((_, j) => join(scratch, `${i + j}.ko${ext}`));
      await Promise.all(batch.map((f, j) => copyFile(f, copies[j]!)));
      await run([UNPACK[ext]!, '-d', '-q', '-f', '--', ...copies], { log: opts.log, signal: opts.signal });
      for (const [j, f] of batch.entries()) {
        const plain = copies[j]!.slice(0, -ext.length);
        read(f, await readFile(plain));
        await rm(plain);
      }
      await Promise.all(copies.map((c) => rm(c, { force: true })));
    }
  }
  return names;
}

/** Every file and symlink below the firmware folder, by relative path; symlinks are listed, not followed. */
export async function readFirmwareTree(dir: string): Promise<Map<string, FirmwareEntry>> {
  const tree = new Map<string, FirmwareEntry>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isSymbolicLink()) tree.set(relative(dir, p), { kind: 'link', target: await readlink(p) });
      else if (e.isFile()) tree.set(relative(dir, p), { kind: 'file', size: (await lstat(p)).size });
    }
  };
  await walk(dir);
  return tree;
}

export function treeBytes(tree: FirmwareTree, paths?: Iterable<string>): number {
  let n = 0;
  for (const p of paths ?? tree.keys()) {
    const e = tree.get(p);
    if (e?.kind === 'file') n += e.size;
  }
  return n;
}

/** Remove what the plan drops, then the folders left empty (the firmware folder itself stays). */
export async function applyFirmwarePlan(dir: string, plan: Pick<FirmwarePlan, 'drop'>): Promise<void> {
  for (const d of plan.drop) await rm(join(dir, d.path), { force: true });
  const prune = async (d: string): Promise<boolean> => {
    let empty = true;
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory() && (await prune(join(d, e.name)))) await rmdir(join(d, e.name));
      else empty = false;
    }
    return empty;
  };
  await prune(dir);
}
