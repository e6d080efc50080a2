// vc start and vc stop. Each reads the record (what the VMs should be), asks the
// driver what they are, and moves only the VMs that differ, so running either again
// after a crash finishes the job.
import { beginOperation, finishOperation, setDesired } from '../record.js';
import { actorOf, forEachLimit, leftBehind, mustGet, refuseBusy, states, VM_CONCURRENCY, withVcLock, writeRecord, type Held, type OpsContext } from './context.js';
import { makeResources } from './create.js';
import { restoreHeld } from './snapshot.js';
import { vmDef, type VcState } from './vmdef.js';

/** A VC another command left half made or half removed: finish the create, refuse after a destroy. */
async function settle(ctx: OpsContext, held: Held): Promise<void> {
  refuseBusy(ctx, held.rec);
  if (held.rec.phase === 'destroying') throw new Error(`VC ${held.rec.spec.name} was being destroyed; finish with: diskless vc destroy ${held.rec.spec.name}`);
  if (held.rec.phase === 'creating') {
    ctx.log.info(`VC ${held.rec.spec.name}: its create was interrupted${leftBehind(ctx, held.rec)?.step ? ` at ${held.rec.operation!.step}` : ''}; finishing it`);
    await makeResources(ctx, held);
  }
}

export async function startHeld(ctx: OpsContext, held: Held): Promise<void> {
  await settle(ctx, held);
  if (held.rec.vms.some((vm) => vm.desired === 'saved')) return restoreHeld(ctx, held);
  const name = held.rec.spec.name;
  await writeRecord(ctx, held, setDesired(beginOperation(held.rec, 'start', actorOf(ctx)), 'running'));
  const now = await states(ctx, held.rec.vms);
  ctx.log.info(`starting ${held.rec.vms.length} VMs of ${name}`);
  await forEachLimit(held.rec.vms, VM_CONCURRENCY, async (vm) => {
    const s = now.get(vm.domain);
    if (s === undefined) await ctx.driver.define(vmDef(held.rec as VcState, vm));
    if (s === 'running' || s === 'idle') return ctx.log.info(`  ${vm.domain}: running already`);
    if (s === 'paused') await ctx.driver.resume(vm.domain);
    else await ctx.driver.start(vm.domain);
    ctx.log.info(`  ${vm.domain}: started (${vm.ip}; console ${vm.consoleLog})`);
  });
  await writeRecord(ctx, held, finishOperation(held.rec, ctx.now()));
}

export async function startOp(ctx: OpsContext, name: string): Promise<VcState> {
  return withVcLock(ctx, async () => {
    const held = await mustGet(ctx, name);
    await startHeld(ctx, held);
    return held.rec as VcState;
  });
}

export async function stopOp(ctx: OpsContext, name: string): Promise<VcState> {
  return withVcLock(ctx, async () => {
    const held = await mustGet(ctx, name);
    refuseBusy(ctx, held.rec);
    if (held.rec.phase !== 'ready') throw new Error(`VC ${name} is half ${held.rec.phase === 'creating' ? 'made' : 'removed'}: run diskless vc ${held.rec.phase === 'creating' ? 'start' : 'destroy'} ${name}`);
    const wasSaved = held.rec.vms.some((vm) => vm.desired === 'saved');
    await writeRecord(ctx, held, setDesired(beginOperation(held.rec, 'stop', actorOf(ctx)), 'stopped'));
    const now = await states(ctx, held.rec.vms);
    const secs = Math.round(ctx.shutdownTimeoutMs / 1000);
    ctx.log.info(`stopping ${held.rec.vms.length} VMs of ${name} (ACPI shutdown, power off after ${secs}s)`);
    // All at once: each waits up to the timeout for its guest.
    await Promise.all(held.rec.vms.map(async (vm) => {
      const s = now.get(vm.domain);
      if (s === undefined || s === 'shut off') return ctx.log.info(`  ${vm.domain}: stopped already`);
      if (s === 'paused' || s === 'crashed' || s === 'pmsuspended') {
        await ctx.driver.destroy(vm.domain); // a paused guest cannot answer ACPI
        return ctx.log.info(`  ${vm.domain}: powered off (it was ${s})`);
      }
      const how = await ctx.driver.shutdown(vm.domain, ctx.shutdownTimeoutMs);
      ctx.log.info(`  ${vm.domain}: ${how === 'shutdown' ? 'shut down' : `powered off (no ACPI shutdown within ${secs}s)`}`);
    }));
    if (wasSaved) ctx.log.info(`  the save files stay until the next vc save or vc destroy; vc start boots afresh`);
    await writeRecord(ctx, held, finishOperation(held.rec, ctx.now()));
    return held.rec as VcState;
  });
}
