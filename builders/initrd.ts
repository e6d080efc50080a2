// The initrd, generated here rather than by initramfs-tools or dracut: static
// busybox, the template's kernel modules with their dependency closure, and /init.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync, constants as zlibConstants } from 'node:zlib';
import { run } from '../lib/run.js';
import { render } from '../lib/render.js';
import { resolveInRoot } from '../rootfs/paths.js';
import { writeCpio, type CpioEntry } from './cpio.js';
import {
  filterModulesAlias, parseModulesBuiltin, parseModulesDep, renderModulesDep, resolveModules,
  type ModuleInfo, type ModulePlan,
} from './modules.js';
import type { Logger } from '../lib/log.js';

export type InitrdCompression = 'zstd' | 'gzip';

/** ELF with no PT_INTERP program header, i.e. needs no dynamic loader. */
export function isStaticElf(buf: Buffer): boolean {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) return false;
  const is64 = buf[4] === 2;
  const le = buf[5] === 1;
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const phoff = is64 ? Number(le ? buf.readBigUInt64LE(32) : buf.readBigUInt64BE(32)) : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  const PT_INTERP = 3;
  for (let i = 0; i < phnum; i++) if (u32(phoff + i * phentsize) === PT_INTERP) return false;
  return true;
}

async function decompressModule(path: string, data: Buffer, log?: Logger): Promise<Buffer> {
  if (path.endsWith('.gz')) return gunzipSync(data);
  if (path.endsWith('.zst')) return (await run(['zstd', '-dc'], { input: data, binary: true, log })).stdoutBuffer!;
  if (path.endsWith('.xz')) return (await run(['xz', '-dc'], { input: data, binary: true, log })).stdoutBuffer!;
  return data;
}

export async function compress(data: Buffer, how: InitrdCompression, log?: Logger): Promise<Buffer> {
  if (how === 'gzip') return gzipSync(data, { level: zlibConstants.Z_BEST_COMPRESSION });
  // zstd output does not depend on the thread count, so -T0 stays reproducible.
  return (await run(['zstd', '-q', '-15', '-T0', '-c'], { input: data, binary: true, log })).stdoutBuffer!;
}

export interface InitrdInput {
  root: string;
  kernelVersion: string;
  busyboxPath: string;
  modules: { required: string[]; optional: string[] };
  initTemplate: string;
  extraFiles: { path: string; data: Buffer; mode: number }[];
  view: object;
  log?: Logger;
}

export interface InitrdResult {
  cpio: Buffer;
  plan: ModulePlan;
  entries: string[];
}

const stripCompression = (p: string) => p.replace(/\.(gz|xz|zst)$/, '');

export async function assembleInitrd(input: InitrdInput): Promise<InitrdResult> {
  const { root, kernelVersion: kver } = input;
  const busyboxFile = await resolveInRoot(root, input.busyboxPath);
  if (!existsSync(busyboxFile)) {
    throw new Error(`the image has no ${input.busyboxPath}: add busybox-static to the template's packages (or set initrd.busybox)`);
  }
  const busybox = await readFile(busyboxFile);
  if (!isStaticElf(busybox)) throw new Error(`${input.busyboxPath} in the image is not a static binary: install busybox-static, not busybox`);

  const modDir = await resolveInRoot(root, `/lib/modules/${kver}`);
  const readOpt = async (name: string) => readFile(join(modDir, name), 'utf8').catch(() => '');
  const depText = await readOpt('modules.dep');
  if (!depText) throw new Error(`/lib/modules/${kver}/modules.dep is missing in the image (run depmod in the image)`);
  const plan = resolveModules(parseModulesDep(depText), parseModulesBuiltin(await readOpt('modules.builtin')), input.modules.required, input.modules.optional);

  const modBase = `lib/modules/${kver}`;
  const shippedPath = (m: ModuleInfo) => stripCompression(m.path);
  const entries: CpioEntry[] = [
    { type: 'file', path: 'init', mode: 0o755, data: Buffer.from(render(input.initTemplate, { ...input.view, modules: plan.modules.map((m) => ({ name: m.name, path: shippedPath(m) })) })) },
    { type: 'file', path: 'bin/busybox', mode: 0o755, data: busybox },
    { type: 'char', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    { type: 'char', path: 'dev/null', mode: 0o666, major: 1, minor: 3 },
    ...['proc', 'sys', 'run', 'tmp', 'newroot', 'etc', 'sbin', 'usr/bin', 'usr/sbin'].map((p) => ({ type: 'dir' as const, path: p })),
    { type: 'symlink', path: 'lib64', target: 'lib' },
  ];
  for (const m of plan.modules) {
    const raw = await readFile(join(modDir, m.path));
    entries.push({ type: 'file', path: `${modBase}/${shippedPath(m)}`, mode: 0o644, data: await decompressModule(m.path, raw, input.log) });
  }
  const shipped = new Set(plan.modules.map((m) => m.name));
  entries.push(
    { type: 'file', path: `${modBase}/modules.dep`, data: Buffer.from(renderModulesDep(plan.modules, shippedPath)) },
    { type: 'file', path: `${modBase}/modules.alias`, data: Buffer.from(filterModulesAlias(await readOpt('modules.alias'), shipped)) },
    { type: 'file', path: `${modBase}/modules.builtin`, data: Buffer.from(await readOpt('modules.builtin')) },
  );
  for (const f of input.extraFiles) entries.push({ type: 'file', path: f.path, mode: f.mode, data: f.data });
  return { cpio: writeCpio(entries), plan, entries: entries.map((e) => e.path) };
}

/** Does the image's kernel config say it can unpack this compression? */
export async function kernelSupports(root: string, kver: string, how: InitrdCompression): Promise<boolean | undefined> {
  const cfg = await readFile(await resolveInRoot(root, `/boot/config-${kver}`), 'utf8').catch(() => undefined);
  if (cfg === undefined) return undefined;
  const key = how === 'zstd' ? 'CONFIG_RD_ZSTD' : 'CONFIG_RD_GZIP';
  return new RegExp(`^${key}=y$`, 'm').test(cfg);
}
