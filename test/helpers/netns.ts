// Network namespaces for tests: every address a network test uses lives inside a
// namespace the test made, and the test removes it. Processes started inside are
// tracked and ended by PID.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

let counter = 0;

export function netnsAvailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  if (spawnSync('ip', ['netns', 'list']).status !== 0) return "'ip netns' does not work here (apt-get install iproute2)";
  return undefined;
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

export class Netns {
  readonly children = new Set<ChildProcess>();
  constructor(readonly name: string) {}

  /** Run a command in the namespace and wait; throws with stderr on failure. */
  exec(argv: string[], opts: { input?: string | Buffer; timeoutMs?: number; allowFail?: boolean } = {}) {
    const r = spawnSync('ip', ['netns', 'exec', this.name, ...argv], { input: opts.input, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 256 * 1024 * 1024 });
    if (r.status !== 0 && !opts.allowFail) {
      throw new Error(`in ${this.name}: ${argv.join(' ')} -> ${r.status ?? r.signal}: ${r.stderr?.toString().trim()}`);
    }
    return { code: r.status, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
  }

  /** Start a long-running process in the namespace; ended by kill() or destroy(). */
  spawn(argv: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /** Stop what this namespace's spawn() started, by PID, and delete the namespace. */
  async destroy(): Promise<void> {
    for (const c of this.children) {
      if (c.exitCode === null && c.pid) {
        try {
          process.kill(c.pid, 'SIGTERM');
        } catch {
          // gone already
        }
      }
    }
    const deadline = Date.now() + 3000;
    while ([...this.children].some((c) => c.exitCode === null && c.signalCode === null) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const c of this.children) if (c.exitCode === null && c.pid) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}

export function createNetns(tag = 'ns'): Netns {
  const name = `dl-${process.pid}-${++counter}-${tag}`.slice(0, 30);
  ip(['netns', 'add', name]);
  const ns = new Netns(name);
  ns.exec(['ip', 'link', 'set', 'lo', 'up']);
  return ns;
}

export interface Link {
  server: Netns;
  client: Netns;
  serverIf: string;
  clientIf: string;
  serverIp: string;
  destroy(): Promise<void>;
}

/**
 * Two namespaces joined by a veth pair. The server side gets `serverCidr`
 * (default 10.77.0.1/24); the client side is up with no address unless
 * `clientCidr` is given (DHCP clients configure it themselves).
 */
export function createLink(opts: { serverCidr?: string; clientCidr?: string; clientMac?: string } = {}): Link {
  const server = createNetns('srv');
  const client = createNetns('cli');
  const id = counter;
  const serverIf = `dls${id}`;
  const clientIf = `dlc${id}`;
  try {
    ip(['link', 'add', serverIf, 'netns', server.name, 'type', 'veth', 'peer', 'name', clientIf, 'netns', client.name]);
    const serverCidr = opts.serverCidr ?? '10.77.0.1/24';
    server.exec(['ip', 'addr', 'add', serverCidr, 'dev', serverIf]);
    server.exec(['ip', 'link', 'set', serverIf, 'up']);
    if (opts.clientMac) client.exec(['ip', 'link', 'set', clientIf, 'address', opts.clientMac]);
    if (opts.clientCidr) client.exec(['ip', 'addr', 'add', opts.clientCidr, 'dev', clientIf]);
    client.exec(['ip', 'link', 'set', clientIf, 'up']);
    return {
      server,
      client,
      serverIf,
      clientIf,
      serverIp: serverCidr.split('/')[0]!,
      destroy: async () => {
        await client.destroy();
        await server.destroy();
      },
    };
  } catch (err) {
    spawnSync('ip', ['netns', 'del', server.name]);
    spawnSync('ip', ['netns', 'del', client.name]);
    throw err;
  }
}

/**
 * Drop `perMille`/1000 of packets leaving `dev` in `ns`, with nftables
 * (`numgen random mod 1000 < N drop`), as the loss tests ask.
 */
export function addLoss(ns: Netns, dev: string, perMille: number): void {
  const rules = `table netdev dlloss {
  chain egress { type filter hook egress device "${dev}" priority 0; numgen random mod 1000 < ${perMille} drop; }
}`;
  const r = ns.exec(['nft', '-f', '-'], { input: rules, allowFail: true });
  if (r.code !== 0) {
    // Kernels without netdev egress hooks: drop on the peer's ingress instead.
    ns.exec(['nft', '-f', '-'], { input: rules.replace('egress {', 'ingress {').replace('hook egress', 'hook ingress') });
  }
}

/**
 * A hub namespace holding bridge br0, and one namespace per address joined to it by a
 * veth (eth0 inside, with that address). Taps for QEMU can be added to the hub's br0.
 */
export function hubTopology(cidrs: string[]): { hub: Netns; replicas: Netns[]; destroy(): Promise<void> } {
  const hub = createNetns('hub');
  hub.exec(['ip', 'link', 'add', 'br0', 'type', 'bridge']);
  hub.exec(['ip', 'link', 'set', 'br0', 'up']);
  const replicas: Netns[] = [];
  const destroy = async () => {
    for (const ns of replicas) await ns.destroy();
    await hub.destroy();
  };
  try {
    cidrs.forEach((cidr, i) => {
      const ns = createNetns(`r${i}`);
      replicas.push(ns);
      ip(['link', 'add', `hub${i}`, 'netns', hub.name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name]);
      hub.exec(['ip', 'link', 'set', `hub${i}`, 'master', 'br0']);
      hub.exec(['ip', 'link', 'set', `hub${i}`, 'up']);
      ns.exec(['ip', 'addr', 'add', cidr, 'dev', 'eth0']);
      ns.exec(['ip', 'link', 'set', 'eth0', 'up']);
    });
  } catch (err) {
    void destroy();
    throw err;
  }
  return { hub, replicas, destroy };
}
