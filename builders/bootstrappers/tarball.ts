// Root filesystem from a tarball (--from-tar FILE, or bootstrap.tarball in a template):
// how a distribution without an apt-style bootstrapper is added.
import { existsSync } from 'node:fs';
import { resolveTemplatePath } from '../template.js';
import { extractTarball } from '../tarextract.js';
import type { Bootstrapper } from './index.js';
import { sha256File } from '../../store/hash.js';

export const tarballBootstrapper: Bootstrapper = {
  method: 'tarball',
  tools: [],
  async bootstrap(ctx, report) {
    const file = ctx.opts.fromTar ?? (ctx.template.bootstrap.tarball && resolveTemplatePath(ctx.template, ctx.template.bootstrap.tarball));
    if (!file) {
      throw new Error(`${ctx.template.file}: bootstrap.method is tarball but no tarball was given: pass --from-tar FILE or set bootstrap.tarball`);
    }
    if (!existsSync(file)) throw new Error(`--from-tar: ${file} does not exist`);
    const stats = await extractTarball(file, ctx.root, {
      log: ctx.log,
      onProgress: (s) => report.detail(`${s.entries} entries, ${(s.bytes / 1e6).toFixed(0)} MB`),
    });
    report.note(`extracted ${stats.entries} entries (${stats.files} files, ${(stats.bytes / 1e6).toFixed(1)} MB) from ${file}`);
    for (const s of stats.skipped) ctx.log.warn(`tarball entry skipped: ${s}`);
    return { method: 'tarball', sourceHash: await sha256File(file) };
  },
};
