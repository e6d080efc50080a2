// What the TFTP server makes or opens on request (names.ts says which name is what):
// the Secure Boot chain and GRUB's multiboot2 module, resolved once at start like the iPXE
// binaries over HTTP; GRUB's bootstrap; per-node boot scripts; and image artifacts, only
// those the manifest lists, each checked against the manifest's size before it is sent.
import { constants } from 'node:fs';
import { open, readFile, realpath, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { renderBootScript } from '../bootscript.js';
import { stillRegular } from '../http/ipxe-files.js';
import type { ImageStore } from '../images.js';
import type { Inventory } from '../../cluster/inventory.js';
import { render } from '../../lib/render.js';
import { defaultBootTemplatesDir } from '../../lib/paths.js';
import { MANIFEST_FILE } from '../../store/layout.js';
import { ERR_ACCESS, ERR_NOT_FOUND } from './packet.js';
import { openInRoot, PathRefused } from './paths.js';
import { artifactStep, GRUB_MODULES, SECURE_BOOT_CHAIN, tftpName } from './names.js';
import type { GenerateFile, Generated } from './server.js';

export interface ChainFiles {
  /** Served name → real path, for each binary found at start. */
  found: Map<string, string>;
  /** Served name → where it was looked for, for each not found. */
  missing: Map<string, string>;
}

/** Every binary of the GRUB chains: Secure Boot's signed shim and GRUB, and the GRUB module Xen on UEFI needs. */
export const CHAIN_SOURCES: Readonly<Record<string, string>> = { ...SECURE_BOOT_CHAIN, ...GRUB_MODULES };

/** The chains' binaries, each a regular file now (through its symlinks), resolved once. */
export async function resolveChainFiles(sources: Readonly<Record<string, string>> = CHAIN_SOURCES): Promise<ChainFiles> {
  const found = new Map<string, string>();
  for (const [name, path] of Object.entries(sources)) {
    const real = await realpath(path).catch(() => undefined);
    if (real && (await stat(real).catch(() => undefined))?.isFile()) found.set(name, real);
  }
  const missing = new Map(Object.entries(sources).filter(([name]) => !found.has(name)));
  return { found, missing };
}

export interface TftpBootDeps {
  templatesDir: string;
  /** The shared boot templates (default pxe/templates/). */
  bootTemplatesDir?: string;
  images: ImageStore;
  inventory: () => Inventory;
  /** host:port of the replicas to list in a boot script for this image. */
  servers: (image: { name: string; version: string }) => string[];
  chain: ChainFiles;
}

const notFound = (message: string) => new PathRefused(message, ERR_NOT_FOUND);

/** The TFTP server's generate hook over these deps. */
export function tftpBootFiles(d: TftpBootDeps): GenerateFile {
  return async (name): Promise<Generated | undefined> => {
    const n = tftpName(name);
    switch (n.kind) {
      case 'root':
        return undefined;
      case 'chain':
        return { step: n.step, ...(await openChainFile(d.chain, n.file)) };
      case 'grub-bootstrap': {
        const text = await readFile(join(d.bootTemplatesDir ?? defaultBootTemplatesDir(), 'bootstrap.grub.cfg.mustache'), 'utf8');
        return { step: 'grub.cfg', bytes: Buffer.from(render(text, {})) };
      }
      case 'boot-script': {
        const inv = d.inventory();
        const node = inv.byMac.get(n.mac);
        if (!node) throw notFound(`no node with MAC ${n.mac} in the inventory`);
        const image = await d.images.resolve(node.image).catch((err: Error) => Promise.reject(notFound(err.message)));
        const ctx = { node, cluster: inv.cluster, image, servers: d.servers(image), replica: inv.servers.includes(node.ip), grubTransport: 'tftp' as const };
        return { step: n.format === 'grub' ? 'node-cfg' : 'ipxe-script', bytes: Buffer.from(await renderBootScript(d.templatesDir, n.format, ctx, d.bootTemplatesDir)) };
      }
      case 'artifact':
      case 'artifact-sha256':
        return openArtifact(d.images, n);
    }
  };
}

async function openChainFile(chain: ChainFiles, file: string): Promise<{ fh: FileHandle; size: number }> {
  const real = chain.found.get(file);
  if (!real || !(await stillRegular(real))) {
    const where = chain.missing.get(file) ?? chain.found.get(file) ?? CHAIN_SOURCES[file];
    throw notFound(`no ${file}: it is served from ${where} as found at start (apt-get install shim-signed grub-efi-amd64-signed grub-efi-amd64-bin, then restart)`);
  }
  const fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
  return { fh, size: (await fh.stat()).size };
}

/** An artifact by its HTTP name: only files the manifest lists (and the manifest), at the size it says. */
async function openArtifact(images: ImageStore, n: { kind: 'artifact' | 'artifact-sha256'; image: string; version: string; file: string }): Promise<Generated> {
  const img = await images.resolve(n.version === 'current' ? n.image : `${n.image}/${n.version}`).catch((err: Error) => Promise.reject(notFound(err.message)));
  const root = await realpath(img.dir);
  if (n.kind === 'artifact' && (n.file === MANIFEST_FILE || n.file === `${MANIFEST_FILE}.sig`)) return { step: 'manifest', ...(await openInRoot(root, n.file)) };
  const entry = Object.entries(img.manifest.artifacts).find(([, a]) => a.file === n.file);
  if (!entry) throw notFound(`image ${img.name} ${img.version} has no artifact ${n.file}`);
  const [key, art] = entry;
  if (n.kind === 'artifact-sha256') return { bytes: Buffer.from(`${art.sha256}  ${art.file}\n`) };
  const opened = await openInRoot(root, n.file);
  if (opened.size !== art.size) {
    await opened.fh.close();
    throw new PathRefused(`${n.file} of image ${img.name} ${img.version} is ${opened.size} bytes, its manifest says ${art.size}: this replica's copy is damaged (pull or build it again)`, ERR_ACCESS);
  }
  return { step: artifactStep(key), fh: opened.fh, size: opened.size };
}
