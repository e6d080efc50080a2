// The server's sockets on a real (namespaced) network: proxyDHCP beside dnsmasq, and
// broadcast replies when bound to 0.0.0.0 on an interface with several addresses.
// The client is pxeclient.ts, run in the client namespace.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLink, netnsAvailable } from '../../../host/netns.js';
import { stop } from '../../../host/output.js';
import { inventoryYaml, startDnsmasq, startOurServer } from '../../../tools/dhcp/netns.js';
import { missingTools, runPxeClient } from './nstools.js';
import type { DhcpEvent } from '../../../pxe/dhcp/policy.js';
import { need } from '../../helpers/need.js';

const MAC = '52:54:00:77:00:01';
const dir = mkdtempSync(join(tmpdir(), 'dl-dhcp-sockets-'));
const events = (lines: string[]) => lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as DhcpEvent);

// dnsmasq and our proxy share one namespace and port 67, as on a host running both.
// dnsmasq (--bind-interfaces, one interface) binds 0.0.0.0:67 to its device (`ss`
// shows 0.0.0.0%dev:67) with address reuse on, so our 0.0.0.0:67 and serverIp:67
// sockets (SO_REUSEADDR) bind as well, and a broadcast DISCOVER reaches all of them. Caveat for co-hosting, not tested here: a
// unicast to serverIp:67 (a client RENEWing with dnsmasq) scores the same for
// dnsmasq's device-bound socket and our address-bound one, so the kernel may hand
// it to us, and the proxy ignores it; the client then rebinds by broadcast at T2.
test('proxyDHCP beside dnsmasq: address from dnsmasq, boot file from us, REQUEST to 4011 answered by unicast', async () => {
  const skip = netnsAvailable() ?? missingTools(['dnsmasq']);
  need(skip);
  const link = createLink({ serverCidr: '10.77.0.1/24', clientMac: MAC });
  try {
    const dnsmasq = await startDnsmasq(link.server, dir, { iface: link.serverIf, range: '10.77.0.50,10.77.0.150,255.255.255.0', hosts: [] });
    const inv = inventoryYaml('10.77.0.0/24', '10.77.0.1', '10.77.0.1', [{ name: 'node1', mac: MAC, ip: '10.77.0.11' }]);
    const ours = await startOurServer(link.server, dir, { inventoryText: inv, serverIp: '10.77.0.1', httpPort: 8080, proxyDhcp: true });
    try {
      const r = await runPxeClient(link.client, { iface: link.clientIf, mac: MAC, collectMs: 1500, dora: true, proxyServer: '10.77.0.1' });
      assert.is(r.error, undefined);
      // Two OFFERs: dnsmasq's with an address, ours with only the PXE part (PXE 2.1 2.2.5).
      assert.is(r.offers.length, 2, JSON.stringify(r.offers));
      const addr = r.offers.filter((o) => o.yiaddr !== '0.0.0.0');
      const proxy = r.offers.filter((o) => o.yiaddr === '0.0.0.0');
      assert.is(addr.length, 1);
      assert.is(proxy.length, 1);
      assert.match(addr[0]!.yiaddr, /^10\.77\.0\.([5-9]\d|1[0-4]\d|150)$/);
      assert.not.ok(addr[0]!.bootfile);
      assert.is(proxy[0]!.vendorClass, 'PXEClient');
      assert.ok(proxy[0]!.hasVendorOpts);
      assert.is(proxy[0]!.bootfile, 'undionly.kpxe');
      assert.is(proxy[0]!.file, 'undionly.kpxe');
      assert.is(proxy[0]!.siaddr, '10.77.0.1');
      // The ACK comes from dnsmasq (the proxy ignores REQUESTs on 67).
      assert.ok(r.ack, 'no ACK from dnsmasq');
      assert.is(r.ack!.yiaddr, addr[0]!.yiaddr);
      assert.not.ok(r.ack!.vendorClass);
      // PXE 2.1 2.2.6: REQUEST to 4011 from the new address; the client socket is bound to
      // that address, so this ACK arrived by unicast, from port 4011.
      assert.ok(r.proxyAck, 'no ACK on port 4011');
      assert.is(r.proxyAck!.from, '10.77.0.1:4011');
      assert.is(r.proxyAck!.yiaddr, '0.0.0.0');
      assert.is(r.proxyAck!.bootfile, 'undionly.kpxe');
      assert.is(r.proxyAck!.vendorClass, 'PXEClient');
      await new Promise((res) => setTimeout(res, 100));
      const evs = events(ours.events).filter((e) => e.mac === MAC);
      assert.ok(evs.some((e) => e.type === 'offer' && e.detail === 'proxyDHCP' && e.bootfile === 'undionly.kpxe'), JSON.stringify(evs));
      assert.ok(evs.some((e) => e.type === 'ack' && e.detail === 'proxyDHCP'), JSON.stringify(evs));
    } finally {
      await stop(ours.child);
      await stop(dnsmasq);
    }
  } finally {
    await link.destroy();
  }
});

// Bound to 0.0.0.0, a broadcast reply has no outgoing interface (the server namespace
// has no default route): it only leaves through the second socket, bound to serverIp.
// serverIp here is a secondary address, so the reply's source shows which socket sent it.
test('bound to 0.0.0.0 with several addresses on the interface: broadcast DISCOVER gets an OFFER from the chosen serverIp', async () => {
  const skip = netnsAvailable();
  need(skip);
  const link = createLink({ serverCidr: '10.77.0.1/24', clientMac: MAC });
  try {
    link.server.exec(['ip', 'addr', 'add', '10.77.0.7/24', 'dev', link.serverIf]);
    link.server.exec(['ip', 'addr', 'add', '10.66.0.1/24', 'dev', link.serverIf]);
    const inv = inventoryYaml('10.77.0.0/24', '10.77.0.1', '10.77.0.7', [{ name: 'node1', mac: MAC, ip: '10.77.0.11' }]);
    const ours = await startOurServer(link.server, dir, { inventoryText: inv, serverIp: '10.77.0.7', httpPort: 8080 });
    try {
      const r = await runPxeClient(link.client, { iface: link.clientIf, mac: MAC, collectMs: 1000, dora: true });
      assert.is(r.error, undefined);
      assert.is(r.offers.length, 1, JSON.stringify(r.offers));
      const o = r.offers[0]!;
      assert.is(o.from, '10.77.0.7:67');
      assert.is(o.serverId, '10.77.0.7');
      assert.is(o.siaddr, '10.77.0.7');
      assert.is(o.yiaddr, '10.77.0.11');
      assert.is(o.bootfile, 'undionly.kpxe');
      assert.ok(r.ack, 'no ACK');
      assert.is(r.ack!.from, '10.77.0.7:67');
      assert.is(r.ack!.yiaddr, '10.77.0.11');
      await new Promise((res) => setTimeout(res, 100));
      assert.ok(events(ours.events).some((e) => e.type === 'ack' && e.node === 'node1'));
    } finally {
      await stop(ours.child);
    }
  } finally {
    await link.destroy();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
