// build-image as a list of named steps:
//   bootstrap -> customize -> kernel -> initrd -> root-image -> manifest -> publish
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTools } from '../lib/run.js';
import { runSteps, type Step, type StepTiming } from '../lib/progress.js';
import type { Logger } from '../lib/log.js';
import { loadTemplate } from './template.js';
import { bootstrapperFor } from './bootstrappers/index.js';
import { customize } from './steps/customize.js';
import { kernel } from './steps/kernel.js';
import { initrd } from './steps/initrd.js';
import { rootImage } from './steps/rootimage.js';
import { manifest } from './steps/manifest.js';
import { live, LIVE_TOOLS } from './steps/live.js';
import { service } from './steps/service.js';
import { liveEntries, liveHostProblems } from './live/iso.js';
import { loadInventory } from '../cluster/inventory.js';
import { lockImage } from '../store/lock.js';
import { createStaging, publish, pruneVersions, sweepStaging } from '../store/publish.js';
import { removeTree } from '../rootfs/remove.js';
import { ROOT_FORMATS } from '../rootfs/formats.js';
import type { BuildContext, BuildOptions } from './context.js';

const bootstrap: Step<BuildContext> = {
  name: 'bootstrap',
  describe: 'make the root filesystem',
  async run(ctx, report) {
    await bootstrapperFor(ctx).bootstrap(ctx, report);
  },
};

const publishStep: Step<BuildContext> = {
  name: 'publish',
  describe: 'move the version into place and point current at it',
  async run(ctx, report) {
    const final = await publish(join(ctx.opts.outDir, ctx.name), ctx.outDir, ctx.version);
    report.note(`published ${final}`);
    const removed = await pruneVersions(join(ctx.opts.outDir, ctx.name), ctx.opts.keep ?? 0);
    if (removed.length) report.note(`removed old versions (--keep ${ctx.opts.keep}): ${removed.join(', ')}`);
  },
};

export const STEPS: Step<BuildContext>[] = [bootstrap, customize, kernel, initrd, rootImage, manifest, publishStep];
/** The steps a build runs: the service layer with --service or --live, the medium with --live. */
export function stepsFor(opts: BuildOptions): Step<BuildContext>[] {
  const steps: Step<BuildContext>[] = [bootstrap, customize, kernel, initrd, rootImage];
  if (opts.service || opts.live) steps.push(service);
  steps.push(manifest);
  if (opts.live) steps.push(live);
  return [...steps, publishStep];
}

export interface BuildResult {
  name: string;
  version: string;
  dir: string;
  timings: StepTiming[];
}

export async function buildImage(
  opts: BuildOptions,
  deps: { log: Logger; now?: Date; signal?: AbortSignal; steps?: Step<BuildContext>[] },
): Promise<BuildResult> {
  const template = await loadTemplate(opts.templatesDir, opts.distro, opts.variant);
  const format = opts.format ?? template.rootImage.format;
  const compression = opts.compression ?? template.initrd.compression;
  const tools = [...bootstrapperFor({ opts, template }).tools, ...ROOT_FORMATS[format].tools, 'cp', 'sync', 'rm'];
  if (compression === 'zstd') tools.push('zstd');
  if (opts.service || opts.live) tools.push('mksquashfs');
  if (opts.live) {
    // Fail before a long bootstrap: the medium's host tools and the inventory it serves.
    tools.push(...LIVE_TOOLS);
    const problems = liveHostProblems();
    if (problems.length) throw new Error(`--live: ${problems.join('; ')}`);
    liveEntries(await loadInventory(opts.live.inventory), opts.live.inventory);
  }
  await requireTools([...new Set(tools)]);

  const name = opts.name ?? [template.distro, template.bootstrap.suite, template.arch, template.variant].filter(Boolean).join('-');
  const imageDir = join(opts.outDir, name);
  const now = deps.now ?? new Date();
  const release = await lockImage(imageDir);
  let staging: string | undefined;
  try {
    for (const d of await sweepStaging(imageDir)) deps.log.info(`removed staging left by an interrupted build: ${d}`);
    const s = await createStaging(imageDir, now);
    staging = s.staging;
    const ctx: BuildContext = {
      opts,
      template,
      log: deps.log,
      now,
      signal: deps.signal ?? new AbortController().signal,
      name,
      version: s.version,
      staging,
      root: join(staging, 'root'),
      outDir: join(staging, 'out'),
      format,
      compression,
      artifacts: {},
    };
    await mkdir(ctx.root);
    await mkdir(ctx.outDir);
    deps.log.info(`building ${name} version ${s.version} from templates/${template.distro} (${format}, ${compression} initrd)`);
    const timings = await runSteps(deps.steps ?? stepsFor(opts), ctx, { log: deps.log, signal: ctx.signal });
    return { name, version: s.version, dir: join(imageDir, s.version), timings };
  } finally {
    if (staging) await removeTree(staging);
    await release();
  }
}
