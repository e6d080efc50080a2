// manifest: what was built, from what, and the size and sha256 of every artifact.
import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { keyId, loadPrivateKey, SIG_SUFFIX, signBytes } from '../../lib/sign.js';
import { packageVersion } from '../../lib/paths.js';
import { writeFileAtomic } from '../../lib/atomic.js';
import { describeArtifact, formatManifest, type Artifact, type Manifest } from '../../store/manifest.js';
import { MANIFEST_FILE } from '../../store/layout.js';
import type { BuildStep } from '../context.js';

export const manifest: BuildStep<'bootstrap' | 'kernel' | 'rootInputs' | 'modules' | 'artifacts' | 'firmware' | 'trimmed'> = {
  name: 'manifest',
  describe: 'hash the artifacts and write manifest.json',
  needs: ['bootstrap', 'kernel', 'rootInputs', 'modules', 'artifacts', 'firmware', 'trimmed'],
  async run(ctx, facts, report) {
    const artifacts: Record<string, Artifact> = {};
    for (const [key, file] of Object.entries(facts.artifacts).sort()) artifacts[key] = await describeArtifact(ctx.outDir, file);
    const m: Manifest = {
      schema: 1,
      name: ctx.name,
      version: ctx.version,
      distro: ctx.template.distro,
      variant: ctx.template.variant,
      suite: ctx.template.bootstrap.suite,
      arch: ctx.template.arch,
      kernelVersion: facts.kernel.version,
      cmdline: ctx.template.kernel.cmdline,
      templateHash: ctx.template.hash,
      rootFormat: ctx.format,
      initrdCompression: ctx.compression,
      initrdModules: facts.modules.modules.map((x) => x.name),
      initrdBuiltin: facts.modules.builtin,
      firmware: facts.firmware,
      trimmed: facts.trimmed,
      bootstrap: facts.bootstrap,
      rootInputs: facts.rootInputs,
      builtAt: ctx.now.toISOString(),
      builder: `diskless ${packageVersion()}`,
      keep: ctx.opts.keep ?? 0,
      artifacts,
    };
    const text = formatManifest(m);
    await writeFileAtomic(join(ctx.outDir, MANIFEST_FILE), text);
    if (ctx.opts.signKey) {
      // Signed in the staging folder: published with the version, whole or not at all.
      const key = await loadPrivateKey(ctx.opts.signKey);
      await writeFileAtomic(join(ctx.outDir, `${MANIFEST_FILE}${SIG_SUFFIX}`), signBytes(Buffer.from(text), key));
      report.note(`${MANIFEST_FILE}${SIG_SUFFIX}: signed by key ${keyId(createPublicKey(key))}`);
    }
    for (const a of Object.values(artifacts)) report.detail(`${a.file} ${a.size} bytes sha256 ${a.sha256}`);
    return {};
  },
};
