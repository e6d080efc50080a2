// root image: the customized root as a read-only squashfs or EROFS image.
import { join } from 'node:path';
import { ROOT_FORMATS } from '../../rootfs/formats.js';
import type { BuildContext } from '../context.js';
import type { Step } from '../../lib/progress.js';

export const rootImage: Step<BuildContext> = {
  name: 'root-image',
  describe: 'make the read-only root image',
  async run(ctx, report) {
    const format = ROOT_FORMATS[ctx.format];
    const out = join(ctx.outDir, format.file);
    await format.build(ctx.root, out, { log: ctx.log, onLine: (l) => report.detail(l), signal: ctx.signal });
    report.detail(await format.verify(out, { log: ctx.log }));
    ctx.artifacts.root = format.file;
  },
};
