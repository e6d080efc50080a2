// manifest: what was built, from what, and the size and sha256 of every artifact.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageVersion } from '../../lib/paths.js';
import type { Artifact, BuildStep } from '../context.js';

export interface Manifest {
  schema: 1;
  name: string;
  version: string;
  distro: string;
  variant?: string;
  suite: string;
  arch: string;
  kernelVersion: string;
  cmdline: string;
  templateHash: string;
  rootFormat: string;
  initrdCompression: string;
  initrdModules: string[];
  /** Requested modules that are built into this kernel (nothing to ship). */
  initrdBuiltin: string[];
  bootstrap: { method: string; cacheKey?: string; cached?: boolean; sourceHash: string };
  /** Hash of every input of the root image (bootstrap, template, overlays, name, builder). */
  rootInputs: string;
  builtAt: string;
  builder: string;
  artifacts: Record<string, Artifact>;
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function describeArtifact(dir: string, file: string): Promise<Artifact> {
  const p = join(dir, file);
  return { file, size: (await stat(p)).size, sha256: await sha256File(p) };
}

export const manifest: BuildStep<'bootstrap' | 'kernel' | 'rootInputs' | 'modules' | 'artifacts'> = {
  name: 'manifest',
  describe: 'hash the artifacts and write manifest.json',
  needs: ['bootstrap', 'kernel', 'rootInputs', 'modules', 'artifacts'],
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
      bootstrap: facts.bootstrap,
      rootInputs: facts.rootInputs,
      builtAt: ctx.now.toISOString(),
      builder: `diskless ${packageVersion()}`,
      artifacts,
    };
    await writeFile(join(ctx.outDir, 'manifest.json'), `${JSON.stringify(m, null, 2)}\n`);
    for (const a of Object.values(artifacts)) report.detail(`${a.file} ${a.size} bytes sha256 ${a.sha256}`);
    return {};
  },
};
