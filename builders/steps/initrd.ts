// initrd: assemble and compress the project's own initrd. It runs after the root image
// (and the service layer): their sha256 is built into it, and /init checks what it
// fetches against that, never against a hash a replica or the command line offers.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assembleInitrd, compress, kernelSupports } from '../initrd.js';
import { ROOT_FORMATS } from '../../rootfs/formats.js';
import { imageView } from '../view.js';
import type { BuildStep } from '../context.js';

/** Where the initrd holds the layers' hashes (sha256sum format), read by /etc/root.sh. */
export const INITRD_SUMS = 'etc/diskless.sha256';

/** The layers' hashes as sha256sum lines, sorted by file. */
export function layerSums(layers: Readonly<Record<string, string>>): string {
  return Object.entries(layers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([file, sha]) => `${sha}  ${file}\n`).join('');
}

export const initrd: BuildStep<'kernel' | 'layers', 'modules' | 'artifacts'> = {
  name: 'initrd',
  describe: 'generate the initrd (busybox, modules, /init, the sha256 of the root and layers)',
  needs: ['kernel', 'layers'],
  async run(ctx, facts, report) {
    const kver = facts.kernel.version;
    const format = ROOT_FORMATS[ctx.format];
    if (!facts.layers[format.file]) throw new Error(`step initrd needs the sha256 of ${format.file}: put it after the root-image step`);
    const supported = await kernelSupports(ctx.root, kver, ctx.compression);
    if (supported === false) {
      throw new Error(`kernel ${kver} cannot unpack a ${ctx.compression} initrd; set initrd.compression to gzip in ${ctx.template.file} or pass --compression gzip`);
    }
    const initDir = join(ctx.opts.overlaysDir, 'initrd');
    const { cpio, plan } = await assembleInitrd({
      root: ctx.root,
      kernelVersion: kver,
      busyboxPath: ctx.template.initrd.busybox,
      modules: {
        required: [...new Set([...ctx.template.initrd.modules.required, format.module])],
        optional: [...ctx.template.initrd.modules.optional, ...ctx.template.initrd.modules.live],
      },
      initTemplate: await readFile(join(initDir, 'init.mustache'), 'utf8'),
      extraFiles: [
        { path: 'etc/udhcpc.script', data: await readFile(join(initDir, 'udhcpc.script')), mode: 0o755 },
        { path: 'etc/disks.sh', data: await readFile(join(initDir, 'disks.sh')), mode: 0o644 },
        { path: 'etc/root.sh', data: await readFile(join(initDir, 'root.sh')), mode: 0o644 },
        { path: INITRD_SUMS, data: Buffer.from(layerSums(facts.layers)), mode: 0o444 },
      ],
      view: { ...imageView(ctx, kver), rootFile: format.file, rootFormat: format.fsType },
      log: ctx.log,
    });
    if (plan.missingOptional.length) report.note(`optional modules this kernel lacks: ${plan.missingOptional.join(', ')}`);
    const packed = await compress(cpio, ctx.compression, ctx.log);
    await writeFile(join(ctx.outDir, 'initrd.img'), packed);
    report.note(`sha256 built in: ${Object.entries(facts.layers).map(([f, h]) => `${f} ${h.slice(0, 12)}`).join(', ')}`);
    report.note(`${plan.modules.length} modules, ${(cpio.length / 1e6).toFixed(1)} MB cpio -> ${(packed.length / 1e6).toFixed(1)} MB ${ctx.compression}`);
    return { modules: plan, artifacts: { initrd: 'initrd.img' } };
  },
};
