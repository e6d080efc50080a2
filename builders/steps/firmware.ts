// firmware: the firmware closure. Of /lib/firmware keep what the image's kernel modules
// name and the template's firmware.keep globs (builders/firmware.ts); list what went in
// firmware-dropped.txt, an artifact beside the manifest, which carries the totals.
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { resolveInRoot } from '../../rootfs/paths.js';
import { firmwareClosure, type FirmwarePlan } from '../firmware.js';
import { applyFirmwarePlan, listModules, namedFirmware, readFirmwareTree, treeBytes } from '../firmware-scan.js';
import type { BuildStep } from '../context.js';

export const FIRMWARE_DROPPED = 'firmware-dropped.txt';

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

export interface FirmwareSummary {
  mode: 'closure' | 'all' | 'none';
  /** Modules read and the distinct firmware names they gave. */
  modules: number;
  named: number;
  before: { files: number; bytes: number };
  kept: { files: number; bytes: number };
  /** `list`: the artifact naming each path dropped (relative to /lib/firmware), when any was. */
  dropped: { files: number; bytes: number; list?: string };
}

export const firmware: BuildStep<never, 'firmware' | 'artifacts'> = {
  name: 'firmware',
  describe: 'keep only the firmware the shipped modules name (template firmware:)',
  needs: [],
  async run(ctx, _facts, report) {
    const { mode, keep } = ctx.template.firmware;
    const dir = await resolveInRoot(ctx.root, '/lib/firmware');
    const tree = existsSync(dir) ? await readFirmwareTree(dir) : new Map();
    const before = { files: tree.size, bytes: treeBytes(tree) };
    const summary: FirmwareSummary = { mode, modules: 0, named: 0, before, kept: before, dropped: { files: 0, bytes: 0 } };
    if (mode === 'all' || tree.size === 0) {
      report.note(tree.size ? `/lib/firmware: firmware: all keeps its ${before.files} files, ${mb(before.bytes)}` : '/lib/firmware: empty or absent, nothing to keep or drop');
      return { firmware: summary, artifacts: {} };
    }
    let named = new Set<string>();
    if (mode === 'closure') {
      const modules = await listModules(ctx.root);
      const scratch = join(ctx.staging, 'modinfo');
      try {
        named = await namedFirmware(modules, scratch, { log: ctx.log, signal: ctx.signal, shown: (f) => `/${relative(ctx.root, f)}` });
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
      summary.modules = modules.length;
      summary.named = named.size;
    }
    const plan: FirmwarePlan = firmwareClosure(tree, named, keep);
    await applyFirmwarePlan(dir, plan);
    summary.kept = { files: plan.keep.length, bytes: treeBytes(tree, plan.keep) };
    summary.dropped = { files: plan.drop.length, bytes: plan.drop.reduce((n, d) => n + d.size, 0) };
    const artifacts: Record<string, string> = {};
    if (plan.drop.length) {
      await writeFile(join(ctx.outDir, FIRMWARE_DROPPED), plan.drop.map((d) => `${d.path}\n`).join(''), { mode: 0o644 });
      summary.dropped.list = artifacts.firmwareDropped = FIRMWARE_DROPPED;
    }
    report.note(
      `/lib/firmware: ${before.files} files, ${mb(before.bytes)} -> ${summary.kept.files} files, ${mb(summary.kept.bytes)} ` +
        `(${mode}: ${summary.named} names from ${summary.modules} modules, ${keep.length} keep globs; dropped ${plan.drop.length} files, ${mb(summary.dropped.bytes)}${plan.drop.length ? `, listed in ${FIRMWARE_DROPPED}` : ''})`,
    );
    if (plan.unusedKeep.length) report.note(`firmware.keep in ${ctx.template.file} matched nothing: ${plan.unusedKeep.join(', ')} (check the path under /lib/firmware)`);
    if (plan.missing.length) report.detail(`${plan.missing.length} firmware names no file in the image answers, e.g. ${plan.missing.slice(0, 10).join(', ')}`);
    return { firmware: summary, artifacts };
  },
};
