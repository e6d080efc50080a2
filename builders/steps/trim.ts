// trim: leave out of the root what a diskless node never reads (template trim:): docs,
// man pages, locales but C/C.UTF-8 and trim.keepLocales, apt's package lists, /boot's
// copy of the kernel the vmlinuz artifact ships, and the module folders trim.modules
// names (then depmod in the image). Runs after the kernel step took the kernel, and
// before the firmware closure, which then drops the firmware only those modules named.
import { lstat, readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run } from '../../lib/run.js';
import { resolveInRoot } from '../../rootfs/paths.js';
import { parseModulesDep } from '../modules.js';
import { modulesToDrop, removeAll, TRIM_KINDS, trimTargets, type Freed, type TrimKind } from '../trim.js';
import type { BuildContext, BuildStep, Facts } from '../context.js';

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
const NONE: Freed = { files: 0, bytes: 0 };

/** The kernel file and its System.map, when the kernel artifact ships it; and the /vmlinuz links left dangling. */
async function bootKernel(ctx: Pick<BuildContext, 'root'>, facts: Pick<Facts, 'kernel' | 'artifacts'>): Promise<Freed> {
  if (!facts.artifacts.kernel) return NONE;
  const map = await resolveInRoot(ctx.root, `/boot/System.map-${facts.kernel.version}`);
  const freed = await removeAll([facts.kernel.file, map]);
  for (const link of ['/vmlinuz', '/vmlinuz.old', '/boot/vmlinuz', '/boot/vmlinuz.old']) {
    const p = join(ctx.root, link);
    const dangling = (await lstat(p).catch(() => undefined))?.isSymbolicLink() && !(await stat(await resolveInRoot(ctx.root, link)).catch(() => undefined));
    if (dangling) await rm(p, { force: true });
  }
  return freed;
}

/** Remove the module folders (and the modules needing theirs), then let the image's depmod rebuild its indexes. */
async function trimModules(ctx: Pick<BuildContext, 'root' | 'template' | 'log' | 'signal'>, kver: string, report: { note(l: string): void }): Promise<Freed> {
  const dir = await resolveInRoot(ctx.root, `/lib/modules/${kver}`);
  const dep = parseModulesDep(await readFile(join(dir, 'modules.dep'), 'utf8'));
  const drop = modulesToDrop(dep, ctx.template.trim.modules);
  const needing = drop.filter((m) => !ctx.template.trim.modules.some((f) => m.path.startsWith(`${f.replace(/\/+$/, '')}/`)));
  if (needing.length) report.note(`trim.modules: also left out ${needing.map((m) => m.name).join(', ')} (they need a module left out)`);
  const freed = await removeAll(drop.map((m) => join(dir, m.path)));
  for (const d of [...new Set(drop.map((m) => dirname(join(dir, m.path))))].sort().reverse()) {
    for (let p = d; p.startsWith(`${dir}/`) && !(await readdir(p).catch(() => ['?'])).length; p = dirname(p)) await rmdir(p);
  }
  if (drop.length) await run(['chroot', ctx.root, 'depmod', '-a', kver], { log: ctx.log, signal: ctx.signal });
  return freed;
}

export const trim: BuildStep<'kernel' | 'artifacts', 'trimmed'> = {
  name: 'trim',
  describe: "leave out docs, man pages, locales, apt lists, /boot's kernel copy and trim.modules (template trim:)",
  needs: ['kernel', 'artifacts'],
  async run(ctx, facts, report) {
    const t = ctx.template.trim;
    const on = (k: TrimKind) => (k === 'modules' ? t.modules.length > 0 : t[k]);
    const trimmed = {} as Record<TrimKind, Freed>;
    for (const kind of TRIM_KINDS) {
      if (!on(kind)) trimmed[kind] = NONE;
      else if (kind === 'bootKernel') trimmed[kind] = await bootKernel(ctx, facts);
      else if (kind === 'modules') trimmed[kind] = await trimModules(ctx, facts.kernel.version, report);
      else trimmed[kind] = await removeAll(await trimTargets(ctx.root, kind, t));
    }
    const total = Object.values(trimmed).reduce((n, f) => n + f.bytes, 0);
    const kept = TRIM_KINDS.filter((k) => !on(k));
    report.note(
      `left out ${mb(total)}: ${TRIM_KINDS.filter(on).map((k) => `${k} ${mb(trimmed[k].bytes)}`).join(', ')}` +
        `${kept.length ? `; kept ${kept.join(', ')} (template trim:)` : ''}`,
    );
    return { trimmed };
  },
};
