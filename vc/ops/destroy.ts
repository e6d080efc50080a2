// vc destroy: mark the record `destroying`, then remove every domain, file and the
// network it names, skipping what is already gone, and the record last. Run again
// after a crash, it picks up where it stopped.
import { rm } from 'node:fs/promises';
import { removeScratch } from '../disks.js';
import { beginOperation, vcKey } from '../record.js';
import { actorOf, forEachLimit, mustGet, refuseBusy, vcDir, VM_CONCURRENCY, withVcLock, writeRecord, type OpsContext } from './context.js';

export async function destroyOp(ctx: OpsContext, name: string): Promise<void> {
  await withVcLock(ctx, async () => {
    const held = await mustGet(ctx, name);
    refuseBusy(ctx, held.rec);
    await writeRecord(ctx, held, beginOperation(held.rec, 'destroy', actorOf(ctx), { phase: 'destroying' }));
    const { rec } = held;
    ctx.log.info(`destroying VC ${name}: ${rec.vms.length} VMs, network ${rec.network.name}`);
    await forEachLimit(rec.vms, VM_CONCURRENCY, async (vm) => {
      await ctx.driver.destroy(vm.domain);
      await ctx.driver.undefine(vm.domain);
      if (vm.scratchPath) await removeScratch(vm.scratchPath);
      if (vm.savePath) await rm(vm.savePath, { force: true });
      ctx.log.info(`  ${vm.domain}: removed`);
    });
    await ctx.driver.destroyNetwork(rec.network.name);
    // Console logs and leftovers (a scratch disk's .tmp) go with the VC's folder.
    await rm(vcDir(ctx.stateDir, name), { recursive: true, force: true });
    await ctx.store.delete(vcKey(name), held.revision);
    ctx.log.info(`VC ${name} destroyed`);
  });
}
