// QEMU machines with no disk: PXE-booted from Debian's iPXE ROMs on a tap, or booted
// from a live medium (CD or USB stick). Each command line is built by a pure function;
// the start functions run it in a namespace (host/netns.ts) through lib/run.ts.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
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

export const ovmfMissing = (): string | undefined => (existsSync(OVMF_CODE) && existsSync(OVMF_VARS) ? undefined : `${OVMF_CODE} is missing (apt-get install ovmf)`);

const tapNetdev = (tap: string) => `tap,id=n0,ifname=${tap},script=no,downscript=no`;

export interface PxeNode {
  tap: string;
  mac: string;
  nic: Nic;
  memMb?: number;
  cpu?: string;
  /** Default: defaultAccel(). */
  accel?: Accel;
}

/**
 * A diskless machine PXE-booting: no disk, `-boot n`, the NIC's iPXE ROM. For virtio
 * the device must be modern-only (disable-legacy=on) or SeaBIOS ignores its ROM.
 */
export function pxeNodeArgv(o: PxeNode & { accel: Accel }): string[] {
  const device =
    o.nic === 'virtio'
      ? `virtio-net-pci,netdev=n0,mac=${o.mac},disable-legacy=on,romfile=${ROMS.virtio}`
      : `e1000,netdev=n0,mac=${o.mac},romfile=${ROMS.e1000}`;
  return [
    'qemu-system-x86_64', '-accel', o.accel, ...(o.cpu ? ['-cpu', o.cpu] : []), '-m', String(o.memMb ?? 1024), '-smp', '1',
    '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-boot', 'n',
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
