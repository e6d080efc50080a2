// manifest.json: what an image version was built from, and the size and sha256 of
// every artifact. Replicas check pulled artifacts against it; the initrd checks the
// root image against it.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256File } from './hash.js';
import { MANIFEST_FILE } from './layout.js';

export interface Artifact {
  file: string;
  size: number;
  sha256: string;
}

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
  /** The firmware closure (build step firmware): mode, and files/bytes before, kept and dropped; `dropped.list` names the artifact listing the dropped paths. */
  firmware?: {
    mode: string;
    modules: number;
    named: number;
    before: { files: number; bytes: number };
    kept: { files: number; bytes: number };
    dropped: { files: number; bytes: number; list?: string };
  };
  /** Files and bytes each kind of trim (template trim:) left out of the root. */
  trimmed?: Record<string, { files: number; bytes: number }>;
  bootstrap: { method: string; cacheKey?: string; cached?: boolean; sourceHash: string };
  /** Hash of every input of the root image (bootstrap, template, overlays, name, builder). */
  rootInputs: string;
  builtAt: string;
  builder: string;
  /** build-image --keep: versions kept besides current, on the publisher and every replica (store/retention.ts); 0 keeps all. */
  keep?: number;
  artifacts: Record<string, Artifact>;
}

export async function describeArtifact(dir: string, file: string): Promise<Artifact> {
  const p = join(dir, file);
  return { file, size: (await stat(p)).size, sha256: await sha256File(p) };
}

/** The manifest.json bytes of a version folder, or undefined when there is none. */
export async function readManifestBytes(dir: string): Promise<Buffer | undefined> {
  return readFile(join(dir, MANIFEST_FILE)).catch(() => undefined);
}

export function formatManifest(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}
