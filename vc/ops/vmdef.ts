// From the record to what the driver defines: one VmDef per VM, a NetDef per VC.
import type { NetDef, VmDef } from '../drivers/driver.js';
import type { VcRecord, VmRecord } from '../record.js';
import type { BootFiles } from './image.js';
import { vmCmdline } from './cmdline.js';

/** The record as the ops write it: VcRecord plus the boot files resolved at create. */
export type VcState = VcRecord & { boot: BootFiles };

export function netDef(rec: VcRecord): NetDef {
  return { name: rec.network.name, bridge: rec.network.bridge, cidr: rec.network.cidr, gateway: rec.network.gateway };
}

export function vmDef(rec: VcState, vm: VmRecord): VmDef {
  const { spec, network, boot } = rec;
  if (!vm.consoleLog || (spec.scratch.kind === 'disk' && !vm.scratchPath)) throw new Error(`the record of ${vm.domain} names no console log or scratch disk`);
  return {
    domainName: vm.domain,
    vcpus: spec.vcpus,
    memoryBytes: spec.memoryBytes,
    pinnedCores: vm.cores.length ? vm.cores : undefined,
    kernel: boot.kernel,
    initrd: boot.initrd,
    cmdline: vmCmdline({
      base: boot.cmdline,
      scratch: spec.scratch.kind,
      ip: vm.ip,
      prefix: network.prefix,
      image: `${rec.image.name}/${rec.image.version}`,
      gateway: network.gateway ? network.gatewayAddress : undefined,
      hostname: vm.hostname,
      append: spec.append,
    }),
    rootImage: boot.root,
    scratch: spec.scratch.kind === 'disk' ? { kind: 'disk', path: vm.scratchPath! } : { kind: 'ram' },
    mac: vm.mac,
    network: network.name,
    consoleLog: vm.consoleLog,
  };
}
