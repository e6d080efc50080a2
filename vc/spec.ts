// The VC spec: what `vc create` is asked for, from its flags or from a declared
// vc.yaml (the same fields). Validation names the bad flag or key and the fix;
// a spec that passes is complete (defaults applied, network chosen) and plain JSON,
// so it goes into the state store as is.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError, parseYaml } from '../lib/yamlfile.js';
import { formatIp4, parseCidr, type Cidr } from '../cluster/addr.js';
import { isSafeName } from '../store/layout.js';
import { formatSize, MiB, parseSize, SIZE_HINT } from './size.js';

/**
 * A VC name becomes the libvirt network and bridge `vc-NAME`, the VXLAN device
 * `vx-NAME` (part 2) and every hostname `NAME-INDEX`; Linux limits interface names
 * to 15 characters (IFNAMSIZ - 1), so 3 for the prefix leaves 12.
 */
export const MAX_NAME_LENGTH = 12;
const NAME_RE = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;
export const MAX_NODES = 4096;
export const MAX_VCPUS = 256;
export const MIN_MEMORY_BYTES = 64 * MiB;
/** The scratch disk holds an ext4 upper layer; smaller than this is not worth formatting. */
export const MIN_SCRATCH_BYTES = 16 * MiB;
/** Where a VC's network comes from when --network is not given: the first free block of this range. */
export const DEFAULT_NETWORK_POOL = '10.213.0.0/16';
/** Network, gateway and broadcast addresses: the addresses a VC network holds besides its VMs. */
export const RESERVED_ADDRESSES = 3;

export type Placement = 'block' | 'cyclic';
export type CoresPolicy = 'strict' | 'free';
export type Scratch = { kind: 'disk'; sizeBytes: number } | { kind: 'ram' };

export interface VcSpec {
  name: string;
  /** `name` or `name/version` of an image in the store; the driver resolves it. */
  image: { name: string; version?: string };
  nodes: number;
  vcpus: number;
  memoryBytes: number;
  /** Canonical CIDR text, e.g. 10.213.0.0/24. */
  network: string;
  placement: Placement;
  cores: CoresPolicy;
  scratch: Scratch;
  /** NAT through the host from the network's first usable address. */
  gateway: boolean;
  /** Extra kernel arguments for every VM, after the ones the VC sets ('' for none). */
  append: string;
}

export const SPEC_DEFAULTS = {
  vcpus: 1,
  memory: '512M',
  placement: 'block' as Placement,
  cores: 'free' as CoresPolicy,
  scratch: 'disk:1G',
  gateway: false,
  append: '',
};

/** `vc create` flags as yargs hands them over (numbers may still be strings). */
export interface VcFlags {
  name?: unknown;
  image?: unknown;
  nodes?: unknown;
  vcpus?: unknown;
  memory?: unknown;
  network?: unknown;
  placement?: unknown;
  cores?: unknown;
  scratch?: unknown;
  gateway?: unknown;
  append?: unknown;
}

/** The `vc create` options that make up the spec (--images, --start and -f are the command's own). */
export const SPEC_FLAGS = ['name', 'image', 'nodes', 'vcpus', 'memory', 'network', 'placement', 'cores', 'scratch', 'gateway', 'append'] as const;

/** The spec's flags out of a yargs argv (which also holds `_`, `$0`, aliases and the command's own options). */
export function pickSpecFlags(argv: Record<string, unknown>): VcFlags {
  return Object.fromEntries(SPEC_FLAGS.filter((k) => argv[k] !== undefined).map((k) => [k, argv[k]]));
}

export interface SpecOptions {
  /** Networks of the VCs that exist, so a default network overlaps none of them. */
  usedNetworks?: string[];
}

/** What a check returns for a bad value: the message, which says what to write instead. */
class Bad {
  constructor(readonly message: string) {}
}
const bad = (message: string) => new Bad(message);

/** A field checked by hand; absent, it takes `fallback` (null: optional, no default). */
function field<T, F extends null | undefined | unknown = undefined>(check: (v: unknown) => T, fallback?: F) {
  return z.unknown().optional().transform((v, ctx): Exclude<T, Bad> | (F extends null ? null : never) => {
    const given = v === undefined || v === null ? fallback : v;
    if (given === null) return null as F extends null ? null : never;
    const out = given === undefined ? bad('is required') : check(given);
    if (out instanceof Bad) {
      ctx.addIssue({ code: 'custom', message: out.message });
      return z.NEVER;
    }
    return out as Exclude<T, Bad>;
  });
}

