// Regenerates the golden fixtures (DISKLESS_REGEN_FIXTURES=1): real clients talk
// to dnsmasq inside namespaces while tcpdump records; the BOOTP payloads of the
// client's DISCOVER and REQUEST (and dnsmasq's OFFER to iPXE) become .bin files.
import { readFileSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { createLink, createNetns } from '../../../host/netns.js';
import { bootNetwork } from '../../../host/bridge.js';
import { stop } from '../../../host/output.js';
import { startNode } from '../../../host/qemu.js';
import { startDnsmasq } from '../../../tools/dhcp/netns.js';
import { MsgType, Opt } from '../../../pxe/dhcp/constants.js';
import { decode } from '../../../pxe/dhcp/packet.js';
import { pcapPayloads } from './helpers.js';
import { startTcpdump } from './nstools.js';

export const CAPTURE_MAC = '52:54:00:77:00:01';
const RANGE = '10.77.0.50,10.77.0.150,255.255.255.0';
const HOSTS = [`${CAPTURE_MAC},10.77.0.11,node1`];

/** First message of each type in a capture, keyed e.g. "client-1" (DISCOVER from the client). */
function pick(pcap: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const p of pcapPayloads(pcap)) {
    try {
      const m = decode(p);
      const key = `${m.op === 1 ? 'client' : 'server'}-${m.options.get(Opt.MESSAGE_TYPE)?.[0]}`;
      if (!out.has(key)) out.set(key, p);
    } catch {
      // not DHCP
    }
  }
  return out;
}

async function captureClient(dir: string, work: string, name: string, run: (clientNs: ReturnType<typeof createLink>) => Promise<void>): Promise<void> {
  const link = createLink({ serverCidr: '10.77.0.1/24', clientMac: CAPTURE_MAC });
  try {
    await startDnsmasq(link.server, work, { iface: link.serverIf, range: RANGE, hosts: HOSTS, boot: 'undionly.kpxe' });
    const pcap = join(work, `${name}.pcap`);
    const dump = await startTcpdump(link.client, link.clientIf, pcap);
    await run(link);
    await new Promise((r) => setTimeout(r, 300));
    await stop(dump);
    const got = pick(readFileSync(pcap));
    const d = got.get(`client-${MsgType.DISCOVER}`);
    const r = got.get(`client-${MsgType.REQUEST}`);
    if (!d || !r) throw new Error(`${name}: capture lacks a DISCOVER or REQUEST (${[...got.keys()].join(', ')})`);
    writeFileSync(join(dir, `${name}-discover.bin`), d);
    writeFileSync(join(dir, `${name}-request.bin`), r);
  } finally {
    await link.destroy();
  }
}

export async function regenerate(dir: string, work: string): Promise<void> {
  await captureClient(dir, work, 'udhcpc', async (link) => {
    const script = join(work, 'true.sh');
    writeFileSync(script, '#!/bin/sh\nexit 0\n');
    chmodSync(script, 0o755);
    link.client.exec(['busybox', 'udhcpc', '-i', link.clientIf, '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', script, '-x', 'hostname:node1'], { timeoutMs: 30_000 });
  });
  await captureClient(dir, work, 'dhclient', async (link) => {
    const lease = join(work, 'dhclient.leases');
    const child = link.client.spawn(['dhclient', '-d', '-1', '-cf', '/dev/null', '-lf', lease, '-pf', join(work, 'dhclient.pid'), '-sf', '/bin/true', link.clientIf]);
    const deadline = Date.now() + 30_000;
    while (!(existsSync(lease) && readFileSync(lease, 'utf8').includes('fixed-address')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await stop(child);
  });
  // iPXE: QEMU with the iPXE e1000 ROM on a tap bridged to dnsmasq's interface.
  const ns = createNetns('ipxe');
  try {
    const [tap] = bootNetwork(ns, '10.77.0.1/24', 1);
    const bridge = 'br0';
    await startDnsmasq(ns, work, { iface: bridge, range: RANGE, hosts: HOSTS, boot: 'undionly.kpxe' });
    const pcap = join(work, 'ipxe.pcap');
    const dump = await startTcpdump(ns, bridge, pcap);
    const qemu = startNode(ns, { tap: tap!, mac: CAPTURE_MAC, nic: 'e1000', memMb: 128 });
    const deadline = Date.now() + 120_000;
    let got = new Map<string, Buffer>();
    while (Date.now() < deadline && qemu.exitCode === null) {
      await new Promise((r) => setTimeout(r, 500));
      if (existsSync(pcap)) got = pick(readFileSync(pcap));
      if (got.has(`client-${MsgType.REQUEST}`) && got.has(`server-${MsgType.ACK}`)) break;
    }
    await stop(qemu);
    await stop(dump);
    const need = [`client-${MsgType.DISCOVER}`, `client-${MsgType.REQUEST}`, `server-${MsgType.OFFER}`];
    if (need.some((k) => !got.has(k))) throw new Error(`iPXE capture incomplete: ${[...got.keys()].join(', ')}`);
    writeFileSync(join(dir, 'ipxe-discover.bin'), got.get(need[0]!)!);
    writeFileSync(join(dir, 'ipxe-request.bin'), got.get(need[1]!)!);
    writeFileSync(join(dir, 'dnsmasq-offer.bin'), got.get(need[2]!)!);
  } finally {
    await ns.destroy();
  }
}
