// Template data for the weight a diskless node never uses: which firmware to keep
// (`firmware:`) and what else to leave out of the root image (`trim:`). Every node loads
// the root into RAM, so each key defaults to the light choice.
import { z } from 'zod';

export const FIRMWARE_MODES = ['closure', 'all', 'none'] as const;

/** A path or glob relative to /lib/firmware; `..` and absolute paths could reach outside it. */
const firmwareGlob = z
  .string()
  .regex(/^(?!\/)(?!(.*\/)?\.\.(\/|$)).+$/, 'must be a path or glob inside /lib/firmware, like intel/ice/ddp/*.pkg (no leading / or ..)');

/**
 * `firmware: closure` (default) keeps the files the image's modules name, plus `keep`;
 * `all` keeps every file; `none` keeps only `keep`. The short form is the mode alone.
 */
export const FirmwareSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { mode: v } : (v ?? {})),
  z.strictObject({
    mode: z.enum(FIRMWARE_MODES, { error: `must be one of ${FIRMWARE_MODES.join(', ')}` }).default('closure'),
    keep: z.array(firmwareGlob).default([]),
  }),
);

/** A locale or language name as in /usr/share/locale and /usr/lib/locale: de, pt_BR, en_US.UTF-8, sr@latin. */
const localeName = z.string().regex(/^[a-z]{2,3}(_[A-Za-z0-9]+)?(\.[A-Za-z0-9-]+)?(@[A-Za-z0-9]+)?$/, 'must be a locale name like de, pt_BR or en_US.UTF-8');

/** A folder under /lib/modules/<kver>/, like kernel/drivers/net/wireless. */
const moduleFolder = z.string().regex(/^(?!\/)(?!(.*\/)?\.\.(\/|$))[A-Za-z0-9_./-]+$/, 'must be a folder under /lib/modules/<kver>/, like kernel/sound (no leading / or ..)');

export const TRIM_DEFAULTS = { docs: true, man: true, locales: true, keepLocales: [] as string[], aptLists: true, bootKernel: true, modules: [] as string[] };

export const TrimSchema = z
  .strictObject({
    /** /usr/share/doc and /usr/share/info. */
    docs: z.boolean().default(true),
    /** /usr/share/man. */
    man: z.boolean().default(true),
    /** Translations and compiled locales but C, C.UTF-8 and keepLocales. */
    locales: z.boolean().default(true),
    keepLocales: z.array(localeName).default([]),
    /** /var/lib/apt/lists: the package indexes, stale the day after the build. */
    aptLists: z.boolean().default(true),
    /** The kernel's own copy in /boot (and its System.map): it ships beside the root as the vmlinuz artifact. */
    bootKernel: z.boolean().default(true),
    /** Module folders (with every module that needs one of theirs) left out; the firmware closure then drops their firmware. */
    modules: z.array(moduleFolder).default([]),
  })
  .default(TRIM_DEFAULTS);

export type FirmwareData = z.output<typeof FirmwareSchema>;
export type TrimData = z.output<typeof TrimSchema>;
