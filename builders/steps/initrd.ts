// initrd: assemble and compress the project's own initrd.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assembleInitrd, compress, kernelSupports } from '../initrd.js';
import { ROOT_FORMATS } from '../../rootfs/formats.js';
import { imageView } from '../view.js';
import type { BuildStep } from '../context.js';

export const initrd: BuildStep<'kernel', 'modules' | 'artifacts'> = {
  name: 'initrd',
  describe: 'generate the initrd (busybox, modules, /init)',
  needs: ['kernel'],
  async run(ctx, facts, report) {
    const kver = facts.kernel.version;
    const supported = await kernelSupports(ctx.root, kver, ctx.compression);
    if (supported === false) {
      throw new Error(`kernel ${kver} cannot unpack a ${ctx.compression} initrd; set initrd.compression to gzip in ${ctx.template.file} or pass --compression gzip`);
    }
    const format = ROOT_FORMATS[ctx.format];
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
      ],
      view: { ...imageView(ctx, kver), rootFile: format.file, rootFormat: format.fsType },
      log: ctx.log,
    });
    if (plan.missingOptional.length) report.note(`optional modules this kernel lacks: ${plan.missingOptional.join(', ')}`);
    const packed = await compress(cpio, ctx.compression, ctx.log);
    await writeFile(join(ctx.outDir, 'initrd.img'), packed);
    report.note(`${plan.modules.length} modules, ${(cpio.length / 1e6).toFixed(1)} MB cpio -> ${(packed.length / 1e6).toFixed(1)} MB ${ctx.compression}`);
    return { modules: plan, artifacts: { initrd: 'initrd.img' } };
  },
};
