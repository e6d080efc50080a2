// Placement, a pure function: (hosts with what is already allocated on them, a VC
// spec, a memory reserve) → which host runs each VM and, with --cores strict, which
// physical cores its vCPUs are pinned to; or a refusal that names the host, what
// is needed and what it has. Part 1 passes one host, part 2 many.
// - block fills the hosts in the order given: a host takes VMs until the next
//   one does not fit, then the next host.
// - cyclic deals VMs round-robin over the hosts, skipping a host that is full.
// - strict pins each vCPU to its own core, the lowest-numbered free ones, never a
//   core already pinned (by another VC or by an earlier VM of this one).
// - free pins nothing; vCPUs float and share cores, but a VM gets no more vCPUs
//   than its host has cores.
// Memory is never overcommitted: a host gives VMs at most its memory less the
// reserve less what its VMs already have.
import { formatSize, GiB } from './size.js';
import { FIRST_INDEX, vmHostname } from './identity.js';
import type { VcSpec } from './spec.js';

/** Memory kept for the host itself (kernel, libvirtd, qemu's own overhead, the boot service). */
export const DEFAULT_MEMORY_RESERVE_BYTES = 1 * GiB;

export interface HostCapacity {
  name: string;
  /** Logical CPUs, numbered 0 .. cores-1. */
  cores: number;
  memoryBytes: number;
  /** Cores pinned by VMs that exist (every VC, strict VMs only). */
  pinnedCores: number[];
  /** Memory given to VMs that exist (every VC). */
  allocatedMemoryBytes: number;
}

export interface PlacementOptions {
  memoryReserveBytes?: number;
}

export interface VmPlacement {
  index: number;
  host: string;
  /** Pinned cores, one per vCPU; empty with --cores free. */
  cores: number[];
}

export type PlacementResult = { ok: true; vms: VmPlacement[] } | { ok: false; reason: string };

export type PlacementSpec = Pick<VcSpec, 'name' | 'nodes' | 'vcpus' | 'memoryBytes' | 'placement' | 'cores'>;

interface HostState {
  host: HostCapacity;
  freeCores: number[];
  freeMemory: number;
  /** Cores and memory this VC has taken so far. */
  takenCores: number;
  takenMemory: number;
}

function stateOf(h: HostCapacity, reserve: number): HostState {
  const pinned = new Set(h.pinnedCores);
  const freeCores = Array.from({ length: h.cores }, (_, i) => i).filter((c) => !pinned.has(c));
  return { host: h, freeCores, freeMemory: h.memoryBytes - reserve - h.allocatedMemoryBytes, takenCores: 0, takenMemory: 0 };
}

function fits(s: HostState, spec: PlacementSpec): boolean {
  const cpusOk = spec.cores === 'strict' ? s.freeCores.length >= spec.vcpus : spec.vcpus <= s.host.cores;
  return cpusOk && s.freeMemory >= spec.memoryBytes;
}