function checkName(v: unknown): string | Bad {
  const s = String(v);
  if (NAME_RE.test(s) && s.length <= MAX_NAME_LENGTH) return s;
  return bad(`'${s}' is not a VC name: use 1-${MAX_NAME_LENGTH} characters, lower-case letters, digits and dashes, starting with a letter and not ending with a dash (it names the bridge vc-NAME, and Linux allows 15 characters)`);
}

function checkImage(v: unknown): VcSpec['image'] | Bad {
  const [name, version, ...rest] = String(v).split('/');
  if (!name || !isSafeName(name) || rest.length || (version !== undefined && !isSafeName(version))) {
    return bad(`'${String(v)}' is not an image reference: write IMAGE or IMAGE/VERSION, e.g. debian or debian/20260101-1200`);
  }
  return version === undefined ? { name } : { name, version };
}

function checkInt(min: number, max: number, example: string) {
  return (v: unknown): number | Bad => {
    const n = typeof v === 'number' ? v : /^\s*\d+\s*$/.test(String(v)) ? Number(v) : NaN;
    if (Number.isInteger(n) && n >= min && n <= max) return n;
    return bad(`'${String(v)}' is not a whole number from ${min} to ${max} (e.g. ${example})`);
  };
}

function checkSize(min: number) {
  return (v: unknown): number | Bad => {
    const n = parseSize(String(v));
    if (n === undefined) return bad(`'${String(v)}' is not ${SIZE_HINT}`);
    if (n < min) return bad(`${String(v)} is too small: at least ${formatSize(min)}`);
    return n;
  };
}

function checkMemory(v: unknown): number | Bad {
  const n = checkSize(MIN_MEMORY_BYTES)(v);
  if (typeof n === 'number' && n % MiB !== 0) return bad(`${String(v)} is not a whole number of MiB (libvirt would round it); write e.g. ${Math.ceil(n / MiB)}M`);
  return n;
}

function checkEnum<T extends string>(values: readonly T[]) {
  return (v: unknown): T | Bad => (values.includes(v as T) ? (v as T) : bad(`'${String(v)}' is not one of: ${values.join(', ')}`));
}

function checkScratch(v: unknown): Scratch | Bad {
  const s = String(v);
  if (s === 'ram') return { kind: 'ram' };
  const m = /^disk:(.+)$/.exec(s);
  if (!m) return bad(`'${s}' is not disk:SIZE (a scratch disk, e.g. disk:1G) or ram (the upper layer in tmpfs)`);
  const size = checkSize(MIN_SCRATCH_BYTES)(m[1]);
  return typeof size === 'number' ? { kind: 'disk', sizeBytes: size } : bad(`disk:SIZE: ${size.message}`);
}

function checkCidr(v: unknown): string | Bad {
  const s = String(v);
  const c = parseCidr(s);
  if (!c) return bad(`'${s}' is not a network like 10.213.0.0/24`);
  const canonical = `${formatIp4(c.network)}/${c.prefix}`;
  if (s.trim() !== canonical) return bad(`${s} has host bits set: write the network address, ${canonical}`);
  return canonical;
}

/** The kernel command line is one line of at most 2048 bytes on x86 (COMMAND_LINE_SIZE); leave room for ours. */
export const MAX_APPEND_LENGTH = 1024;

function checkAppend(v: unknown): string | Bad {
  const s = String(v).trim();
  if (/[\x00-\x1f\x7f]/.test(s)) return bad('kernel arguments must be one line of printable characters');
  if (s.length > MAX_APPEND_LENGTH) return bad(`${s.length} characters is too long: the kernel command line allows about 2048, and the VC's own arguments need the rest; keep --append under ${MAX_APPEND_LENGTH}`);
  return s;
}

function checkBool(v: unknown): boolean | Bad {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  return bad(`'${String(v)}' is not true or false`);
}

/** Usable addresses of a network: all but the network and broadcast addresses. */
export function usableAddresses(c: Cidr): number {
  return c.prefix >= 31 ? 0 : 2 ** (32 - c.prefix) - 2;
}

