// The service layer: what a node that serves the cluster (booted from the live medium,
// or a replica listed under servers:) has on top of the image's own root. It is
// diskless itself (this build's dist/, its run-time node_modules, the node binary that
// runs it), Debian's iPXE binaries for firmware that is not iPXE yet, and the systemd
// unit that starts `diskless serve`. Laid into a folder that becomes service.squashfs,
// the top read-only layer at boot.
import { chmod, copyFile, cp, mkdir, readdir, realpath, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { runtimePackages } from '../../lib/pkgdeps.js';
import { applyOverlay } from '../steps/customize.js';
import { globInRoot, resolveInRoot } from '../../rootfs/paths.js';
import { CommandError, run } from '../../lib/run.js';

/** iPXE binaries the boot service hands to firmware, from Debian's `ipxe` package. */
export const IPXE_FILES = ['undionly.kpxe', 'ipxe.efi', 'snponly.efi'];

export interface LayerInputs {
  /** Folder to fill. */
  dir: string;
  /** diskless's own package folder (package.json, dist/, node_modules/, templates/). */
  appRoot: string;
  /** The Node binary copied in (the one running this build). */
  nodeBinary: string;
  /** Host folder with the iPXE binaries. */
  ipxeDir: string;
  /** overlays/service/rootfs. */
  overlay: string;
  view: object;
  /** The cluster's public key (build-image --sign-key): laid in as TRUST_KEY_FILE, so the replica serves with --trust. */
  trustPem?: string;
  /** Host files the replica serves over TFTP by their absolute path (shim, signed GRUB, GRUB's multiboot2 module): laid in at the same paths. */
  chainFiles?: readonly string[];
}

/** Where the service layer keeps the cluster's public key; serve-start passes it as --trust. */
export const TRUST_KEY_FILE = 'etc/diskless/trust.pub';

/** Where distributions keep the C++ runtime the node binary links against. */
const LIBSTDCXX_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64'];

/**
 * The node binary the layer carries is dynamically linked (glibc, libstdc++): say so
 * before the build ends, not when a node fails to start its service.
 */
export async function missingNodeRuntime(root: string, templateFile: string): Promise<string | undefined> {
  for (const dir of LIBSTDCXX_DIRS) if ((await globInRoot(root, `${dir}/libstdc++.so.6*`)).length) return undefined;
  return `the service layer runs node, which needs libstdc++.so.6 in the image, and it has none: add libstdc++6 (or your distribution's package) to packages: in ${templateFile}`;
}

/** The x86-64 dynamic loader every glibc system has here (the node binary's PT_INTERP). */
const LOADER = '/lib64/ld-linux-x86-64.so.2';

/**
 * libstdc++ being there is not enough: the build host's node must run on the image's
 * glibc. Run it with the image's own loader and libraries (no chroot needed) and say
 * which glibc symbol is missing when it does not.
 */
export async function nodeFailsInImage(root: string, nodeBinary: string, templateFile: string): Promise<string | undefined> {
  const loader = await resolveInRoot(root, LOADER).catch(() => undefined);
  if (!loader || !existsSync(loader)) return `the service layer runs node, which needs ${LOADER} in the image, and it has none (${templateFile} makes no glibc image?)`;
  const libs: string[] = [];
  for (const d of LIBSTDCXX_DIRS) {
    const p = await resolveInRoot(root, d).catch(() => undefined);
    if (p && existsSync(p) && !libs.includes(p)) libs.push(p);
  }
  try {
    await run([loader, '--library-path', libs.join(':'), nodeBinary, '-e', 'process.exit(0)'], { timeoutMs: 60_000 });
    return undefined;
  } catch (err) {
    const why = err instanceof CommandError ? err.stderrTail || err.message : (err as Error).message;
    return (
      `the service layer ships this host's node (${nodeBinary}, ${process.version}), and it does not run on the image's libraries: ` +
      `${why.trim().split('\n').slice(-2).join(' ')}. Build on a host whose glibc is not newer than the image's, or use an image of a newer suite`
    );
  }
}

export interface LayerResult {
  packages: number;
  ipxeMissing: string[];
  chainMissing: string[];
}

export async function makeServiceLayer(o: LayerInputs): Promise<LayerResult> {
  const cli = join(o.appRoot, 'dist', 'cli', 'diskless.js');
  if (!existsSync(cli)) throw new Error(`the service layer carries the compiled diskless, but ${cli} is missing: run npm run build in ${o.appRoot}`);
  const lib = join(o.dir, 'usr/lib/diskless');
  const app = join(lib, 'app');
  await mkdir(app, { recursive: true });
  for (const f of ['package.json', 'README.md']) if (existsSync(join(o.appRoot, f))) await copyFile(join(o.appRoot, f), join(app, f));
  await cp(join(o.appRoot, 'dist'), join(app, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.map') });
  // Boot-script templates: what `serve` renders per node (the shared ones; a distribution's own boot/ too).
  await cp(join(o.appRoot, 'pxe', 'templates'), join(app, 'pxe', 'templates'), { recursive: true });
  for (const d of await readdir(join(o.appRoot, 'templates'), { withFileTypes: true }).catch(() => [])) {
    const own = join(o.appRoot, 'templates', d.name, 'boot');
    if (d.isDirectory() && existsSync(own)) await cp(own, join(app, 'templates', d.name, 'boot'), { recursive: true });
  }
  const packages = runtimePackages(o.appRoot);
  for (const rel of packages) {
    const src = join(o.appRoot, rel);
    // Nested node_modules are listed (and copied) as packages of their own when needed.
    await cp(src, join(app, rel), { recursive: true, filter: (s) => !(s !== src && basename(s) === 'node_modules') });
  }
  await copyFile(o.nodeBinary, join(lib, 'node'));
  await chmod(join(lib, 'node'), 0o755);
  const ipxe = join(lib, 'ipxe');
  await mkdir(ipxe);
  const have = existsSync(o.ipxeDir) ? await readdir(o.ipxeDir) : [];
  const ipxeMissing = IPXE_FILES.filter((f) => !have.includes(f));
  for (const f of IPXE_FILES.filter((f) => have.includes(f))) await copyFile(join(o.ipxeDir, f), join(ipxe, f));
  const chainMissing: string[] = [];
  for (const path of o.chainFiles ?? []) {
    const real = await realpath(path).catch(() => undefined);
    if (!real) {
      chainMissing.push(path);
      continue;
    }
    await mkdir(dirname(join(o.dir, path)), { recursive: true });
    await copyFile(real, join(o.dir, path));
  }
  await applyOverlay(o.overlay, o.dir, o.view);
  if (o.trustPem) {
    await mkdir(join(o.dir, 'etc/diskless'), { recursive: true });
    await writeFile(join(o.dir, TRUST_KEY_FILE), o.trustPem, { mode: 0o644 });
  }
  await writeFile(join(lib, 'live-layer'), 'This folder comes from the diskless service layer (service.squashfs).\n');
  return { packages: packages.length, ipxeMissing, chainMissing };
}
