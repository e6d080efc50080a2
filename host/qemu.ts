// QEMU machines with no disk: PXE-booted from Debian's iPXE ROMs on a tap, or booted
// from a live medium (CD or USB stick). Each command line is built by a pure function;
// the start functions run it in a namespace (host/netns.ts) through lib/run.ts.
import { accessSync, constants, copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Netns } from './netns.js';

export type Nic = 'e1000' | 'virtio';
export type Accel = 'kvm' | 'tcg';

export const ROMS: Record<Nic, string> = {
  e1000: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
  virtio: '/usr/lib/ipxe/qemu/pxe-virtio.rom',
};

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
/** Secure Boot: the SMM build of OVMF, and variables with Microsoft's keys enrolled (Secure Boot on). */
export const OVMF_CODE_SECBOOT = '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd';
export const OVMF_VARS_MS = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd';

/** iPXE EFI option ROMs (Debian's ipxe-qemu), for UEFI machines whose NIC should run iPXE. */
export const EFI_ROMS: Record<Nic, string> = {
  e1000: '/usr/lib/ipxe/qemu/efi-e1000.rom',
  virtio: '/usr/lib/ipxe/qemu/efi-virtio.rom',
};

/** What a machine boots with: SeaBIOS, OVMF, or OVMF with Secure Boot on. */
export type MachineFirmware = 'bios' | 'uefi' | 'uefi-secure';

/** The OVMF variables a firmware starts from (copied per machine: OVMF writes to them). */
export const ovmfVarsFor = (fw: Exclude<MachineFirmware, 'bios'>) => (fw === 'uefi-secure' ? OVMF_VARS_MS : OVMF_VARS);

/** A writable copy of the firmware's OVMF variables in `dir`, for one machine. */
export function copyOvmfVars(dir: string, fw: Exclude<MachineFirmware, 'bios'>, name = 'OVMF_VARS.fd'): string {
  const to = join(dir, name);
  copyFileSync(ovmfVarsFor(fw), to);
  return to;
}

/**
 * Firmware arguments: none for SeaBIOS; OVMF code read-only and the vars copy writable
 * as pflash. Secure Boot needs SMM (q35, smm=on) and the flash locked to SMM
 * (cfi.pflash01 secure=on), or OVMF's secboot build does not start.
 */
export function firmwareArgv(fw: MachineFirmware, vars?: string): string[] {
  if (fw === 'bios') return [];
  if (!vars) throw new Error(`firmware ${fw} needs a writable copy of its OVMF variables (copyOvmfVars)`);
  const code = fw === 'uefi-secure' ? OVMF_CODE_SECBOOT : OVMF_CODE;
  const secure = fw === 'uefi-secure' ? ['-machine', 'q35,smm=on', '-global', 'driver=cfi.pflash01,property=secure,value=on'] : [];
  return [...secure, '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${code}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`];
}

export interface KvmProbe {
  /** /dev/kvm exists and opens read-write. */
  devKvm: boolean;
  /** The CPU advertises VT-x or AMD-V (vmx/svm in /proc/cpuinfo). */
  hardwareVirt: boolean;
}

/**
 * KVM only where it is real: /dev/kvm usable and hardware virtualization on the CPU.
 * A nested host can offer /dev/kvm without it (kvm-pvm); a KVM guest hung on such a
 * machine, so it gets TCG. An explicit request wins.
 */
export function chooseAccel(probe: KvmProbe, requested?: Accel): Accel {
  if (requested) return requested;
  return probe.devKvm && probe.hardwareVirt ? 'kvm' : 'tcg';
}

export function probeKvm(): KvmProbe {
  let devKvm = false;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    devKvm = true;
  } catch {
    // no KVM device, or not ours to use
  }
  let hardwareVirt = false;
  try {
    hardwareVirt = /^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    // not Linux
  }
  return { devKvm, hardwareVirt };
}

export const defaultAccel = (): Accel => chooseAccel(probeKvm());

export function qemuMissing(): string | undefined {
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)';
  for (const rom of Object.values(ROMS)) if (!existsSync(rom)) return `${rom} is missing (apt-get install ipxe-qemu)`;
  return undefined;
}

