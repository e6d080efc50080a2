// live: the spark plug. A bootable ISO/USB image (BIOS and UEFI) of a node that runs
// the boot service from RAM with this image and the inventory bundled, so the first
// node of a cluster with nothing running boots from it and PXE-boots the others.
import { existsSync } from 'node:fs';
import { copyFile, link, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { render } from '../../lib/render.js';
import { loadPrivateKey, signBytes } from '../../lib/sign.js';
import { projectRoot } from '../../lib/paths.js';
import { loadInventory, type Inventory } from '../../cluster/inventory.js';
import { liveEntries, liveHostProblems, makeIso, writeSums, type LiveEntry } from '../live/iso.js';
import { sha256File } from '../../store/hash.js';
import { CURRENT, currentVersion, versionDir } from '../../store/layout.js';
import type { BuildStep, LiveOptions } from '../context.js';

export const LIVE_TOOLS = ['grub-mkrescue', 'xorriso', 'mformat'];

/** What --live serves, checked before any work: the host's grub pieces, the inventory and its boot entries. */
export interface LivePlan {
  opts: LiveOptions;
  inv: Inventory;
  entries: LiveEntry[];
}

export async function prepareLive(opts: LiveOptions): Promise<LivePlan> {
  const problems = liveHostProblems();
  if (problems.length) throw new Error(`--live: ${problems.join('; ')}`);
  const inv = await loadInventory(opts.inventory);
  return { opts, inv, entries: liveEntries(inv, opts.inventory) };
}

/** Hard-link (same filesystem, no copy) every file of version folder `from` into `to`. */
async function linkVersion(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const f of await readdir(from)) if ((await stat(join(from, f))).isFile()) await link(join(from, f), join(to, f));
}

/** The live step for a plan that prepareLive checked before the build began. */
export const liveStep = ({ opts, inv, entries }: LivePlan): BuildStep<'artifacts'> => ({
  name: 'live',
  describe: 'make the live ISO/USB medium (BIOS and UEFI) that serves the cluster from RAM',
  needs: ['artifacts'],
  async run(ctx, { artifacts }, report) {
    const iso = join(ctx.staging, 'iso');
    const bundle = join(iso, 'diskless');
    const images = join(bundle, 'images');
    await linkVersion(ctx.outDir, versionDir(images, ctx.name, ctx.version));
    await symlink(ctx.version, join(images, ctx.name, CURRENT));
    const bundled = [ctx.name];
    for (const other of opts.bundle ?? []) {
      const dir = join(ctx.opts.outDir, other);
      const version = existsSync(join(dir, CURRENT)) ? await currentVersion(dir) : undefined;
      if (!version) throw new Error(`--bundle ${other}: no ${dir}/current; build it first (build-image ... --name ${other}) or drop it`);
      await linkVersion(join(dir, version), versionDir(images, other, version));
      await symlink(version, join(images, other, CURRENT));
      bundled.push(other);
    }
    const unserved = [...new Set(inv.nodes.map((n) => n.image))].filter((i) => !bundled.includes(i));
    if (unserved.length) report.note(`inventory nodes use images not on the medium (they get an error script until a replica has them): ${unserved.join(', ')}; add --bundle NAME`);
    await writeFile(join(bundle, 'cluster.yaml'), inv.text);
    // A replica node booted from this build's service layer trusts the build's key, so it
    // joins the medium only if the bundled inventory is signed by it: sign it here.
    if (ctx.opts.signKey) {
      await writeFile(join(bundle, 'cluster.yaml.sig'), signBytes(Buffer.from(inv.text), await loadPrivateKey(ctx.opts.signKey)));
      report.detail('cluster.yaml signed with the --sign-key key for the medium (cluster.yaml.sig)');
    } else if (existsSync(`${opts.inventory}.sig`)) {
      await copyFile(`${opts.inventory}.sig`, join(bundle, 'cluster.yaml.sig'));
    }

    if (!artifacts.service) throw new Error('--live needs the service step before it (the live node boots with service.squashfs)');
    const files = await writeSums(bundle);
    report.detail(`${files} files checksummed in SHA256SUMS`);

    const cmdline = (e: { address: string; prefix: number }) =>
      [
        ctx.template.kernel.cmdline,
        `diskless.live=${e.address}/${e.prefix}`,
        `diskless.image=${ctx.name}/${ctx.version}`,
        `diskless.layers=${artifacts.service}`,
        `diskless.name=${inv.cluster}-live`,
      ].join(' ');
    // The distribution's own boot menu, else the one shipped beside this step's code.
    const grubTemplate = join(ctx.opts.templatesDir, ctx.opts.distro, 'boot', 'live.grub.cfg.mustache');
    const grubFile = existsSync(grubTemplate) ? grubTemplate : join(projectRoot(), 'builders', 'live', 'live.grub.cfg.mustache');
    await mkdir(join(iso, 'boot', 'grub'), { recursive: true });
    await writeFile(
      join(iso, 'boot', 'grub', 'grub.cfg'),
      render(await readFile(grubFile, 'utf8'), { cluster: inv.cluster, image: { name: ctx.name, version: ctx.version }, entries: entries.map((e) => ({ ...e, cmdline: cmdline(e) })) }),
    );
    const out = join(ctx.outDir, 'live.iso');
    await makeIso(iso, out, { log: ctx.log, signal: ctx.signal });
    await writeFile(`${out}.sha256`, `${await sha256File(out)}  live.iso\n`);
    const size = (await stat(out)).size;
    report.note(`live.iso: ${(size / 1e6).toFixed(0)} MB, serves cluster ${inv.cluster} as ${entries.map((e) => e.address).join(' or ')} (boot menu); images: ${bundled.join(', ')}`);
    report.note('write it to a USB stick with: dd if=live.iso of=/dev/sdX bs=4M conv=fsync (BIOS and UEFI), or boot it as a CD');
    return {};
  },
});
