// What the state store holds for one VC, under the key vc/<name>: the spec, the
// placement, each VM's identity and desired power state, and the phase of a
// multi-step operation. Commands write the record BEFORE they make anything, so a
// record names everything that may exist: after a SIGKILL, `vc show` compares it
// with what libvirt reports, and `vc destroy` removes each named thing if present.
// Everything here is pure; the clock and the process are passed in.
import type { VcSpec } from './spec.js';
import { vcNetwork, vmIdentities, type VcNetworkPlan, type VmIdentity } from './identity.js';
import type { HostCapacity, VmPlacement } from './placement.js';
import { RevisionConflict, type Entry, type StateStore } from './store/store.js';

export const RECORD_SCHEMA = 1;
export const VC_PREFIX = 'vc/';
/** Part 1 takes this one lock around every vc command that changes state: placement reads every VC's allocations. */
export const VC_LOCK = 'vc';

export function vcKey(name: string): string {
  return VC_PREFIX + name;
}

export type PowerState = 'running' | 'stopped' | 'saved';
export type OperationKind = 'create' | 'start' | 'stop' | 'save' | 'restore' | 'destroy';
/**
 * creating: resources are being made, any of them may exist;
 * ready: every resource was made (the VMs' power states are in `desired`);
 * destroying: resources are being removed, any of them may be gone.
 */
export type Phase = 'creating' | 'ready' | 'destroying';

export interface VmRecord extends VmIdentity {
  host: string;
  /** Pinned cores (--cores strict); empty when vCPUs float. */
  cores: number[];
  desired: PowerState;
  /** Files the driver makes for this VM, named here before they are made. */
  scratchPath?: string;
  savePath?: string;
  consoleLog?: string;
}

export interface Operation {
  kind: OperationKind;
  pid: number;
  /** The process's start time (pidlock processStart), so a reused pid is not taken for it. */
  pidStart: string;
  startedAt: string;
  /** The step reached, for messages ("defining lab-3"). */
  step?: string;
}

export interface VcRecord {
  schema: typeof RECORD_SCHEMA;
  spec: VcSpec;
  /** The image version resolved at create time: every later start uses the same one. */
  image: { name: string; version: string };
  network: VcNetworkPlan;
  vms: VmRecord[];
  phase: Phase;
  /** The operation in progress; left behind by a killed command. */
  operation?: Operation;
  createdAt: string;
  updatedAt: string;
}

export interface Actor {
  now: Date;
  pid: number;
  pidStart: string;
}

/** A new record in phase `creating`, written before anything is made. */
export function newVcRecord(spec: VcSpec, image: VcRecord['image'], placement: VmPlacement[], actor: Actor): VcRecord {
  const at = new Map(placement.map((p) => [p.index, p]));
  const vms = vmIdentities(spec).map((id): VmRecord => {
    const p = at.get(id.index);
    if (!p) throw new Error(`placement has no host for ${id.hostname}`);
    return { ...id, host: p.host, cores: p.cores, desired: 'stopped' };
  });
  const when = actor.now.toISOString();
  return {
    schema: RECORD_SCHEMA,
    spec,
    image,
    network: vcNetwork(spec),
    vms,
    phase: 'creating',
    operation: { kind: 'create', pid: actor.pid, pidStart: actor.pidStart, startedAt: when },
    createdAt: when,
    updatedAt: when,
  };
}

export function beginOperation(rec: VcRecord, kind: OperationKind, actor: Actor, patch: Partial<Pick<VcRecord, 'phase'>> = {}): VcRecord {
  const when = actor.now.toISOString();
  return { ...rec, ...patch, operation: { kind, pid: actor.pid, pidStart: actor.pidStart, startedAt: when }, updatedAt: when };
}

export function markStep(rec: VcRecord, step: string, now: Date): VcRecord {
  return rec.operation ? { ...rec, operation: { ...rec.operation, step }, updatedAt: now.toISOString() } : rec;
}

export function finishOperation(rec: VcRecord, now: Date, patch: Partial<Pick<VcRecord, 'phase'>> = {}): VcRecord {
  const { operation: _done, ...rest } = rec;
  return { ...rest, ...patch, updatedAt: now.toISOString() };
}

/** The operation a killed command left behind; `alive` says whether a pid (with its start time) still runs. */
export function interruptedOperation(rec: VcRecord, alive: (pid: number, pidStart: string) => boolean): Operation | undefined {
  const op = rec.operation;
  return op && !alive(op.pid, op.pidStart) ? op : undefined;
}

/** Set every VM's desired power state, or those of `indexes`. */
export function setDesired(rec: VcRecord, desired: PowerState, indexes?: number[]): VcRecord {
  return { ...rec, vms: rec.vms.map((vm) => (!indexes || indexes.includes(vm.index) ? { ...vm, desired } : vm)) };
}

/** What the hosts have left once every recorded VM is counted (a `creating` VC's too: its VMs may exist). */
export function hostCapacities(hosts: Pick<HostCapacity, 'name' | 'cores' | 'memoryBytes'>[], records: VcRecord[]): HostCapacity[] {
  return hosts.map((h) => {
    const vms = records.flatMap((r) => r.vms.filter((vm) => vm.host === h.name).map((vm) => ({ vm, memory: r.spec.memoryBytes })));
    return {
      name: h.name,
      cores: h.cores,
      memoryBytes: h.memoryBytes,
      pinnedCores: vms.flatMap((x) => x.vm.cores).sort((a, b) => a - b),
      allocatedMemoryBytes: vms.reduce((n, x) => n + x.memory, 0),
    };
  });
}

export function usedNetworks(records: VcRecord[]): string[] {
  return records.map((r) => r.spec.network);
}

export async function listVcs(store: StateStore): Promise<Entry<VcRecord>[]> {
  return store.list<VcRecord>(VC_PREFIX);
}

export async function getVc(store: StateStore, name: string): Promise<Entry<VcRecord> | undefined> {
  return store.get<VcRecord>(vcKey(name));
}

/** Write a new VC's record; refuses, naming it, when a VC of that name exists. */
export async function createVc(store: StateStore, rec: VcRecord): Promise<number> {
  try {
    return await store.put(vcKey(rec.spec.name), rec, 0);
  } catch (err) {
    if (err instanceof RevisionConflict) throw new Error(`a VC named ${rec.spec.name} exists already: pick another name, or remove it with diskless vc destroy ${rec.spec.name}`);
    throw err;
  }
}
