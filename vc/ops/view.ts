// vc list and vc show: the record (what should be) beside what libvirt reports
// (what is), and an operation a killed command left behind. They take no lock and
// change nothing, so they answer while another command runs, or after it was killed.
import { formatSize } from '../size.js';

import { listVcs, type Operation, type VcRecord } from '../record.js';
import { LibvirtDownError } from '../drivers/libvirt.js';
import { mustGet, type OpsContext } from './context.js';

/** A domain's state as libvirt names it; `missing` when it is not defined, `unknown` when libvirt is down. */
export type VmState = string;

export interface VmView {
  name: string;
  host: string;
  state: VmState;
  desired: string;
  address: string;
  mac: string;
  vcpus: number;
  pinnedCores: number[];
  memoryBytes: number;
  consoleLog: string | null;
  scratch: string | null;
}

export interface OperationView extends Operation {
  /** True when the process that ran it is gone: it was killed. */
  interrupted: boolean;
}

export interface VcView {
  name: string;
  phase: VcRecord['phase'];
  image: string;
  network: string;
  gateway: boolean;
  placement: string;
  cores: string;
  scratch: string;
  operation: OperationView | null;
  /** Why the states are `unknown`, when libvirt did not answer. */
  libvirt: string | null;
  vms: VmView[];
  createdAt: string;
}

async function actualStates(ctx: OpsContext): Promise<{ states: Map<string, string>; down: string | null }> {
  try {
    return { states: new Map((await ctx.driver.list()).map((d) => [d.name, d.state])), down: null };
  } catch (err) {
    if (err instanceof LibvirtDownError) return { states: new Map(), down: err.message.split('\n')[0]! };
    throw err;
  }
}

export function vcView(ctx: Pick<OpsContext, 'alive'>, rec: VcRecord, states: Map<string, string>, down: string | null): VcView {
  const { spec } = rec;
  const op = rec.operation;
  return {
    name: spec.name,
    phase: rec.phase,
    image: `${rec.image.name}/${rec.image.version}`,
    network: rec.network.cidr,
    gateway: rec.network.gateway,
    placement: spec.placement,
    cores: spec.cores,
    scratch: spec.scratch.kind === 'ram' ? 'ram' : `disk:${formatSize(spec.scratch.sizeBytes)}`,
    operation: op ? { ...op, interrupted: !ctx.alive(op.pid, op.pidStart) } : null,
    libvirt: down,
    vms: rec.vms.map((vm) => ({
      name: vm.domain,
      host: vm.host,
      state: down ? 'unknown' : (states.get(vm.domain) ?? 'missing'),
      desired: vm.desired,
      address: vm.ip,
      mac: vm.mac,
      vcpus: spec.vcpus,
      pinnedCores: vm.cores,
      memoryBytes: spec.memoryBytes,
      consoleLog: vm.consoleLog ?? null,
      scratch: vm.scratchPath ?? null,
    })),
    createdAt: rec.createdAt,
  };
}

export async function showOp(ctx: OpsContext, name: string): Promise<VcView> {
  const { rec } = await mustGet(ctx, name);
  const { states, down } = await actualStates(ctx);
  return vcView(ctx, rec, states, down);
}

export async function listOp(ctx: OpsContext): Promise<VcView[]> {
  const recs = await listVcs(ctx.store);
  if (!recs.length) return [];
  const { states, down } = await actualStates(ctx);
  return recs.map((e) => vcView(ctx, e.value, states, down));
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function operationText(v: VcView): string | undefined {
  const op = v.operation;
  if (!op) return undefined;
  const what = `vc ${op.kind}${op.step ? ` (at ${op.step})` : ''}, pid ${op.pid}, started ${op.startedAt}`;
  if (!op.interrupted) return `in progress: ${what}`;
  const next = op.kind === 'destroy' || v.phase === 'destroying' ? `diskless vc destroy ${v.name}` : v.phase === 'creating' ? `diskless vc start ${v.name} to finish it, or diskless vc destroy ${v.name}` : `diskless vc ${op.kind} ${v.name} to finish it`;
  return `interrupted: ${what} was killed; run ${next}`;
}

export function formatShow(v: VcView): string {
  const head = [
    `VC ${v.name}: ${v.phase}, image ${v.image}, network ${v.network}${v.gateway ? ' (NAT through the host)' : ' (isolated)'}`,
    `placement ${v.placement}, cores ${v.cores}, scratch ${v.scratch}`,
  ];
  const op = operationText(v);
  if (op) head.push(op);
  if (v.libvirt) head.push(`states unknown: ${v.libvirt}`);
  const rows = [['NAME', 'HOST', 'STATE', 'ADDRESS', 'VCPUS', 'PINNED', 'MEMORY', 'CONSOLE']];
  for (const vm of v.vms) {
    const wants = vm.desired === 'running' ? ['running', 'idle'] : vm.desired === 'saved' ? ['shut off', 'paused'] : ['shut off'];
    const state = wants.includes(vm.state) || vm.state === 'unknown' ? vm.state : `${vm.state} (wants ${vm.desired})`;
    rows.push([vm.name, vm.host, vm.desired === 'saved' && vm.state === 'shut off' ? 'saved' : state, vm.address, String(vm.vcpus), vm.pinnedCores.join(',') || '-', formatSize(vm.memoryBytes), vm.consoleLog ?? '-']);
  }
  return `${head.join('\n')}\n${table(rows)}\n`;
}

export function formatList(vs: VcView[]): string {
  if (!vs.length) return 'no VCs (make one: diskless vc create NAME --image IMG --nodes N)\n';
  const rows = [['NAME', 'PHASE', 'VMS', 'RUNNING', 'NETWORK', 'IMAGE', 'OPERATION']];
  for (const v of vs) {
    const running = v.vms.filter((vm) => vm.state === 'running').length;
    const op = v.operation ? `${v.operation.kind}${v.operation.interrupted ? ' (interrupted)' : ''}` : '-';
    rows.push([v.name, v.phase, String(v.vms.length), v.libvirt ? '?' : String(running), v.network, v.image, op]);
  }
  return `${table(rows)}\n`;
}

