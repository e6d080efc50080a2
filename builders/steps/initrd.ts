// initrd: assemble and compress the project's own initrd.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assembleInitrd, compress, kernelSupports } from '../initrd.js';
import { ROOT_FORMATS } from '../../rootfs/formats.js';
import { imageView } from './customize.js';
import type { BuildContext } from '../context.js';
import type { Step } from '../../lib/progress.js';

export const initrd: Step<BuildContext> = {
  name: 'initrd',
  describe: 'generate the initrd (busybox, modules, /init)',
  async run(ctx, report) {
    const kver = ctx.kernelVersion!;
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
      extraFiles: [{ path: 'etc/udhcpc.script', data: await readFile(join(initDir, 'udhcpc.script')), mode: 0o755 }],
      view: { ...imageView(ctx), rootFile: format.file, rootFormat: format.fsType },
      log: ctx.log,
    });
    ctx.modules = plan;
    if (plan.missingOptional.length) report.note(`optional modules this kernel lacks: ${plan.missingOptional.join(', ')}`);
    const packed = await compress(cpio, ctx.compression, ctx.log);
    await writeFile(join(ctx.outDir, 'initrd.img'), packed);
    ctx.artifacts.initrd = 'initrd.img';
    report.note(`${plan.modules.length} modules, ${(cpio.length / 1e6).toFixed(1)} MB cpio -> ${(packed.length / 1e6).toFixed(1)} MB ${ctx.compression}`);
  },
};
