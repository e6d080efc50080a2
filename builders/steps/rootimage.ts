// root image: the customized root as a read-only squashfs or EROFS image. When an
// earlier version of this image was made from exactly the same inputs (same
// bootstrap, template, overlays) its root image is reused after a hash check.
import { existsSync } from 'node:fs';
import { copyFile, link, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT_FORMATS } from '../../rootfs/formats.js';
import { sha256File } from '../../store/hash.js';
import { imageDir as imageDirOf, listVersions, MANIFEST_FILE } from '../../store/layout.js';
import type { Manifest } from '../../store/manifest.js';
import type { BuildContext, BuildStep } from '../context.js';
import { ROOT_IMAGE_PROGRESS } from '../progress/index.js';
import { mksquashfsFrame, stripTerminal } from '../progress/squashfs.js';

/** An earlier version's root image with the same inputs and a hash that still checks out. */
export async function findReusable(
  ctx: Pick<BuildContext, 'opts' | 'name' | 'format'> & { rootInputs?: string },
): Promise<{ file: string; sha256: string } | undefined> {
  if (!ctx.rootInputs || ctx.opts.noCache) return undefined;
  const imageDir = imageDirOf(ctx.opts.outDir, ctx.name);
  for (const v of (await listVersions(imageDir)).reverse()) {
    const m = JSON.parse(await readFile(join(imageDir, v, MANIFEST_FILE), 'utf8').catch(() => '{}')) as Partial<Manifest>;
    const art = m.artifacts?.root;
    if (m.rootInputs !== ctx.rootInputs || m.rootFormat !== ctx.format || !art) continue;
    const file = join(imageDir, v, art.file);
    if (existsSync(file) && (await sha256File(file)) === art.sha256) return { file, sha256: art.sha256 };
  }
  return undefined;
}

export const rootImage: BuildStep<'rootInputs', 'artifacts' | 'layers'> = {
  name: 'root-image',
  describe: 'make the read-only root image',
  needs: ['rootInputs'],
  async run(ctx, facts, report) {
    const format = ROOT_FORMATS[ctx.format];
    const out = join(ctx.outDir, format.file);
    const reuse = await findReusable({ ...ctx, rootInputs: facts.rootInputs });
    if (reuse) {
      await link(reuse.file, out).catch(() => copyFile(reuse.file, out));
      report.note(`inputs unchanged: reusing ${reuse.file} (sha256 checked; --no-cache rebuilds it)`);
    } else {
      const meter = await ROOT_IMAGE_PROGRESS[ctx.format](ctx.root);
      const onLine = (l: string) => {
        // mksquashfs's bar, four frames a second, is progress and no detail line for --verbose.
        if (!mksquashfsFrame(l)) report.detail(stripTerminal(l));
        const p = meter(l);
        if (p) report.progress(p);
      };
      await format.build(ctx.root, out, { log: ctx.log, onLine, signal: ctx.signal });
    }
    report.note(await format.verify(out, { log: ctx.log }));
    const sha256 = reuse?.sha256 ?? (await sha256File(out));
    return { artifacts: { root: format.file }, layers: { [format.file]: sha256 } };
  },
};
