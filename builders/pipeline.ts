// build-image as a list of named steps:
//   bootstrap -> customize -> kernel -> trim -> firmware -> root-image [-> service] -> initrd -> manifest -> publish
// The initrd comes after the layers it mounts: their sha256 is built into it.
// Each step returns the facts it makes (context.ts Facts); the pipeline hands them on.
import { mkdir, rmdir } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { requireTools } from '../lib/run.js';
import { runSteps, type Step, type StepTiming } from '../lib/progress.js';
import type { Logger } from '../lib/log.js';
import type { StatusLine } from '../lib/status-line.js';
import { imageNameFor, loadTemplate } from './template.js';
import { bootstrapperFor } from './bootstrappers/index.js';
import { customize } from './steps/customize.js';
import { findKernel, kernel } from './steps/kernel.js';
import { firmware } from './steps/firmware.js';
import { trim } from './steps/trim.js';
import { initrd } from './steps/initrd.js';
import { rootImage } from './steps/rootimage.js';
import { manifest } from './steps/manifest.js';
import { liveStep, prepareLive, LIVE_TOOLS, type LivePlan } from './steps/live.js';
import { service } from './steps/service.js';
import { lockImage } from '../store/lock.js';
import { createStaging, publish, pruneVersions, sweepStaging } from '../store/publish.js';
import { removeTree } from '../rootfs/remove.js';
import { loadPrivateKey } from '../lib/sign.js';
import { ROOT_FORMATS } from '../rootfs/formats.js';
import type { AnyBuildStep, BuildContext, BuildOptions, BuildStep, Facts } from './context.js';

/** The root filesystem, and the kernel its kernel package installed: customize renders with its version. */
const bootstrap: BuildStep<never, 'bootstrap' | 'kernel'> = {
  name: 'bootstrap',
  describe: 'make the root filesystem',
  needs: [],
  async run(ctx, _facts, report) {
    const info = await bootstrapperFor(ctx).bootstrap(ctx, report);
    return { bootstrap: info, kernel: await findKernel(ctx) };
  },
};

const publishStep: BuildStep = {
  name: 'publish',
  describe: 'move the version into place and point current at it',
  needs: [],
  async run(ctx, _facts, report) {
    const final = await publish(join(ctx.opts.outDir, ctx.name), ctx.outDir, ctx.version);
    report.note(`published ${final}`);
    const removed = await pruneVersions(join(ctx.opts.outDir, ctx.name), ctx.opts.keep ?? 0);
    if (removed.length) report.note(`removed old versions (--keep ${ctx.opts.keep}): ${removed.join(', ')}`);
    return {};
  },
};

/** The steps a build runs: the service layer with --service or --live, the medium with --live. */
export function stepsFor(opts: Pick<BuildOptions, 'service'>, live?: LivePlan): AnyBuildStep[] {
  const steps: AnyBuildStep[] = [bootstrap, customize, kernel, trim, firmware, rootImage];
  if (opts.service || live) steps.push(service);
  steps.push(initrd, manifest);
  if (live) steps.push(liveStep(live));
  return [...steps, publishStep];
}

/** Run the steps in order, handing each the facts the steps before it made (artifacts and layers merged). */
export function runBuildSteps(steps: AnyBuildStep[], ctx: BuildContext, status?: StatusLine): Promise<StepTiming[]> {
  let facts: Partial<Facts> = { artifacts: {}, layers: {} };
  const timed = steps.map(
    (s): Step<BuildContext> => ({
      name: s.name,
      describe: s.describe,
      async run(c, report) {
        const missing = s.needs.filter((k) => facts[k] === undefined);
        if (missing.length) throw new Error(`step ${s.name} needs ${missing.join(', ')}, which no step before it made`);
        const made = await s.run(c, facts as Facts, report);
        facts = { ...facts, ...made, artifacts: { ...facts.artifacts, ...made.artifacts }, layers: { ...facts.layers, ...made.layers } };
      },
    }),
  );
  return runSteps(timed, ctx, { log: ctx.log, signal: ctx.signal, status });
}

const NEEDS_ROOT = 'build-image needs root (mmdebstrap --mode=root, chown and mknod in the image root): run it with sudo';

/** What the options and the template decide, checked before any work: a bad argument fails here. */
async function planBuild(opts: BuildOptions) {
  const template = await loadTemplate(opts.templatesDir, opts.distro, opts.variant);
  const format = opts.format ?? template.rootImage.format;
  const compression = opts.compression ?? template.initrd.compression;
  // Fail before a long bootstrap: the medium's host pieces and the inventory it serves.
  const live = opts.live && (await prepareLive(opts.live));
  if (opts.signKey) await loadPrivateKey(opts.signKey); // a bad key fails now, not after the bootstrap
  const tools = [...bootstrapperFor({ opts, template }).tools, ...ROOT_FORMATS[format].tools, 'cp', 'sync', 'rm'];
  if (compression === 'zstd') tools.push('zstd');
  if (opts.service || opts.live) tools.push('mksquashfs');
  if (opts.live) tools.push(...LIVE_TOOLS);
  const name = opts.name ?? imageNameFor(template);
  return { template, format, compression, live, tools: [...new Set(tools)], name };
}

/** A path as the user would type it: relative when under the working folder, else absolute. */
function shownPath(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : p;
}

export interface BuildResult {
  name: string;
  version: string;
  dir: string;
  timings: StepTiming[];
  /** Wall time of the whole build, from the lock to the build tree removed. */
  seconds: number;
}

export async function buildImage(
  opts: BuildOptions,
  /** `status`: a line redrawn in place with the running step's progress (a TTY). */
  deps: { log: Logger; now?: Date; signal?: AbortSignal; uid?: number; status?: StatusLine },
): Promise<BuildResult> {
  const { template, format, compression, live, tools, name } = await planBuild(opts);
  if ((deps.uid ?? process.getuid?.()) !== 0) throw new Error(NEEDS_ROOT);
  await requireTools(tools);

  const started = performance.now();
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
    };
    await mkdir(ctx.root);
    await mkdir(ctx.outDir);
    deps.log.info(`building ${name} version ${s.version} from ${shownPath(template.dir)} (${format}, ${compression} initrd)`);
    const timings = await runBuildSteps(stepsFor(opts, live), ctx, deps.status);
    // Removing the build tree takes seconds on a full root: say so, and count it in the build time.
    deps.log.info('removing the build tree…');
    await removeTree(staging);
    staging = undefined;
    return { name, version: s.version, dir: join(imageDir, s.version), timings, seconds: (performance.now() - started) / 1000 };
  } finally {
    if (staging) await removeTree(staging);
    await release();
    await rmdir(imageDir).catch(() => {}); // only if empty: a failed first build leaves no image folder
  }
}
