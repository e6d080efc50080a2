// The iproute2 command lines for namespaces, links, bridges and taps, as pure argv
// builders: the host code runs them (host/netns.ts, host/bridge.ts), tests read them.

export const ip = {
  netnsAdd: (name: string) => ['ip', 'netns', 'add', name],
  netnsDel: (name: string) => ['ip', 'netns', 'del', name],
  netnsList: () => ['ip', 'netns', 'list'],
  /** `argv` run inside namespace `ns`. */
  netnsExec: (ns: string, argv: string[]) => ['ip', 'netns', 'exec', ns, ...argv],
  /** A veth pair, each end created straight in its namespace. */
  veth: (a: { name: string; netns: string }, b: { name: string; netns: string }) =>
    ['ip', 'link', 'add', a.name, 'netns', a.netns, 'type', 'veth', 'peer', 'name', b.name, 'netns', b.netns],
  bridge: (name: string) => ['ip', 'link', 'add', name, 'type', 'bridge'],
  tap: (name: string) => ['ip', 'tuntap', 'add', 'dev', name, 'mode', 'tap'],
  addr: (cidr: string, dev: string) => ['ip', 'addr', 'add', cidr, 'dev', dev],
  flush: (dev: string) => ['ip', 'addr', 'flush', 'dev', dev],
  up: (dev: string) => ['ip', 'link', 'set', dev, 'up'],
  master: (dev: string, bridge: string) => ['ip', 'link', 'set', dev, 'master', bridge],
  mac: (dev: string, mac: string) => ['ip', 'link', 'set', dev, 'address', mac],
};

/**
 * nftables rules dropping `perMille`/1000 of the packets leaving `dev` (`hook`
 * 'egress'), or arriving on it ('ingress', for kernels without netdev egress hooks).
 */
export function lossRules(dev: string, perMille: number, hook: 'egress' | 'ingress'): string {
  return `table netdev dlloss {
  chain ${hook} { type filter hook ${hook} device "${dev}" priority 0; numgen random mod 1000 < ${perMille} drop; }
}`;
}
