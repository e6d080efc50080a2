// kernel: take the kernel the template's package installed in the root.
import { chmod, copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { basename, dirname, join } from 'node:path';
import { globInRoot, resolveInRoot } from '../../rootfs/paths.js';
import { compareKernelVersions, isBzImage } from '../../rootfs/kernel.js';
import type { BuildContext, BuildStep } from '../context.js';

/** The newest kernel the template's kernel package installed in the root. */
export async function findKernel(ctx: Pick<BuildContext, 'root' | 'template' | 'log'>): Promise<{ version: string; file: string }> {
  const prefix = ctx.template.kernel.image;
  const dir = await resolveInRoot(ctx.root, dirname(prefix));
  const stem = basename(prefix);
  const names = await readdir(dir).catch(() => [] as string[]);
  const versions = names.filter((n) => n.startsWith(stem) && n.length > stem.length).map((n) => n.slice(stem.length));
  if (versions.length === 0) {
    throw new Error(
      `no kernel matching ${prefix}* in the image: is kernel.package '${ctx.template.kernel.package}' in ${ctx.template.file} right, and did it install?`,
    );
  }
  versions.sort(compareKernelVersions);
  const version = versions.at(-1)!;
  if (versions.length > 1) ctx.log.warn(`several kernels in the image (${versions.join(', ')}); using the newest, ${version}`);
  return { version, file: join(dir, `${stem}${version}`) };
}

/** The newest (by version order) file matching `pattern` in the image. */
async function newestMatch(root: string, pattern: string): Promise<string | undefined> {
  return (await globInRoot(root, pattern)).sort((a, b) => compareKernelVersions(basename(a), basename(b))).at(-1);
}

export const kernel: BuildStep<'kernel', 'artifacts'> = {
  name: 'kernel',
  describe: 'take the kernel (and any extra boot artifacts) from the root',
  needs: ['kernel'],
  async run(ctx, facts, report) {
    const k = facts.kernel;
    const head = await readFile(k.file);
    if (!isBzImage(head)) throw new Error(`${k.file} is not an x86 bzImage (no HdrS boot header)`);
    const modules = await resolveInRoot(ctx.root, `/lib/modules/${k.version}`);
    if (!(await readdir(modules).catch(() => undefined))) {
      throw new Error(`kernel ${k.version} has no /lib/modules/${k.version} in the image`);
    }
    await copyFile(k.file, join(ctx.outDir, 'vmlinuz'));
    await chmod(join(ctx.outDir, 'vmlinuz'), 0o644); // /boot/vmlinuz-* is 0600 on Debian; artifacts are served, so 0644 like the rest
    const artifacts: Record<string, string> = { kernel: 'vmlinuz' };
    for (const a of ctx.template.artifacts) {
      const src = await newestMatch(ctx.root, a.from);
      if (!src) throw new Error(`${ctx.template.file}: artifacts ${a.name}: nothing in the image matches ${a.from} (is the package that installs it in packages?)`);
      const data = await readFile(src);
      await writeFile(join(ctx.outDir, a.file), a.gunzip ? gunzipSync(data) : data);
      artifacts[a.name] = a.file;
      report.note(`${a.name}: ${a.from} -> ${a.file}${a.gunzip ? ' (gunzipped)' : ''}`);
    }
    report.note(`kernel ${k.version}, ${(head.length / 1e6).toFixed(1)} MB`);
    return { artifacts };
  },
};