export const ovmfMissing = (): string | undefined => {
  for (const f of [OVMF_CODE, OVMF_VARS, OVMF_CODE_SECBOOT, OVMF_VARS_MS]) if (!existsSync(f)) return `${f} is missing (apt-get install ovmf)`;
  return undefined;
};

const tapNetdev = (tap: string) => `tap,id=n0,ifname=${tap},script=no,downscript=no`;

export interface PxeNode {
  tap: string;
  mac: string;
  nic: Nic;
  memMb?: number;
  cpu?: string;
  /** Default: defaultAccel(). */
  accel?: Accel;
  /** Default bios (SeaBIOS). UEFI needs `uefiVars`. */
  firmware?: MachineFirmware;
  /** Writable copy of the OVMF variables (copyOvmfVars), for UEFI. */
  uefiVars?: string;
  /**
   * The NIC's option ROM; '' for none (UEFI then uses OVMF's own network stack: virtio
   * only, OVMF has no e1000 driver). Default: Debian's iPXE PXE ROM for the NIC.
   */
  romfile?: string;
  /** `-fw_cfg name=…,string=…` entries, e.g. OVMF's opt/org.tianocore/IPv4PXESupport. */
  fwCfg?: Record<string, string>;
}

/**
 * A diskless machine PXE-booting: no disk, `-boot n`, the NIC's iPXE ROM. For virtio
 * the device must be modern-only (disable-legacy=on) or SeaBIOS ignores its ROM.
 */
export function pxeNodeArgv(o: PxeNode & { accel: Accel }): string[] {
  const rom = o.romfile ?? ROMS[o.nic];
  const device =
    o.nic === 'virtio'
      ? `virtio-net-pci,netdev=n0,mac=${o.mac},disable-legacy=on,romfile=${rom}`
      : `e1000,netdev=n0,mac=${o.mac},romfile=${rom}`;
  const fwCfg = Object.entries(o.fwCfg ?? {}).flatMap(([k, v]) => ['-fw_cfg', `name=${k},string=${v}`]);
  return [
    'qemu-system-x86_64', '-accel', o.accel, ...(o.cpu ? ['-cpu', o.cpu] : []), '-m', String(o.memMb ?? 1024), '-smp', '1',
    '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', ...firmwareArgv(o.firmware ?? 'bios', o.uefiVars), ...fwCfg, '-boot', 'n',
    '-netdev', tapNetdev(o.tap), '-device', device,
  ];
}

export interface MediumBoot {
  tap: string;
  mac: string;
  image: string;
  media: 'cdrom' | 'usb';
  /** UEFI (OVMF) with this writable copy of OVMF_VARS; SeaBIOS without. */
  uefiVars?: string;
  memMb?: number;
  /** Default: defaultAccel(). */
  accel?: Accel;
}

/**
 * A machine booting from a live medium, no disk: as a CD (`-cdrom`) or as a USB stick
 * (the same file on usb-storage behind an xHCI controller). The NIC has no boot ROM.
 */
export function mediumArgv(o: MediumBoot & { accel: Accel }): string[] {
  const firmware = o.uefiVars
    ? ['-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,file=${o.uefiVars}`]
    : [];
  const medium =
    o.media === 'cdrom'
      ? ['-cdrom', o.image, '-boot', 'd']
      : ['-drive', `if=none,id=stick,format=raw,readonly=on,file=${o.image}`, '-device', 'qemu-xhci', '-device', 'usb-storage,drive=stick,bootindex=0'];
  return [
    'qemu-system-x86_64', '-accel', o.accel, '-m', String(o.memMb ?? 1536), '-smp', '1',
    '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', ...firmware, ...medium,
    '-netdev', tapNetdev(o.tap), '-device', `e1000,netdev=n0,mac=${o.mac},romfile=`,
  ];
}

/** PXE-boot a machine on `tap` in `ns`; its serial console is its stdout. */
export function startNode(ns: Netns, o: PxeNode): ChildProcess {
  return ns.spawn(pxeNodeArgv({ ...o, accel: o.accel ?? defaultAccel() }));
}

/** Boot a machine from a live medium on `tap` in `ns`; its serial console is its stdout. */
export function startFromMedium(ns: Netns, o: MediumBoot): ChildProcess {
  return ns.spawn(mediumArgv({ ...o, accel: o.accel ?? defaultAccel() }));
}