/** Why `cidr` cannot hold `nodes` VMs, or undefined when it can. */
export function cidrTooSmall(cidr: string, nodes: number): string | undefined {
  const c = parseCidr(cidr)!;
  const has = 2 ** (32 - c.prefix);
  const needs = nodes + RESERVED_ADDRESSES;
  if (has >= needs) return undefined;
  let prefix = 30;
  while (2 ** (32 - prefix) < needs) prefix--;
  return `${cidr} has ${has} addresses; ${nodes} VMs need ${needs} (theirs, plus the network, gateway and broadcast addresses): use a /${prefix} or larger`;
}

const SpecSchema = z
  .strictObject({
    name: field(checkName),
    image: field(checkImage),
    nodes: field(checkInt(1, MAX_NODES, '3')),
    vcpus: field(checkInt(1, MAX_VCPUS, '2'), SPEC_DEFAULTS.vcpus),
    memory: field(checkMemory, SPEC_DEFAULTS.memory),
    network: field(checkCidr, null),
    placement: field(checkEnum(['block', 'cyclic'] as const), SPEC_DEFAULTS.placement),
    cores: field(checkEnum(['strict', 'free'] as const), SPEC_DEFAULTS.cores),
    scratch: field(checkScratch, SPEC_DEFAULTS.scratch),
    gateway: field(checkBool, SPEC_DEFAULTS.gateway),
    append: field(checkAppend, SPEC_DEFAULTS.append),
  })
  .superRefine((s, ctx) => {
    const small = s.network === null ? undefined : cidrTooSmall(s.network as string, s.nodes as number);
    if (small) ctx.addIssue({ code: 'custom', path: ['network'], message: small });
  });

type Parsed = z.output<typeof SpecSchema>;

function complete(p: Parsed, opts: SpecOptions): VcSpec {
  return {
    name: p.name,
    image: p.image,
    nodes: p.nodes,
    vcpus: p.vcpus,
    memoryBytes: p.memory,
    network: p.network ?? chooseNetwork(p.nodes, opts.usedNetworks ?? []),
    placement: p.placement,
    cores: p.cores,
    scratch: p.scratch,
    gateway: p.gateway,
    append: p.append,
  };
}

/**
 * The first block of DEFAULT_NETWORK_POOL (a /24, or larger for a big VC) that
 * overlaps no network in `used`. VC networks are isolated from each other, but a
 * free block keeps `--gateway` (NAT through the host) unambiguous.
 */
export function chooseNetwork(nodes: number, used: string[]): string {
  const pool = parseCidr(DEFAULT_NETWORK_POOL)!;
  let prefix = 24;
  while (prefix > pool.prefix && 2 ** (32 - prefix) < nodes + RESERVED_ADDRESSES) prefix--;
  const size = 2 ** (32 - prefix);
  const taken = used.map((u) => parseCidr(u)).filter((c): c is Cidr => c !== undefined);
  for (let start = pool.network; start + size - 1 <= pool.broadcast; start += size) {
    const end = start + size - 1;
    if (!taken.some((t) => start <= t.broadcast && t.network <= end)) return `${formatIp4(start)}/${prefix}`;
  }
  throw new ConfigError(`no free /${prefix} left in ${DEFAULT_NETWORK_POOL} for ${nodes} VMs: give one with --network CIDR`, 'command line', []);
}

/** Flag name for a spec key, as the messages show it. */
function flagOf(key: PropertyKey | undefined): string {
  return key === 'name' ? 'NAME' : `--${String(key)}`;
}

/** The spec from `vc create` flags; throws a ConfigError whose problems name each bad flag. */
export function specFromFlags(flags: VcFlags, opts: SpecOptions = {}): VcSpec {
  const res = SpecSchema.safeParse(flags);
  if (res.success) return complete(res.data, opts);
  const problems = res.error.issues.map((i) =>
    i.code === 'unrecognized_keys' ? `${i.keys.map((k) => flagOf(k)).join(', ')}: unknown option` : `${flagOf(i.path[0])}: ${i.message}`,
  );
  throw new ConfigError(`vc create: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`, 'command line', problems);
}

/** The spec declared in YAML text; problems read `file:line: key: message`. */
export function parseSpecText(text: string, file: string, opts: SpecOptions = {}): VcSpec {
  return complete(parseYaml(text, file, SpecSchema), opts);
}

export async function loadSpecFile(file: string, opts: SpecOptions = {}): Promise<VcSpec> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`, file, []);
  }
  return parseSpecText(text, file, opts);
}

/** `name` or `name/version`, as the command line writes it. */
export function imageRef(image: VcSpec['image']): string {
  return image.version === undefined ? image.name : `${image.name}/${image.version}`;
}
