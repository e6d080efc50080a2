// What one boot event says about its node's boot: a phase reached (and when it began),
// or a failure on the way. Pure: an event in, a step out; the node's state is kept by
// nodes.ts. A boot goes dhcp → loader → kernel (+initrd) → root (image) → init → up;
// the replica sees the first four in its own DHCP, TFTP and HTTP events, and the last
// two (and the initrd's failures) only when the node reports them (GET /report/...).
import type { BootEvent } from '../events.js';

export const PHASES = ['dhcp', 'loader', 'kernel', 'root', 'init', 'up'] as const;
export type Phase = (typeof PHASES)[number];

/** How a person reads each phase. */
export const PHASE_LABELS: Record<Phase, string> = {
  dhcp: 'DHCP',
  loader: 'loader',
  kernel: 'kernel+initrd',
  root: 'root image',
  init: 'init',
  up: 'up',
};

export const FAILURE_KINDS = ['sha256', 'fetch', 'retry', 'http', 'tftp', 'dhcp'] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

export type Step =
  /** The node was in `phase` at `at` (ms since the epoch; for a transfer, when it began). */
  | { phase: Phase; at: number }
  | { failure: FailureKind; at: number; message: string };

export function phaseIndex(p: Phase): number {
  return PHASES.indexOf(p);
}

/**
 * Does a step of `phase`, seen while the node is in `current`, mean the node started
 * over? A DHCP exchange or a loader fetch after the kernel, or a kernel after the root:
 * a boot never goes back, a reboot does. (iPXE's own DHCP after the firmware's loader
 * is not one: the node is still in the loader.)
 */
export function startsOver(phase: Phase, current: Phase): boolean {
  if (phase === 'dhcp' || phase === 'loader') return phaseIndex(current) >= phaseIndex('kernel');
  if (phase === 'kernel') return phaseIndex(current) >= phaseIndex('root');
  return false;
}

const KERNEL_FILE = /^(vmlinuz|initrd|xen)/;
const NOT_A_PHASE = /^(manifest\.json(\.sig)?|.*\.sha256)$/;

/** The phase a file fetched by a node (TFTP or HTTP path) belongs to, if any. */
export function phaseOfFile(path: string): Phase | undefined {
  const parts = path.split('?')[0]!.split('/').filter(Boolean);
  if (parts[0] === 'images' && parts.length === 4) {
    const file = parts[3]!;
    if (NOT_A_PHASE.test(file)) return undefined;
    return KERNEL_FILE.test(file) ? 'kernel' : 'root';
  }
  if (parts[0] === 'boot' || parts[0] === 'ipxe') return 'loader';
  // TFTP serves the loaders from its root (undionly.kpxe, ipxe.efi, shim, grub).
  if (parts.length === 1 && /\.(kpxe|pxe|efi|0)$/.test(parts[0]!)) return 'loader';
  return undefined;
}

function eventTime(e: BootEvent): number {
  const t = e.time ? Date.parse(e.time) : NaN;
  return Number.isFinite(t) ? t : 0;
}

const DHCP_FAILURES: Record<string, string> = { nak: 'DHCP NAK', decline: 'DHCP DECLINE', conflict: 'address conflict' };

/** The step an event means for its node, or undefined when it says nothing about a boot. */
export function classify(e: BootEvent): Step | undefined {
  const end = eventTime(e);
  switch (e.kind) {
    case 'dhcp': {
      const failed = DHCP_FAILURES[e.type];
      if (failed) return { failure: 'dhcp', at: end, message: `${failed}${e.detail ? `: ${e.detail}` : ''}` };
      if (e.type !== 'offer' && e.type !== 'ack') return undefined;
      // Firmware and iPXE send their architecture (option 93); the initrd's udhcpc and a
      // running system's DHCP client do not, and are no boot of their own.
      if (e.arch === undefined && !e.ipxe) return undefined;
      return { phase: 'dhcp', at: end };
    }
    case 'tftp': {
      const phase = phaseOfFile(e.file);
      const at = end - e.ms;
      if (e.status === 'error') return phase ? { failure: 'tftp', at: end, message: `TFTP ${e.file}: ${e.error ?? 'failed'}` } : undefined;
      return phase && { phase, at };
    }
    case 'http': {
      const phase = phaseOfFile(e.path);
      if (!phase) return undefined;
      if (e.status >= 400) return { failure: 'http', at: end, message: `HTTP ${e.status} for ${e.path.split('?')[0]}` };
      return { phase, at: end - e.ms };
    }
    case 'report':
      if (e.what === 'init' || e.what === 'up') return { phase: e.what, at: end };
      return { failure: e.what, at: end, message: e.message ?? e.what };
    case 'service':
      return undefined;
  }
}
