// What every VC operation is given: the state store, the hypervisor driver of the
// (one, in part 1) host, the folders, a logger and the clock. Nothing here reads the
// environment; the command line fills it in.
import { join } from 'node:path';
import { hostname as osHostname } from 'node:os';
import { holderAlive, processStart } from '../../lib/pidlock.js';
import { silentLogger, type Logger } from '../../lib/log.js';
import type { DomainState, HypervisorDriver } from '../drivers/driver.js';
import type { StateStore } from '../store/store.js';
import { getVc, interruptedOperation, listVcs, VC_LOCK, vcKey, type Actor, type VcRecord, type VmRecord } from '../record.js';

export interface OpsContext {
  store: StateStore;
  driver: HypervisorDriver;
  /** Where scratch disks, console logs and save files live (the FileStore's folder by default). */
  stateDir: string;
  /** This host's name, as placement and `vc show` name it. */
  host: string;
  log: Logger;
  now: () => Date;
  pid: number;
  /** Whether the process that left an operation in a record still runs. */
  alive: (pid: number, pidStart: string) => boolean;
  /** ACPI shutdown timeout of `vc stop`, before power off. */
  shutdownTimeoutMs: number;
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 60_000;

export function opsContext(o: Pick<OpsContext, 'store' | 'driver' | 'stateDir'> & Partial<OpsContext>): OpsContext {
  return {
    host: osHostname(),
    log: silentLogger(),
    now: () => new Date(),
    pid: process.pid,
    alive: (pid, start) => holderAlive({ pid, start, token: '', owner: '' }),
    shutdownTimeoutMs: DEFAULT_SHUTDOWN_TIMEOUT_MS,
    ...o,
  };
}

export function actorOf(ctx: OpsContext): Actor {
  return { now: ctx.now(), pid: ctx.pid, pidStart: ctx.pid === process.pid ? processStart(ctx.pid) : '' };
}

/** The folders under the state dir; every one is 0755 so QEMU (user libvirt-qemu) reaches the files. */
export const BASES_DIR = 'bases';
export const VMS_DIR = 'vms';

export function vcDir(stateDir: string, vc: string): string {
  return join(stateDir, VMS_DIR, vc);
}

export function vmFiles(stateDir: string, vc: string, domain: string) {
  const dir = vcDir(stateDir, vc);
  return { scratchPath: join(dir, `${domain}.qcow2`), consoleLog: join(dir, `${domain}.console.log`), savePath: join(dir, `${domain}.save`) };
}

/** A record as read, with the revision the next write must match. */
export interface Held {
  rec: VcRecord;
  revision: number;
}

/** Write the record (the caller holds VC_LOCK, so the revision only guards against a bug). */
export async function writeRecord(ctx: OpsContext, held: Held, rec: VcRecord): Promise<Held> {
  const revision = await ctx.store.put(vcKey(rec.spec.name), rec, held.revision);
  held.rec = rec;
  held.revision = revision;
  return held;
}

/** The VC's record, or an error that lists the VCs there are. */
export async function mustGet(ctx: OpsContext, name: string): Promise<Held> {
  const e = await getVc(ctx.store, name);
  if (e) return { rec: e.value, revision: e.revision };
  const names = (await listVcs(ctx.store)).map((x) => x.value.spec.name);
  throw new Error(`no VC named ${name}${names.length ? `; there are: ${names.join(', ')}` : '; there are none (make one with diskless vc create)'}`);
}

/** Run `fn` holding the lock every state-changing vc command takes. */
export async function withVcLock<T>(ctx: OpsContext, fn: () => Promise<T>): Promise<T> {
  const lock = await ctx.store.lock(VC_LOCK, { onWait: (h) => ctx.log.info(`waiting for another vc command to finish: ${h}`) });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/** The operation a killed command left behind in the record, undefined when none or when it still runs. */
export function leftBehind(ctx: OpsContext, rec: VcRecord) {
  return interruptedOperation(rec, ctx.alive);
}

/** Refuse to touch a VC another live command is working on (it holds no VC_LOCK only if it was started by hand). */
export function refuseBusy(ctx: OpsContext, rec: VcRecord): void {
  const op = rec.operation;
  if (op && op.pid !== ctx.pid && ctx.alive(op.pid, op.pidStart)) {
    throw new Error(`VC ${rec.spec.name} is busy: pid ${op.pid} is running vc ${op.kind}${op.step ? ` (${op.step})` : ''}`);
  }
}

/** How many VMs one command drives at once: libvirtd serializes little, the host's cores do the rest. */
export const VM_CONCURRENCY = 4;

/** Run `fn` on every item, at most `limit` at a time; the first error is thrown once all started ones end. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        errors.push(err);
        next = items.length;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length) throw errors[0];
}

/** What libvirt reports for the VMs of a record (one list call); a VM with no domain has no entry. */
export async function states(ctx: OpsContext, vms: VmRecord[]): Promise<Map<string, DomainState>> {
  const all = new Map((await ctx.driver.list()).map((d) => [d.name, d.state]));
  return new Map(vms.flatMap((vm) => (all.has(vm.domain) ? [[vm.domain, all.get(vm.domain)!] as const] : [])));
}
