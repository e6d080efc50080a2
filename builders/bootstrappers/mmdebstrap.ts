// Debian-family roots with mmdebstrap, signatures always checked against the
// template's keyring. The result is cached, keyed by everything that shapes it.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { renameDurable } from '../../lib/atomic.js';
import { join } from 'node:path';
import { run } from '../../lib/run.js';
import { removeTree } from '../../rootfs/remove.js';
import { rootFromCache } from '../../rootfs/overlay.js';
import { resolveTemplatePath, type Template } from '../template.js';
import type { Bootstrapper } from './index.js';
import type { StepReporter } from '../../lib/progress.js';
import { APT_START, describeApt, feedApt, megabytes } from '../progress/apt.js';

/** The mmdebstrap command line for a template (without the target). */
export function mmdebstrapArgs(t: Pick<Template, 'arch' | 'bootstrap' | 'packages' | 'kernel' | 'dir'>): string[] {
  const b = t.bootstrap;
  const include = [...new Set([...t.packages, t.kernel.package])];
  const argv = ['mmdebstrap', '--mode=root', `--variant=${b.variant}`, `--architectures=${t.arch}`];
  if (include.length) argv.push(`--include=${include.join(',')}`);
  if (b.keyring) argv.push(`--keyring=${resolveTemplatePath(t, b.keyring)}`);
  // Never install recommends: the template's package list is the whole list.
  argv.push('--aptopt=APT::Install-Recommends "false"');
  return argv;
}

export function sourceLines(t: Pick<Template, 'bootstrap'>): string[] {
  return t.bootstrap.sources.flatMap((s) => s.suites.map((suite) => `deb ${s.uri} ${suite} ${s.components.join(' ')}`));
}

export async function cacheKey(t: Template, mmdebstrapVersion: string): Promise<string> {
  const h = createHash('sha256');
  h.update(JSON.stringify({ argv: mmdebstrapArgs(t), sources: sourceLines(t), suite: t.bootstrap.suite, mmdebstrapVersion }));
  if (t.bootstrap.keyring) h.update(await readFile(resolveTemplatePath(t, t.bootstrap.keyring)));
  return h.digest('hex').slice(0, 32);
}

/**
 * apt's "Unable to locate package X" / "Package 'X' has no installation candidate", as a
 * message naming the template, the suite and the fix (a version in the name is the usual cause).
 */
export function missingPackages(output: string, t: Pick<Template, 'file' | 'variant' | 'bootstrap'>): string | undefined {
  const names = new Set<string>();
  for (const m of output.matchAll(/Unable to locate package (\S+)|Package '?([^\s']+)'? has no installation candidate/g)) names.add(m[1] ?? m[2]!);
  if (!names.size) return undefined;
  const list = [...names];
  const versioned = list.filter((n) => /\d+\.\d+/.test(n));
  return (
    `${t.file}: ${list.join(', ')} ${list.length > 1 ? 'are' : 'is'} not in ${t.bootstrap.suite}` +
    `${t.variant ? ` (packages of the base template or of variant ${t.variant})` : ''}. ` +
    (versioned.length
      ? `${versioned.join(', ')} name${versioned.length > 1 ? '' : 's'} a version: list the distribution's unversioned metapackage instead (e.g. xen-system-amd64, not xen-hypervisor-4.17-amd64), so the template works on any suite. `
      : '') +
    `'apt-cache policy <package>' on a ${t.bootstrap.suite} system shows what the suite has.`
  );
}

export const mmdebstrapBootstrapper: Bootstrapper = {
  method: 'mmdebstrap',
  tools: ['mmdebstrap', 'cp'],
  async bootstrap(ctx, report) {
    const t = ctx.template;
    const version = (await run(['mmdebstrap', '--version'], { log: ctx.log })).stdout.trim();
    const key = await cacheKey(t, version);
    const entry = join(ctx.opts.cacheDir, 'bootstrap', `${t.distro}-${key}`);
    const cachedRoot = join(entry, 'root');
    const cached = existsSync(join(entry, 'complete')) && !ctx.opts.noCache;
    if (cached) {
      report.note(`reusing the cached bootstrap ${entry} (--no-cache for a fresh one)`);
    } else {
      await mkdir(join(ctx.opts.cacheDir, 'bootstrap'), { recursive: true });
      const partial = `${entry}.partial-${process.pid}`;
      await removeTree(partial);
      await mkdir(partial);
      // --verbose passes apt's and dpkg's lines through: the progress is read from them. Not in the cache key.
      const argv = [...mmdebstrapArgs(t), '--verbose', t.bootstrap.suite, join(partial, 'root'), ...sourceLines(t)];
      const said: string[] = [];
      try {
        const apt = aptMeter(report);
        await run(argv, { log: ctx.log, onLine: (l) => (apt.line(l), said.push(l) > 400 && said.shift()), signal: ctx.signal });
        report.note(apt.summary());
        await writeFile(join(partial, 'complete'), `${new Date().toISOString()}\n${argv.join(' ')}\n`);
        await run(['sync', '-f', partial]); // on disk before it is named complete
        await removeTree(entry);
        await renameDurable(partial, entry);
      } catch (err) {
        await removeTree(partial);
        const why = missingPackages([...said, (err as Error).message].join('\n'), t);
        throw why ? new Error(why) : err;
      }
    }
    const from = await rootFromCache(cachedRoot, ctx.root, join(ctx.staging, 'layers'), { log: ctx.log, signal: ctx.signal });
    report.note(from.how === 'overlay' ? 'root: an overlay over the cached bootstrap' : `root: a copy of the cached bootstrap (no overlay: ${from.why})`);
    return { method: 'mmdebstrap', cacheKey: key, cached, sourceHash: key };
  },
};

/** Each line to the step's detail, and the package count and bytes to its progress. */
function aptMeter(report: StepReporter) {
  let s = APT_START;
  return {
    line(l: string) {
      report.detail(l);
      const next = feedApt(s, l);
      if (next === s) return;
      s = next;
      const p = describeApt(s);
      if (p) report.progress(p);
    },
    summary: () => `bootstrap: ${s.done} packages installed (${s.total} announced), ${megabytes(s.bytes)} downloaded`,
  };
}
