// Per-node boot scripts (iPXE, GRUB) rendered from mustache templates with one
// view-model. Replicas are listed in an order that depends on the node's MAC, so
// fetches spread across replicas, and each script falls back to the next one.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { render } from '../lib/render.js';
import { defaultBootTemplatesDir } from '../lib/paths.js';
import type { InventoryNode } from '../cluster/inventory.js';
import type { ResolvedImage } from '../store/resolve.js';
import { isSafeName } from '../store/layout.js';

export const DEFAULT_XEN_ARGS = 'dom0_mem=1024M,max:1024M console=com1 com1=115200,8n1';

export interface BootContext {
  node: InventoryNode;
  cluster: string;
  image: ResolvedImage;
  /** Every replica, as host:port of its HTTP service. */
  servers: string[];
  xenArgs?: string;
  /** The node is listed under servers: it boots with the image's service layer, if it has one, and runs a replica. */
  replica?: boolean;
  /** How GRUB fetches kernel and initrd: 'tftp' for the signed GRUB of Secure Boot, which has no http module. Default http. */
  grubTransport?: 'http' | 'tftp';
}

/** Rotate the replica list by a hash of the MAC: same node, same order, on every replica. */
export function replicaOrder(mac: string, servers: string[]): string[] {
  if (servers.length === 0) return [];
  const k = createHash('sha256').update(mac).digest().readUInt32BE(0) % servers.length;
  return [...servers.slice(k), ...servers.slice(0, k)];
}

/**
 * The replicas a node fetches from, in its order. A node that is itself a replica is
 * left out of its own list: while it boots, nothing answers at its address.
 */
export function fetchOrder(ctx: Pick<BootContext, 'node' | 'servers'>): string[] {
  const others = ctx.servers.filter((s) => s.split(':')[0] !== ctx.node.ip);
  return replicaOrder(ctx.node.mac, others.length ? others : ctx.servers);
}

/**
 * The kernel command line: the image's, the node's, then the node's name, its image
 * (name/version) and the replicas to fetch the root image from, in this node's order.
 * Kept short on purpose: iPXE's multiboot loader holds every URL and command line of
 * a Xen boot (hypervisor and both modules) in one 512-byte buffer. The root image's
 * sha256 is not on it: the initrd checks the root against the hash built into it.
 */
export function kernelCmdline(ctx: BootContext): string {
  const { node, image } = ctx;
  const parts = [
    image.manifest.cmdline,
    node.kernelArgs,
    `diskless.name=${node.name}`,
    `diskless.image=${image.name}/${image.version}`,
    `diskless.servers=${fetchOrder(ctx).join(',')}`,
    ctx.replica && image.manifest.artifacts.service ? `diskless.layers=${image.manifest.artifacts.service.file}` : '',
  ];
  return parts.filter(Boolean).join(' ').replace(/\s+/g, ' ').trim();
}

/** Whitespace, control characters (C0, DEL, C1) and Unicode line breaks: any of them could start a new script line. */
const BREAKS = /[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+/g;

/** `s` on one line: every run of breaks or control characters is one space. */
export function oneLine(s: string): string {
  return s.replace(BREAKS, ' ').trim();
}

/**
 * Every string in a view, at any depth, on one line. The scripts are line-based (a
 * newline in xenArgs would be an iPXE command of its own), so no input may break one.
 */
function flatten<T>(v: T): T {
  if (typeof v === 'string') return oneLine(v) as T;
  if (Array.isArray(v)) return v.map(flatten) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, flatten(x)])) as T;
  return v;
}

export function bootView(ctx: BootContext) {
  return flatten(rawView(ctx));
}

