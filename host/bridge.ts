// Bridges and taps inside namespaces: the boot network QEMU machines attach to, and a
// hub joining one namespace per server, as a switch joins machines.
import { ip } from './ip.js';
import { createNetns, veth, type Netns } from './netns.js';

/** Bridge `name` in `ns`, with `cidr` when given, up. */
export function addBridge(ns: Netns, name: string, cidr?: string): void {
  ns.exec(ip.bridge(name));
  if (cidr) ns.exec(ip.addr(cidr, name));
  ns.exec(ip.up(name));
}

/** Tap `tap` in `ns` on bridge `bridge`, up: a QEMU NIC plugs into it. */
export function addTap(ns: Netns, tap: string, bridge: string): void {
  ns.exec(ip.tap(tap));
  ns.exec(ip.master(tap, bridge));
  ns.exec(ip.up(tap));
}

/** Bridge br0 with `serverCidr` and taps tap0..tap{n-1} in `ns`; returns the tap names. */
export function bootNetwork(ns: Netns, serverCidr: string, taps: number): string[] {
  addBridge(ns, 'br0', serverCidr);
  const names = Array.from({ length: taps }, (_, i) => `tap${i}`);
  for (const tap of names) addTap(ns, tap, 'br0');
  return names;
}

export interface Hub {
  hub: Netns;
  replicas: Netns[];
  destroy(): Promise<void>;
}

/**
 * A hub namespace holding bridge br0 (with `bridgeCidr` when given), and one namespace
 * per address joined to it by a veth (eth0 inside, with that address). Taps for QEMU
 * can be added to the hub's br0.
 */
export function hubTopology(cidrs: string[], bridgeCidr?: string): Hub {
  const hub = createNetns('hub');
  const replicas: Netns[] = [];
  const destroy = async () => {
    for (const ns of replicas) await ns.destroy();
    await hub.destroy();
  };
  try {
    addBridge(hub, 'br0', bridgeCidr);
    cidrs.forEach((cidr, i) => {
      const ns = createNetns(`r${i}`);
      replicas.push(ns);
      veth(hub, `hub${i}`, ns, 'eth0');
      hub.exec(ip.master(`hub${i}`, 'br0'));
      hub.exec(ip.up(`hub${i}`));
      ns.exec(ip.addr(cidr, 'eth0'));
      ns.exec(ip.up('eth0'));
    });
  } catch (err) {
    void destroy();
    throw err;
  }
  return { hub, replicas, destroy };
}
