// What the build steps share: the options the user gave, the loaded template and
// where the build works (BuildContext, fixed before the first step), and the facts
// each step hands on to the later ones (Facts, returned by the step that makes them).
import type { Logger } from '../lib/log.js';
import type { StepReporter } from '../lib/progress.js';
import type { Template } from './template.js';
import type { ModulePlan } from './modules.js';
import type { RootFormat } from '../rootfs/formats.js';
import type { FirmwareSummary } from './steps/firmware.js';
import type { Freed, TrimKind } from './trim.js';

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
  /** Sign manifest.json with this private key (diskless keygen); the service layer then carries its public half. */
  signKey?: string;
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
  readonly opts: BuildOptions;
  readonly template: Template;
  readonly log: Logger;
  readonly now: Date;
  readonly signal: AbortSignal;
  readonly name: string;
  readonly version: string;
  /** Private staging folder for this build: root/ and out/ live here. */
  readonly staging: string;
  /** The image root being built. */
  readonly root: string;
  /** Artifacts go here; renamed to <out>/<name>/<version> when published. */
  readonly outDir: string;
  readonly format: RootFormat;
  readonly compression: 'zstd' | 'gzip';
}

export interface BootstrapInfo {
  method: string;
  cacheKey?: string;
  cached?: boolean;
  sourceHash: string;
}

/** The facts steps hand on. Each is made by one step and read by later ones. */
export interface Facts {
  /** bootstrap: how the root was made. */
  bootstrap: BootstrapInfo;
  /** bootstrap: the kernel the root's kernel package installed. */
  kernel: { version: string; file: string };
  /** customize: hash of everything that decides the root image's content; equal hashes, equal images. */
  rootInputs: string;
  /** root-image and service: file -> sha256 of each read-only layer the initrd mounts; built into the initrd. */
  layers: Readonly<Record<string, string>>;
  /** firmware: what the firmware closure kept and dropped. */
  firmware: FirmwareSummary;
  /** trim: what each kind of weight the template leaves out freed. */
  trimmed: Record<TrimKind, Freed>;
  /** initrd: the modules the initrd ships. */
  modules: ModulePlan;
  /** Artifact key -> file in outDir. Every step that makes artifacts returns its own; the pipeline merges them. */
  artifacts: Readonly<Record<string, string>>;
}

/** One named build step: reads the facts it `needs`, returns the facts it makes. */
export interface BuildStep<Needs extends keyof Facts = never, Gives extends keyof Facts = never> {
  name: string;
  describe: string;
  needs: readonly Needs[];
  run(ctx: BuildContext, facts: Pick<Facts, Needs>, report: StepReporter): Promise<Pick<Facts, Gives>>;
}

/** Any step, as the pipeline holds them in one list. */
export interface AnyBuildStep {
  name: string;
  describe: string;
  needs: readonly (keyof Facts)[];
  run(ctx: BuildContext, facts: Facts, report: StepReporter): Promise<Partial<Facts>>;
}
