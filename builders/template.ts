// A distribution as data: templates/<distro>/template.yaml plus the files beside it.
// Loading validates every key and reports `file:line: key: problem`.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { z } from 'zod';
import { loadYaml, ConfigError } from '../lib/yamlfile.js';
import { SAFE_NAME } from '../store/layout.js';
import { FirmwareSchema, TrimSchema } from './weight.js';

const absPath = z.string().regex(/^\/[^\0]*$/, 'must be an absolute path inside the image, starting with /');
const moduleList = z.array(z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be a kernel module name like virtio_net'));

export const SourceSchema = z.strictObject({
  uri: z.url({ protocol: /^(https?|file)$/, error: 'must be an http(s):// or file:// URL' }),
  suites: z.array(z.string().min(1)).min(1),
  components: z.array(z.string().min(1)).min(1),
});

/** A file the image installs that ships as an artifact of its own (e.g. the Xen hypervisor). */
const ArtifactSchema = z.strictObject({
  /** Artifact key in the manifest (the boot scripts look for `xen`). */
  name: z.string().regex(/^[a-z][a-z0-9-]*$/),
  /** Path in the image; the last component may hold * (the newest match is taken). */
  from: absPath,
  /** File name in the version folder. */
  file: z.string().regex(SAFE_NAME),
  /** Ship it gunzipped (iPXE cannot load a gzipped xen.gz: "Exec format error"). */
  gunzip: z.boolean().default(false),
});

/** What a variant adds to the base template. */
const VariantSchema = z.strictObject({
  description: z.string().optional(),
  packages: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.:-]*$/)).default([]),
  modules: z.strictObject({ required: moduleList.default([]), optional: moduleList.default([]) }).default({ required: [], optional: [] }),
  artifacts: z.array(ArtifactSchema).default([]),
  /** Replaces kernel.cmdline (a dom0 kernel talks on hvc0, not ttyS0). */
  cmdline: z.string().optional(),
});

export const TemplateSchema = z.strictObject({
  /** The distribution's name, the first part of the image name (`<name>-<suite>-<arch>[-<variant>]`). */
  name: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'must be the distribution, lower-case letters, digits, dots and dashes: it starts the image name <name>-<suite>-<arch>'),
  description: z.string().optional(),
  arch: z.string().regex(/^[a-z0-9]+$/).default('amd64'),
  bootstrap: z.strictObject({
    /** Which registered bootstrapper builds the root: mmdebstrap (apt family) or tarball. */
    method: z.enum(['mmdebstrap', 'tarball']),
    suite: z.string().min(1),
    variant: z.string().default('minbase'),
    /** Keyring file: relative to the template folder, or an absolute host path. */
    keyring: z.string().optional(),
    sources: z.array(SourceSchema).default([]),
    /** For method tarball: default tarball path (relative to the template folder or absolute). */
    tarball: z.string().optional(),
  }),
  packages: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.:-]*$/, 'must be a Debian package name')).default([]),
  kernel: z.strictObject({
    package: z.string().min(1),
    /** Glob-free prefix of the kernel file in /boot, e.g. vmlinuz- */
    image: z.string().default('/boot/vmlinuz-'),
    cmdline: z.string().default(''),
  }),
  initrd: z.strictObject({
    compression: z.enum(['zstd', 'gzip']).default('zstd'),
    busybox: absPath.default('/bin/busybox'),
    modules: z.strictObject({
      required: moduleList.min(1),
      optional: moduleList.default([]),
      /** What the initrd needs to find a live medium (CD drive, USB stick, ISO 9660); shipped when the kernel has them. */
      live: moduleList.default([]),
    }),
  }),
  rootImage: z
    .strictObject({ format: z.enum(['squashfs', 'erofs']).default('squashfs') })
    .default({ format: 'squashfs' }),
  writable: z
    .array(z.strictObject({ path: absPath, mode: z.enum(['overlay', 'tmpfs']).default('overlay') }))
    .min(1),
  /** Paths (shell-style globs, inside the image) removed after customization. */
  prune: z.array(absPath).default([]),
  /** Which of /lib/firmware to keep (builders/weight.ts): closure (default), all, none; plus keep globs. */
  firmware: FirmwareSchema,
  /** Docs, man pages, locales, apt lists and /boot's kernel copy, left out by default. */
  trim: TrimSchema,
  /** Overlays from overlays/<name>/ applied in order, then this template's own rootfs/. */
  overlays: z.array(z.string().regex(/^[a-z0-9_-]+$/)).default([]),
  artifacts: z.array(ArtifactSchema).default([]),
  /** Named variants (`build-image debian --variant xen-dom0`). */
  variants: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/), VariantSchema).default({}),
});

export type TemplateData = z.output<typeof TemplateSchema>;

