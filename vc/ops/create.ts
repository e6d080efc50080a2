// vc create: check everything first (spec, name, image, host capacity, libvirt), then
// write the record, which names every resource, and only then make them: network,
// scratch disks, domains. Every step looks at what exists and makes only what is
// missing, so `vc start` finishes a create that was killed half-way.
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { fsyncPath, renameDurable } from '../../lib/atomic.js';
import { runSteps, type Step, type StepReporter } from '../../lib/progress.js';
import { createScratch, scratchBase } from '../disks.js';
import { place } from '../placement.js';
import { createVc, finishOperation, hostCapacities, listVcs, markStep, newVcRecord, usedNetworks } from '../record.js';
import type { SpecOptions, VcSpec } from '../spec.js';
import {
  actorOf, BASES_DIR, forEachLimit, mustGet, vcDir, VM_CONCURRENCY, vmFiles, withVcLock, writeRecord, type Held, type OpsContext,
} from './context.js';
import { resolveVcImage } from './image.js';
import { netDef, vmDef, type VcState } from './vmdef.js';
import { startHeld } from './power.js';
import { checkReachable } from './reach.js';
import { join } from 'node:path';

export interface CreateInput {
  /** The spec, made once the networks of the existing VCs are known (a default network avoids them). */
  spec: (o: SpecOptions) => VcSpec | Promise<VcSpec>;
  imagesDir: string;
  start?: boolean;
}

/** Everything checked before the record is written: nothing is made when one of these fails. */
async function plan(ctx: OpsContext, input: CreateInput): Promise<VcState> {
  const records = (await listVcs(ctx.store)).map((e) => e.value);
  const spec = await input.spec({ usedNetworks: usedNetworks(records) });
  if (records.some((r) => r.spec.name === spec.name)) {
    throw new Error(`a VC named ${spec.name} exists already: pick another name, or remove it with diskless vc destroy ${spec.name}`);
  }
  const image = await resolveVcImage(input.imagesDir, spec.image);
  const node = await ctx.driver.nodeInfo();
  const placed = place(hostCapacities([{ name: ctx.host, cores: node.cores, memoryBytes: node.memoryBytes }], records), spec);
  if (!placed.ok) throw new Error(`cannot place VC ${spec.name}: ${placed.reason}`);
  await checkReachable([image.boot.kernel, image.boot.initrd, image.boot.root, ctx.stateDir]);
  const rec = newVcRecord(spec, { name: image.name, version: image.version }, placed.vms, actorOf(ctx));
  const vms = rec.vms.map((vm) => {
    const f = vmFiles(ctx.stateDir, spec.name, vm.domain);
    return { ...vm, consoleLog: f.consoleLog, savePath: f.savePath, ...(spec.scratch.kind === 'disk' ? { scratchPath: f.scratchPath } : {}) };
  });
  return { ...rec, vms, boot: image.boot };
}

export async function createVcOp(ctx: OpsContext, input: CreateInput): Promise<VcState> {
  return withVcLock(ctx, async () => {
    const rec = await plan(ctx, input);
    const revision = await createVc(ctx.store, rec);
    const held: Held = { rec, revision };
    ctx.log.info(`VC ${rec.spec.name}: ${rec.vms.length} VMs on ${rec.network.cidr}, image ${rec.image.name}/${rec.image.version}`);
    try {
      await makeResources(ctx, held);
      if (input.start) await startHeld(ctx, held);
    } catch (err) {
      const n = rec.spec.name;
      ctx.log.info(held.rec.phase === 'creating' ? `VC ${n} is half made: diskless vc start ${n} finishes it, diskless vc destroy ${n} removes it` : `VC ${n} is made but not every VM started: diskless vc start ${n} tries again`);
      throw err;
    }
    return (await mustGet(ctx, rec.spec.name)).rec as VcState;
  });
}

/** Make whatever of the record's resources is missing, then mark the VC ready. */
export async function makeResources(ctx: OpsContext, held: Held): Promise<void> {
  const rec = held.rec as VcState;
  const step = (name: string, describe: string, run: (r: StepReporter) => Promise<void>): Step<null> => ({
    name,
    describe,
    run: async (_c, report) => {
      await writeRecord(ctx, held, markStep(held.rec, name, ctx.now()));
      await run(report);
    },
  });
  const steps = [
    step('network', `network ${rec.network.name} (${rec.network.cidr}, ${rec.network.gateway ? 'NAT through the host' : 'isolated'})`, async () => {
      await ctx.driver.defineNetwork(netDef(rec));
    }),
    step('disks', rec.spec.scratch.kind === 'disk' ? 'scratch disks: copy-on-write over one formatted base' : 'no scratch disks: the upper layer is in RAM', async (report) => {
      await mkdir(vcDir(ctx.stateDir, rec.spec.name), { recursive: true, mode: 0o755 });
      await chmod(vcDir(ctx.stateDir, rec.spec.name), 0o755);
      if (rec.spec.scratch.kind !== 'disk') return;
      const base = await scratchBase(join(ctx.stateDir, BASES_DIR), rec.spec.scratch.sizeBytes, { log: ctx.log });
      await forEachLimit(rec.vms, VM_CONCURRENCY, async (vm) => {
        if (existsSync(vm.scratchPath!)) return;
        // Made beside and renamed, so a file at the path is always a whole one.
        const tmp = `${vm.scratchPath}.tmp`;
        await rm(tmp, { force: true });
        await createScratch(base, tmp, { log: ctx.log });
        await fsyncPath(tmp);
        await renameDurable(tmp, vm.scratchPath!);
        report.note(`${vm.domain}: ${vm.scratchPath}`);
      });
    }),
    step('domains', `define ${rec.vms.length} domains`, async (report) => {
      const have = new Set((await ctx.driver.list()).map((d) => d.name));
      for (const vm of rec.vms) {
        if (have.has(vm.domain)) continue;
        await ctx.driver.define(vmDef(rec, vm));
        await writeRecord(ctx, held, markStep(held.rec, `defined ${vm.domain}`, ctx.now()));
        report.note(`${vm.domain}: defined (${vm.ip}${vm.cores.length ? `, cores ${vm.cores.join(',')}` : ''})`);
      }
    }),
  ];
  await runSteps(steps, null, { log: ctx.log });
  await writeRecord(ctx, held, finishOperation(held.rec, ctx.now(), { phase: 'ready' }));
}
