// What the build steps share: the options the user gave, the loaded template, and
// the facts each step adds for the next (kernel version, artifact files).
import type { Logger } from '../lib/log.js';
import type { Template } from './template.js';
import type { ModulePlan } from './modules.js';
import type { RootFormat } from '../rootfs/formats.js';

export interface BuildOptions {
  distro: string;
  templatesDir: string;
  overlaysDir: string;
  outDir: string;
  cacheDir: string;
  /** Image name; default <distro>-<suite>-<arch>. */
  name?: string;
  format?: RootFormat;
  compression?: 'zstd' | 'gzip';
  /** Build from this root-filesystem tarball instead of bootstrapping. */
  fromTar?: string;
  noCache?: boolean;
  /** Template variant, e.g. xen-dom0. */
  variant?: string;
  /** Versions to keep per image after publishing (current always stays); 0 or unset keeps all. */
  keep?: number;
  /** Also make the service layer (service.squashfs), so nodes listed as servers run a replica. */
  service?: boolean;
  /** Where the host's iPXE binaries are, for the service layer (default /usr/lib/ipxe). */
  ipxeDir?: string;
  /** Also make the live ISO/USB medium (the spark plug) serving this inventory. */
  live?: LiveOptions;
}

export interface LiveOptions {
  /** The cluster inventory the live node serves. */
  inventory: string;
  /** More images from the output folder (their current versions) to put on the medium. */
  bundle?: string[];
}

export interface BuildContext {
  opts: BuildOptions;
  template: Template;
  log: Logger;
  now: Date;
  signal: AbortSignal;
  name: string;
  version: string;
  /** Private staging folder for this build: root/ and out/ live here. */
  staging: string;
  /** The image root being built. */
  root: string;
  /** Artifacts go here; renamed to <out>/<name>/<version> when published. */
  outDir: string;
  format: RootFormat;
  compression: 'zstd' | 'gzip';
  kernelVersion?: string;
  kernelFile?: string;
  modules?: ModulePlan;
  bootstrapInfo?: { method: string; cacheKey?: string; cached?: boolean; sourceHash: string };
  /** Hash of everything that decides the root image's content; equal hashes, equal images. */
  rootInputs?: string;
  artifacts: Record<string, string>;
}
