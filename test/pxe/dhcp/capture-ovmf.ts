// Regenerates the UEFI golden fixtures (DISKLESS_REGEN_FIXTURES=1, golden-uefi.test.ts):
// Debian's OVMF in QEMU, a virtio NIC with no option ROM (romfile=), so OVMF's own network
// stack talks. Two machines at once, each in its own namespace with our DHCP server: one as
// OVMF boots by default (PXE over IPv4 first: arch 7), one with PXE off in the firmware
// (fw_cfg), so it goes straight to UEFI HTTP boot (arch 16). tcpdump records on the bridge.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNetns } from '../../../host/netns.js';
import { bootNetwork } from '../../../host/bridge.js';
import { stop } from '../../../host/output.js';
import { copyOvmfVars, startNode } from '../../../host/qemu.js';
import { inventoryYaml, startOurServer } from '../../../tools/dhcp/netns.js';
import { MsgType, Opt } from '../../../pxe/dhcp/constants.js';
import { decode } from '../../../pxe/dhcp/packet.js';
import { pcapPayloads } from './helpers.js';
import { startTcpdump } from './nstools.js';
import { CAPTURE_MAC } from './capture.js';

export const PXE_OFF = { 'opt/org.tianocore/IPv4PXESupport': 'n', 'opt/org.tianocore/IPv6PXESupport': 'n' };

/** The client's first DISCOVER and REQUEST in a capture. */
function clientPair(pcap: Buffer): { discover?: Buffer; request?: Buffer } {
  const out: { discover?: Buffer; request?: Buffer } = {};
  for (const p of pcapPayloads(pcap)) {
    try {
      const m = decode(p);
      const t = m.options.get(Opt.MESSAGE_TYPE)?.[0];
      if (m.op !== 1) continue;
      if (t === MsgType.DISCOVER) out.discover ??= p;
      if (t === MsgType.REQUEST) out.request ??= p;
    } catch {
      // not DHCP
    }
  }
  return out;
}

async function captureOne(dir: string, work: string, name: string, fwCfg?: Record<string, string>): Promise<void> {
  const ns = createNetns(name);
  try {
    const [tap] = bootNetwork(ns, '10.77.0.1/24', 1);
    const inv = inventoryYaml('10.77.0.0/24', '10.77.0.1', '10.77.0.1', [{ name: 'node1', mac: CAPTURE_MAC, ip: '10.77.0.11' }]);
    const srv = await startOurServer(ns, work, { inventoryText: inv, serverIp: '10.77.0.1', httpPort: 80 });
    const pcap = join(work, `${name}.pcap`);
    const dump = await startTcpdump(ns, 'br0', pcap);
    const vars = copyOvmfVars(work, 'uefi', `${name}-vars.fd`);
    const qemu = startNode(ns, { tap: tap!, mac: CAPTURE_MAC, nic: 'virtio', memMb: 256, firmware: 'uefi', uefiVars: vars, romfile: '', fwCfg });
    const deadline = Date.now() + 240_000;
    let got: ReturnType<typeof clientPair> = {};
    while (Date.now() < deadline && qemu.exitCode === null && !got.request) {
      await new Promise((r) => setTimeout(r, 500));
      if (existsSync(pcap)) got = clientPair(readFileSync(pcap));
    }
    await stop(qemu);
    await stop(dump);
    await stop(srv.child);
    if (!got.discover || !got.request) throw new Error(`${name}: capture lacks a DISCOVER or REQUEST from OVMF`);
    writeFileSync(join(dir, `${name}-discover.bin`), got.discover);
    writeFileSync(join(dir, `${name}-request.bin`), got.request);
  } finally {
    await ns.destroy();
  }
}

export async function regenerateOvmf(dir: string, work: string): Promise<void> {
  await Promise.all([captureOne(dir, work, 'ovmf-pxe'), captureOne(dir, work, 'ovmf-http', PXE_OFF)]);
}
