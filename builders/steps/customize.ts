// customize: lay the overlays into the root (rendered with mustache), empty the
// machine-id so every node makes its own, and prune what a diskless node never needs.
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { render } from '../../lib/render.js';
import { globInRoot, safeJoin } from '../../rootfs/paths.js';
import { imageView } from '../view.js';
import { hashTree } from '../template.js';
import { packageVersion } from '../../lib/paths.js';
import { createHash } from 'node:crypto';
import type { BuildStep } from '../context.js';

const TEMPLATE_SUFFIX = '.mustache';

/** Every file below `srcRoot`, as image paths, rendered if it ends in .mustache. */
export async function applyOverlay(srcRoot: string, root: string, view: object): Promise<string[]> {
  const written: string[] = [];
  const walk = async (dir: string) => {
    for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const src = join(dir, e.name);
      if (e.isDirectory()) {
        await walk(src);
        continue;
      }
      let rel = relative(srcRoot, src);
      if (e.isSymbolicLink()) {
        // Symlinks are laid in as they are (systemd .wants links, alternatives).
        const dest = await safeJoin(root, rel, { createParents: true });
        await rm(dest, { recursive: true, force: true });
        await symlink(await readlink(src), dest);
        written.push(`/${rel}`);
        continue;
      }
      let data = await readFile(src);
      if (rel.endsWith(TEMPLATE_SUFFIX)) {
        rel = rel.slice(0, -TEMPLATE_SUFFIX.length);
        data = Buffer.from(render(data.toString('utf8'), view));
      }
      const dest = await safeJoin(root, rel, { createParents: true });
      const st = await lstat(dest).catch(() => undefined);
      if (st?.isSymbolicLink() || st?.isDirectory()) await rm(dest, { recursive: true, force: true });
      const mode = (await lstat(src)).mode & 0o111 ? 0o755 : 0o644;
      await writeFile(dest, data, { mode });
      written.push(`/${rel}`);
    }
  };
  await walk(srcRoot);
  return written;
}

export const customize: BuildStep<'bootstrap' | 'kernel', 'rootInputs'> = {
  name: 'customize',
  describe: 'apply overlays, empty machine-id, prune',
  needs: ['bootstrap', 'kernel'],
  async run(ctx, facts, report) {
    const view = imageView(ctx, facts.kernel.version);
    const sources = [
      ...ctx.template.overlays.map((o) => ({ label: `overlay ${o}`, dir: join(ctx.opts.overlaysDir, o, 'rootfs') })),
      { label: `template ${ctx.template.distro}`, dir: join(ctx.template.dir, 'rootfs') },
    ];
    const inputs = createHash('sha256').update(
      JSON.stringify({ source: facts.bootstrap.sourceHash, template: ctx.template.hash, name: ctx.name, builder: packageVersion() }),
    );
    for (const s of sources) {
      if (existsSync(s.dir)) inputs.update(`${s.label}\0${await hashTree(s.dir)}`);
      if (!existsSync(s.dir)) {
        if (s.label.startsWith('overlay')) throw new Error(`${ctx.template.file}: overlays: ${s.label} has no folder ${s.dir}`);
        continue;
      }
      const files = await applyOverlay(s.dir, ctx.root, view);
      report.detail(`${s.label}: ${files.join(', ')}`);
    }
    // An empty machine-id makes systemd generate one per boot (machine-id(5)).
    await writeFile(await safeJoin(ctx.root, 'etc/machine-id', { createParents: true }), '');
    const dbusId = await safeJoin(ctx.root, 'var/lib/dbus/machine-id').catch(() => undefined);
    if (dbusId) await rm(dbusId, { force: true });
    for (const pattern of ctx.template.prune) {
      for (const p of await globInRoot(ctx.root, pattern)) {
        await rm(p, { recursive: true, force: true });
        report.detail(`pruned /${relative(ctx.root, p)}`);
      }
    }
    for (const w of ctx.template.writable) await mkdir(await safeJoin(ctx.root, w.path, { createParents: true }), { recursive: true });
    return { rootInputs: inputs.digest('hex') };
  },
};