function take(s: HostState, spec: PlacementSpec, index: number): VmPlacement {
  s.freeMemory -= spec.memoryBytes;
  s.takenMemory += spec.memoryBytes;
  const cores = spec.cores === 'strict' ? s.freeCores.splice(0, spec.vcpus) : [];
  s.takenCores += cores.length;
  return { index, host: s.host.name, cores };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function coresText(s: HostState): string {
  const h = s.host;
  const pinned = h.cores - s.freeCores.length - s.takenCores;
  const parts = [pinned > 0 ? `${pinned} pinned by other VMs` : '', s.takenCores > 0 ? `${s.takenCores} by this VC's earlier VMs` : ''].filter(Boolean);
  return `host ${h.name} has ${plural(h.cores, 'core')}${parts.length ? `, ${parts.join(' and ')}` : ''}: ${s.freeCores.length} free`;
}

function memoryText(s: HostState, reserve: number): string {
  const h = s.host;
  const parts = [`${formatSize(reserve)} kept for the host`];
  if (h.allocatedMemoryBytes > 0) parts.push(`${formatSize(h.allocatedMemoryBytes)} given to other VMs`);
  if (s.takenMemory > 0) parts.push(`${formatSize(s.takenMemory)} to this VC's earlier VMs`);
  return `host ${h.name} has ${formatSize(h.memoryBytes)} of memory, less ${parts.join(', ')}: ${formatSize(Math.max(0, s.freeMemory))} free`;
}

/** Why the whole VC cannot fit, counted over all hosts; undefined if the totals allow it. */
function totalsRefusal(states: HostState[], spec: PlacementSpec, reserve: number): string | undefined {
  const vms = `${plural(spec.nodes, 'VM')} × `;
  const all = (texts: string[]) => (texts.length === 1 ? `, and ${texts[0]}` : `; ${texts.join('; ')}`);
  if (spec.cores === 'strict') {
    const need = spec.nodes * spec.vcpus;
    const free = states.reduce((n, s) => n + s.freeCores.length, 0);
    if (free < need) return `--cores strict needs ${plural(need, 'dedicated core')} (${vms}${plural(spec.vcpus, 'vCPU')})${all(states.map(coresText))}`;
  } else {
    const biggest = Math.max(...states.map((s) => s.host.cores));
    if (spec.vcpus > biggest) return `--vcpus ${spec.vcpus} is more than any host has cores${all(states.map((s) => `host ${s.host.name} has ${plural(s.host.cores, 'core')}`))}`;
  }
  const need = spec.nodes * spec.memoryBytes;
  const free = states.reduce((n, s) => n + Math.max(0, s.freeMemory), 0);
  if (free < need) return `--memory ${formatSize(spec.memoryBytes)} needs ${formatSize(need)} (${vms}${formatSize(spec.memoryBytes)})${all(states.map((s) => memoryText(s, reserve)))}`;
  return undefined;
}

/** Why VM `index` fits on no host (the totals allowed it: the free room is split). */
function vmRefusal(states: HostState[], spec: PlacementSpec, index: number, reserve: number): string {
  const need = spec.cores === 'strict' ? `${plural(spec.vcpus, 'dedicated core')} and ${formatSize(spec.memoryBytes)}` : formatSize(spec.memoryBytes);
  const why = states.map((s) => {
    if (spec.cores === 'strict' && s.freeCores.length < spec.vcpus) return coresText(s);
    if (spec.cores === 'free' && spec.vcpus > s.host.cores) return `host ${s.host.name} has ${plural(s.host.cores, 'core')}`;
    return memoryText(s, reserve);
  });
  return `cannot place ${vmHostname(spec.name, index)}, which needs ${need}: ${why.join('; ')}`;
}

export function place(hosts: readonly HostCapacity[], spec: PlacementSpec, opts: PlacementOptions = {}): PlacementResult {
  const reserve = opts.memoryReserveBytes ?? DEFAULT_MEMORY_RESERVE_BYTES;
  if (hosts.length === 0) return { ok: false, reason: 'there is no host to place the VC on' };
  const states = hosts.map((h) => stateOf(h, reserve));
  const total = totalsRefusal(states, spec, reserve);
  if (total) return { ok: false, reason: total };
  const vms: VmPlacement[] = [];
  let next = 0;
  for (let index = FIRST_INDEX; index < FIRST_INDEX + spec.nodes; index++) {
    // block stays on a host while VMs fit; cyclic moves on after every VM.
    let k = 0;
    while (k < states.length && !fits(states[(next + k) % states.length]!, spec)) k++;
    if (k === states.length) {
      return { ok: false, reason: vmRefusal(states, spec, index, reserve) };
    }
    const at = (next + k) % states.length;
    vms.push(take(states[at]!, spec, index));
    next = spec.placement === 'cyclic' ? (at + 1) % states.length : at;
  }
  return { ok: true, vms };
}
