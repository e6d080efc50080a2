// A test network for whole-machine boots: one namespace holding a bridge with the
// boot service's address and one tap per node; QEMU (TCG, never KVM: a KVM guest hung
// on this machine) PXE-boots from Debian's iPXE ROMs on each tap.
import { existsSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import type { Netns } from './netns.js';

export type Nic = 'e1000' | 'virtio';

export const ROMS: Record<Nic, string> = {
  e1000: '/usr/lib/ipxe/qemu/pxe-e1000.rom',
  virtio: '/usr/lib/ipxe/qemu/pxe-virtio.rom',
};

export function qemuMissing(): string | undefined {
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)';
  for (const rom of Object.values(ROMS)) if (!existsSync(rom)) return `${rom} is missing (apt-get install ipxe-qemu)`;
  return undefined;
}

/** Bridge br0 with `serverCidr` and taps tap0..tap{n-1} in `ns`. */
export function bootNetwork(ns: Netns, serverCidr: string, taps: number): string[] {
  ns.exec(['ip', 'link', 'add', 'br0', 'type', 'bridge']);
  ns.exec(['ip', 'addr', 'add', serverCidr, 'dev', 'br0']);
  ns.exec(['ip', 'link', 'set', 'br0', 'up']);
  const names: string[] = [];
  for (let i = 0; i < taps; i++) {
    const tap = `tap${i}`;
    ns.exec(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    ns.exec(['ip', 'link', 'set', tap, 'master', 'br0']);
    ns.exec(['ip', 'link', 'set', tap, 'up']);
    names.push(tap);
  }
  return names;
}

/**
 * PXE-boot a diskless machine: no disk, `-boot n`, the NIC's iPXE ROM. For virtio
 * the device must be modern-only (disable-legacy=on) or SeaBIOS ignores its ROM.
 */
export function startNode(ns: Netns, o: { tap: string; mac: string; nic: Nic; memMb?: number; cpu?: string }): ChildProcess {
  const device =
    o.nic === 'virtio'
      ? `virtio-net-pci,netdev=n0,mac=${o.mac},disable-legacy=on,romfile=${ROMS.virtio}`
      : `e1000,netdev=n0,mac=${o.mac},romfile=${ROMS.e1000}`;
  return ns.spawn([
    'qemu-system-x86_64', '-accel', 'tcg', ...(o.cpu ? ['-cpu', o.cpu] : []), '-m', String(o.memMb ?? 1024), '-smp', '1',
    '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-boot', 'n',
    '-netdev', `tap,id=n0,ifname=${o.tap},script=no,downscript=no`, '-device', device,
  ]);
}

/** Resolve when `re` appears in the child's output (stdout + stderr); keeps all output in `log`. */
export function watchOutput(child: ChildProcess): { log: () => string; waitFor: (re: RegExp, ms: number, what: string) => Promise<RegExpExecArray> } {
  let text = '';
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  const on = (d: Buffer) => {
    text += d.toString().replace(/\r/g, '');
    for (const w of [...waiters]) {
      const m = w.re.exec(text);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout?.on('data', on);
  child.stderr?.on('data', on);
  return {
    log: () => text,
    waitFor: (re, ms, what) =>
      new Promise((resolve, reject) => {
        const m = re.exec(text);
        if (m) return resolve(m);
        const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}; last output:\n${text.slice(-3000)}`)), ms);
        waiters.push({ re, resolve: (x) => (clearTimeout(timer), resolve(x)) });
        child.once('exit', (code, sig) => {
          clearTimeout(timer);
          reject(new Error(`${what}: process exited (${code ?? sig}); last output:\n${text.slice(-3000)}`));
        });
      }),
  };
}

/**
 * IPv6 router advertisements on `bridge`, as on a normal network. Without any, iPXE
 * waits about 15 s for IPv6 autoconfiguration before it boots. The advertised
 * router lifetime is 0: nodes get an address, not a default route.
 */
export function startRadvd(ns: Netns, bridge: string, confFile: string): ChildProcess {
  writeFileSync(
    confFile,
    `interface ${bridge} {\n  AdvSendAdvert on;\n  IgnoreIfMissing on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 10;\n  AdvDefaultLifetime 0;\n  prefix fd77::/64 { AdvOnLink on; AdvAutonomous on; };\n};\n`,
  );
  return ns.spawn(['radvd', '--nodaemon', '--config', confFile, '--pidfile', `${confFile}.pid`, '--logmethod', 'stderr']);
}

export const radvdMissing = (): string | undefined => (existsSync('/usr/sbin/radvd') ? undefined : 'radvd is not installed (apt-get install radvd)');

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
export const ovmfMissing = (): string | undefined => (existsSync(OVMF_CODE) && existsSync(OVMF_VARS) ? undefined : `${OVMF_CODE} is missing (apt-get install ovmf)`);

/**
 * Boot a machine from a live medium, no disk: as a CD (`-cdrom`) or as a USB stick (the
 * same file on usb-storage behind an xHCI controller), with SeaBIOS or, for UEFI, OVMF
 * (`varsFile`: a writable copy of OVMF_VARS). The NIC has no boot ROM: it is not PXE-booted.
 */
export function startFromMedium(
  ns: Netns,
  o: { tap: string; mac: string; image: string; media: 'cdrom' | 'usb'; uefiVars?: string; memMb?: number },
): ChildProcess {
  const firmware = o.uefiVars
    ? ['-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,file=${o.uefiVars}`]
    : [];
  const medium =
    o.media === 'cdrom'
      ? ['-cdrom', o.image, '-boot', 'd']
      : ['-drive', `if=none,id=stick,format=raw,readonly=on,file=${o.image}`, '-device', 'qemu-xhci', '-device', 'usb-storage,drive=stick,bootindex=0'];
  return ns.spawn([
    'qemu-system-x86_64', '-accel', 'tcg', '-m', String(o.memMb ?? 1536), '-smp', '1',
    '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', ...firmware, ...medium,
    '-netdev', `tap,id=n0,ifname=${o.tap},script=no,downscript=no`, '-device', `e1000,netdev=n0,mac=${o.mac},romfile=`,
  ]);
}