function rawView(ctx: BootContext) {
  const order = fetchOrder(ctx);
  const base = `/images/${ctx.image.name}/${ctx.image.version}`;
  const a = ctx.image.manifest.artifacts;
  const attempts = order.map((server, i) => ({
    label: `replica${i}`,
    next: i + 1 < order.length ? `replica${i + 1}` : 'failed',
    server,
    // GRUB's tftp device takes a host only: the replicas serve TFTP on port 69.
    grubDevice: ctx.grubTransport === 'tftp' ? `(tftp,${server.split(':')[0]})` : `(http,${server})`,
    kernel: `http://${server}${base}/${a.kernel?.file ?? 'vmlinuz'}`,
    initrd: `http://${server}${base}/${a.initrd?.file ?? 'initrd.img'}`,
    xen: a.xen ? `http://${server}${base}/${a.xen.file}` : '',
    kernelPath: `${base}/${a.kernel?.file ?? 'vmlinuz'}`,
    initrdPath: `${base}/${a.initrd?.file ?? 'initrd.img'}`,
    xenPath: a.xen ? `${base}/${a.xen.file}` : '',
  }));
  return {
    node: ctx.node,
    cluster: ctx.cluster,
    image: { name: ctx.image.name, version: ctx.image.version, distro: ctx.image.manifest.distro },
    attempts,
    firstLabel: attempts[0]?.label ?? 'failed',
    cmdline: kernelCmdline(ctx),
    xenArgs: ctx.xenArgs ?? ctx.node.xenArgs ?? DEFAULT_XEN_ARGS,
    isXen: ctx.node.role === 'xen-dom0',
  };
}

export type BootScriptKind = 'ipxe' | 'grub';

/** iPXE's multiboot loader copies every image's "URI command-line" into one buffer of this size. */
export const IPXE_MULTIBOOT_CMDLINE_MAX = 512; // bytes (iPXE src/arch/x86/image/multiboot.c)

/** Bytes a Xen boot needs in that buffer: hypervisor, dom0 kernel, initrd, each URI + args + NUL. */
export function multibootCmdlineBytes(view: ReturnType<typeof bootView>): number {
  const a = view.attempts[0];
  if (!a) return 0;
  return [`${a.xen} ${view.xenArgs}`, `${a.kernel} ${view.cmdline}`, a.initrd].reduce((n, s) => n + Buffer.byteLength(s) + 1, 0);
}

/**
 * The template file for a node: the distribution's own (`<templatesDir>/<distro>/boot/`)
 * first, then the shared one (`shared`: pxe/templates/ unless told otherwise).
 */
export function templateFor(templatesDir: string, distro: string, kind: BootScriptKind, role: string, shared = defaultBootTemplatesDir()): string[] {
  const file = kind === 'grub' ? 'grub.cfg.mustache' : `${role}.ipxe.mustache`;
  return [join(templatesDir, distro, 'boot', file), join(shared, file)];
}

export async function renderBootScript(templatesDir: string, kind: BootScriptKind, ctx: BootContext, shared = defaultBootTemplatesDir()): Promise<string> {
  if (ctx.node.role === 'xen-dom0' && !ctx.image.manifest.artifacts.xen) {
    throw new Error(
      `node ${ctx.node.name} has role xen-dom0 but image ${ctx.image.name} ${ctx.image.version} has no Xen hypervisor; build it with --variant xen-dom0`,
    );
  }
  const view = bootView(ctx);
  if (kind === 'ipxe' && view.isXen) {
    const need = multibootCmdlineBytes(view);
    if (need > IPXE_MULTIBOOT_CMDLINE_MAX) {
      throw new Error(
        `the Xen boot of ${ctx.node.name} needs ${need} bytes of command lines, more than iPXE's ${IPXE_MULTIBOOT_CMDLINE_MAX} for multiboot ` +
          '(they would be cut): shorten xenArgs, kernelArgs or the image name',
      );
    }
  }
  const distro = ctx.image.manifest.distro;
  if (typeof distro !== 'string' || !isSafeName(distro)) {
    throw new Error(
      `image ${ctx.image.name} ${ctx.image.version}: its manifest's distro ${JSON.stringify(distro)} is not a plain name ` +
        "(letters, digits, '.', '_', '-'); rebuild the image or correct distro in its manifest.json",
    );
  }
  const candidates = templateFor(templatesDir, distro, kind, ctx.node.role, shared);
  const file = candidates.find((f) => existsSync(f));
  if (!file) throw new Error(`no boot template: looked for ${candidates.join(' and ')}`);
  return render(await readFile(file, 'utf8'), view);
}

export async function renderErrorScript(mac: string, message: string, shared = defaultBootTemplatesDir()): Promise<string> {
  return render(await readFile(join(shared, 'error.ipxe.mustache'), 'utf8'), flatten({ mac, message }));
}