export interface Template extends TemplateData {
  distro: string;
  /** The variant applied, if any. */
  variant?: string;
  dir: string;
  file: string;
  /** sha256 over the parsed template data and every other file of the template folder. */
  hash: string;
}

/**
 * The image a template builds: `<name>-<suite>-<arch>[-<variant>]`. The folder is only what
 * `build-image <folder>` is called with; `name:` says which distribution it is.
 */
export function imageNameFor(t: Pick<Template, 'name' | 'arch' | 'variant'> & { bootstrap: { suite: string } }): string {
  return [t.name, t.bootstrap.suite, t.arch, t.variant].filter(Boolean).join('-');
}

export async function listTemplates(templatesDir: string): Promise<string[]> {
  if (!existsSync(templatesDir)) return [];
  const entries = await readdir(templatesDir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory() && existsSync(join(templatesDir, e.name, 'template.yaml')))
    .map((e) => e.name)
    .sort();
}

/** sha256 over the sorted relative paths and contents of every file below `dir` (but `skip`, relative paths). */
export async function hashTree(dir: string, skip: string[] = []): Promise<string> {
  const h = createHash('sha256');
  const files: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() || e.isSymbolicLink()) files.push(p);
    }
  };
  await walk(dir);
  for (const f of files.map((p) => relative(dir, p)).filter((f) => !skip.includes(f)).sort()) {
    const full = join(dir, f);
    const data = (await lstat(full)).isSymbolicLink() ? Buffer.from(`symlink:${await readlink(full)}`) : await readFile(full);
    h.update(`${f}\0${data.length}\0`).update(data);
  }
  return h.digest('hex');
}

export function resolveTemplatePath(t: Pick<Template, 'dir'>, p: string): string {
  return isAbsolute(p) ? p : join(t.dir, p);
}

/** The template with a variant's packages, modules, artifacts and command line added. */
export function applyVariant(t: Template, variant: string): Template {
  const v = t.variants[variant];
  if (!v) {
    const known = Object.keys(t.variants);
    throw new ConfigError(`${t.file}: no variant '${variant}'; this template has ${known.length ? known.join(', ') : 'no variants'}`, t.file, []);
  }
  return {
    ...t,
    variant,
    packages: [...t.packages, ...v.packages],
    kernel: { ...t.kernel, cmdline: v.cmdline ?? t.kernel.cmdline },
    initrd: {
      ...t.initrd,
      modules: {
        required: [...t.initrd.modules.required, ...v.modules.required],
        optional: [...t.initrd.modules.optional, ...v.modules.optional],
        live: t.initrd.modules.live,
      },
    },
    artifacts: [...t.artifacts, ...v.artifacts],
  };
}

export async function loadTemplate(templatesDir: string, distro: string, variant?: string): Promise<Template> {
  const t = await loadBaseTemplate(templatesDir, distro);
  return variant ? applyVariant(t, variant) : t;
}

async function loadBaseTemplate(templatesDir: string, distro: string): Promise<Template> {
  const available = await listTemplates(templatesDir);
  if (!available.includes(distro)) {
    throw new ConfigError(
      `unknown distribution '${distro}': no ${join(templatesDir, distro, 'template.yaml')}. ` +
        `Available templates: ${available.join(', ') || '(none)'}. ` +
        `A new distribution is a new folder templates/<name>/ with a template.yaml.`,
      join(templatesDir, distro),
      [],
    );
  }
  const dir = join(templatesDir, distro);
  const file = join(dir, 'template.yaml');
  const data = await loadYaml(file, TemplateSchema);
  const problems: string[] = [];
  if (data.bootstrap.method === 'mmdebstrap' && data.bootstrap.sources.length === 0) {
    problems.push(`${file}: bootstrap.sources: mmdebstrap needs at least one source (uri, suites, components)`);
  }
  if (data.bootstrap.keyring && !existsSync(resolveTemplatePath({ dir }, data.bootstrap.keyring))) {
    problems.push(`${file}: bootstrap.keyring: file ${resolveTemplatePath({ dir }, data.bootstrap.keyring)} does not exist`);
  }
  if (problems.length) throw new ConfigError(`${file} has ${problems.length} problem(s):\n  ${problems.join('\n  ')}`, file, problems);
  return { ...data, distro, dir, file, hash: await templateHash(dir, data) };
}

/**
 * What the build depends on: the parsed template data (so comments, quoting and key order in
 * template.yaml change nothing) and every other file of the folder, byte for byte.
 */
export async function templateHash(dir: string, data: TemplateData): Promise<string> {
  return createHash('sha256')
    .update(`data\0${canonicalJson(data)}\0files\0`)
    .update(await hashTree(dir, ['template.yaml']))
    .digest('hex');
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
