// manifest: what was built, from what, and the size and sha256 of every artifact.
import { join } from 'node:path';
import { packageVersion } from '../../lib/paths.js';
import { writeFileAtomic } from '../../lib/atomic.js';
import { describeArtifact, formatManifest, type Artifact, type Manifest } from '../../store/manifest.js';
import { MANIFEST_FILE } from '../../store/layout.js';
import type { BuildContext } from '../context.js';
import type { Step } from '../../lib/progress.js';

export const manifest: Step<BuildContext> = {
  name: 'manifest',
  describe: 'hash the artifacts and write manifest.json',
  async run(ctx, report) {
    const artifacts: Record<string, Artifact> = {};
    for (const [key, file] of Object.entries(ctx.artifacts).sort()) artifacts[key] = await describeArtifact(ctx.outDir, file);
    const m: Manifest = {
      schema: 1,
      name: ctx.name,
      version: ctx.version,
      distro: ctx.template.distro,
      variant: ctx.template.variant,
      suite: ctx.template.bootstrap.suite,
      arch: ctx.template.arch,
      kernelVersion: ctx.kernelVersion!,
      cmdline: ctx.template.kernel.cmdline,
      templateHash: ctx.template.hash,
      rootFormat: ctx.format,
      initrdCompression: ctx.compression,
      initrdModules: (ctx.modules?.modules ?? []).map((x) => x.name),
      initrdBuiltin: ctx.modules?.builtin ?? [],
      bootstrap: ctx.bootstrapInfo ?? { method: 'unknown', sourceHash: '' },
      rootInputs: ctx.rootInputs ?? '',
      builtAt: ctx.now.toISOString(),
      builder: `diskless ${packageVersion()}`,
      artifacts,
    };
    await writeFileAtomic(join(ctx.outDir, MANIFEST_FILE), formatManifest(m));
    for (const a of Object.values(artifacts)) report.detail(`${a.file} ${a.size} bytes sha256 ${a.sha256}`);
  },
};
