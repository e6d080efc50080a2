// vc save and vc restore, the VC as one object:
// - save pauses every VM first, so all of them are saved at one instant of the VC's
//   life (no VM runs on while another is being written out), then saves each to its
//   file under the state dir; libvirt stops a domain only once its file is whole.
// - restore brings every VM back paused, then resumes them together.
// Both skip the VMs already done, so they finish after a crash when run again.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { beginOperation, finishOperation, setDesired } from '../record.js';
import { actorOf, forEachLimit, mustGet, refuseBusy, states, withVcLock, writeRecord, type Held, type OpsContext } from './context.js';
import { vmDef, type VcState } from './vmdef.js';

/** Saves write hundreds of MiB each: two at a time keep the disk busy without starving the guests. */
const SAVE_CONCURRENCY = 2;

export async function saveOp(ctx: OpsContext, name: string): Promise<VcState> {
  return withVcLock(ctx, async () => {
    const held = await mustGet(ctx, name);
    refuseBusy(ctx, held.rec);
    if (held.rec.phase !== 'ready') throw new Error(`VC ${name} is half ${held.rec.phase === 'creating' ? 'made: run diskless vc start' : 'removed: run diskless vc destroy'} ${name}`);
    const now = await states(ctx, held.rec.vms);
    const saving = held.rec.vms.some((vm) => vm.desired === 'saved');
    const off = held.rec.vms.filter((vm) => {
      const s = now.get(vm.domain);
      return (s === undefined || s === 'shut off') && !(saving && existsSync(vm.savePath!));
    });
    if (off.length) throw new Error(`VC ${name} cannot be saved: ${off.map((vm) => vm.domain).join(', ')} ${off.length === 1 ? 'is' : 'are'} not running; start it first: diskless vc start ${name}`);
    await writeRecord(ctx, held, setDesired(beginOperation(held.rec, 'save', actorOf(ctx)), 'saved'));
    const running = held.rec.vms.filter((vm) => ['running', 'idle', 'in shutdown'].includes(now.get(vm.domain) ?? ''));
    await Promise.all(running.map((vm) => ctx.driver.suspend(vm.domain)));
    ctx.log.info(`paused ${running.length} VMs of ${name}: saving them as of this instant`);
    const t0 = Date.now();
    await forEachLimit(held.rec.vms, SAVE_CONCURRENCY, async (vm) => {
      if ((await ctx.driver.state(vm.domain)) !== 'paused') return ctx.log.info(`  ${vm.domain}: saved already`);
      await ctx.driver.save(vm.domain, vm.savePath!);
      ctx.log.info(`  ${vm.domain}: saved to ${vm.savePath}`);
    });
    ctx.log.info(`saved ${name} in ${((Date.now() - t0) / 1000).toFixed(1)}s; bring it back with: diskless vc restore ${name}`);
    await writeRecord(ctx, held, finishOperation(held.rec, ctx.now()));
    return held.rec as VcState;
  });
}

export async function restoreHeld(ctx: OpsContext, held: Held): Promise<void> {
  const name = held.rec.spec.name;
  if (!held.rec.vms.some((vm) => vm.desired === 'saved')) {
    throw new Error(`VC ${name} was not saved (its VMs are meant to be ${held.rec.vms[0]?.desired ?? 'stopped'}): save it first with diskless vc save ${name}`);
  }
  const now = await states(ctx, held.rec.vms);
  const missing = held.rec.vms.filter((vm) => ['shut off', undefined].includes(now.get(vm.domain)) && !existsSync(vm.savePath!));
  if (missing.length) throw new Error(`VC ${name} cannot be restored: no save file for ${missing.map((vm) => `${vm.domain} (${vm.savePath})`).join(', ')}`);
  await writeRecord(ctx, held, beginOperation(held.rec, 'restore', actorOf(ctx)));
  const t0 = Date.now();
  await forEachLimit(held.rec.vms, SAVE_CONCURRENCY, async (vm) => {
    const s = now.get(vm.domain);
    if (s !== undefined && s !== 'shut off') return;
    if (s === undefined) await ctx.driver.define(vmDef(held.rec as VcState, vm));
    await ctx.driver.restore(vm.savePath!, { paused: true });
    ctx.log.info(`  ${vm.domain}: restored, paused`);
  });
  const paused = (await states(ctx, held.rec.vms));
  const toResume = held.rec.vms.filter((vm) => paused.get(vm.domain) === 'paused');
  await Promise.all(toResume.map((vm) => ctx.driver.resume(vm.domain)));
  ctx.log.info(`resumed ${toResume.length} VMs of ${name} together (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  await writeRecord(ctx, held, setDesired(held.rec, 'running'));
  for (const vm of held.rec.vms) await rm(vm.savePath!, { force: true });
  await writeRecord(ctx, held, finishOperation(held.rec, ctx.now()));
}

export async function restoreOp(ctx: OpsContext, name: string): Promise<VcState> {
  return withVcLock(ctx, async () => {
    const held = await mustGet(ctx, name);
    refuseBusy(ctx, held.rec);
    if (held.rec.phase !== 'ready') throw new Error(`VC ${name} is half ${held.rec.phase === 'creating' ? 'made' : 'removed'}; it has nothing to restore`);
    await restoreHeld(ctx, held);
    return held.rec as VcState;
  });
}
