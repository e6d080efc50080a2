// The one view-model every mustache file is rendered with. Everything that varies
// (clock, version, kernel) is passed in; nothing here reads the environment.
import type { Template } from './template.js';
import type { BuildContext } from './context.js';

export interface ImageView {
  imageName: string;
  version: string;
  distro: string;
  suite: string;
  arch: string;
  kernelVersion: string;
  cmdline: string;
  builtAt: string;
  /** One apt line per (source, suite). */
  aptLines: { uri: string; suite: string; componentsJoined: string }[];
  writable: { path: string; mode: string }[];
  tmpfsPaths: string[];
}

export function buildView(
  t: Pick<Template, 'distro' | 'arch' | 'bootstrap' | 'kernel' | 'writable'>,
  facts: { imageName: string; version: string; kernelVersion: string; now: Date },
): ImageView {
  return {
    imageName: facts.imageName,
    version: facts.version,
    distro: t.distro,
    suite: t.bootstrap.suite,
    arch: t.arch,
    kernelVersion: facts.kernelVersion,
    cmdline: t.kernel.cmdline,
    builtAt: facts.now.toISOString(),
    aptLines: t.bootstrap.sources.flatMap((s) =>
      s.suites.map((suite) => ({ uri: s.uri, suite, componentsJoined: s.components.join(' ') })),
    ),
    writable: t.writable.map((w) => ({ path: w.path, mode: w.mode })),
    tmpfsPaths: t.writable.filter((w) => w.mode === 'tmpfs').map((w) => w.path),
  };
}

/** The view of the image being built, once its kernel is known. */
export function imageView(ctx: Pick<BuildContext, 'template' | 'name' | 'version' | 'now'>, kernelVersion: string): ImageView {
  return buildView(ctx.template, { imageName: ctx.name, version: ctx.version, kernelVersion, now: ctx.now });
}
