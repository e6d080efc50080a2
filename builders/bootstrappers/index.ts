// One registered bootstrapper per way of making a root filesystem. The template's
// bootstrap.method picks one; the pipeline never asks which distribution it is.
import type { BootstrapInfo, BuildContext } from '../context.js';
import type { StepReporter } from '../../lib/progress.js';
import { mmdebstrapBootstrapper } from './mmdebstrap.js';
import { tarballBootstrapper } from './tarball.js';

export interface Bootstrapper {
  method: string;
  /** Host tools this method needs. */
  tools: string[];
  /** Fill ctx.root with the distribution's root filesystem; says how it was made. */
  bootstrap(ctx: BuildContext, report: StepReporter): Promise<BootstrapInfo>;
}

export const BOOTSTRAPPERS: Record<string, Bootstrapper> = {
  mmdebstrap: mmdebstrapBootstrapper,
  tarball: tarballBootstrapper,
};

export function bootstrapperFor(ctx: Pick<BuildContext, 'opts' | 'template'>): Bootstrapper {
  if (ctx.opts.fromTar) return tarballBootstrapper;
  const b = BOOTSTRAPPERS[ctx.template.bootstrap.method];
  if (!b) throw new Error(`${ctx.template.file}: bootstrap.method '${ctx.template.bootstrap.method}' is not one of ${Object.keys(BOOTSTRAPPERS).join(', ')}`);
  return b;
}
