// Network namespaces: every address a network test, bench or virtual cluster uses lives
// inside a namespace made here, and is removed with it. Processes started inside are
// tracked and ended by PID. Every command goes through lib/run.ts.
import type { ChildProcess } from 'node:child_process';
import { runSync, start, type StartOptions } from '../lib/run.js';
import { ip, lossRules } from './ip.js';

let counter = 0;

/** Why namespaces cannot be made here, or undefined when they can. */
export function netnsAvailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  try {
    if (runSync(ip.netnsList(), { allowFail: true }).exitCode === 0) return undefined;
  } catch {
    // ip itself is missing
  }
  return "'ip netns' does not work here (apt-get install iproute2)";
}

export class Netns {
  readonly children = new Set<ChildProcess>();
  constructor(readonly name: string) {}

  /** Run a command in the namespace and wait; throws with the command line and stderr on failure. */
  exec(argv: string[], opts: { input?: string | Buffer; timeoutMs?: number; allowFail?: boolean } = {}) {
    const r = runSync(ip.netnsExec(this.name, argv), { input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000, allowFail: opts.allowFail });
    return { code: r.exitCode ?? null, stdout: r.stdout, stderr: r.stderr };
  }

  /**
   * Start a long-running process in the namespace; ended by destroy(), and by the kernel
   * when this process dies, even by SIGKILL (a parent-death signal: `ip netns exec` and
   * `setpriv` exec in place, so the PID is the command's own).
   */
  spawn(argv: string[], opts: StartOptions = {}): ChildProcess {
    const child = start(ip.netnsExec(this.name, ['setpriv', '--pdeathsig', 'SIGKILL', ...argv]), opts);
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
    runSync(ip.netnsDel(this.name), { allowFail: true });
  }
}

export function createNetns(tag = 'ns'): Netns {
  const name = `dl-${process.pid}-${++counter}-${tag}`.slice(0, 30);
  runSync(ip.netnsAdd(name));
  const ns = new Netns(name);
  ns.exec(ip.up('lo'));
  return ns;
}

/** A veth pair from namespace `a` (end `aIf`) to namespace `b` (end `bIf`). */
export function veth(a: Netns, aIf: string, b: Netns, bIf: string): void {
  runSync(ip.veth({ name: aIf, netns: a.name }, { name: bIf, netns: b.name }));
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
    veth(server, serverIf, client, clientIf);
    const serverCidr = opts.serverCidr ?? '10.77.0.1/24';
    server.exec(ip.addr(serverCidr, serverIf));
    server.exec(ip.up(serverIf));
    if (opts.clientMac) client.exec(ip.mac(clientIf, opts.clientMac));
    if (opts.clientCidr) client.exec(ip.addr(opts.clientCidr, clientIf));
    client.exec(ip.up(clientIf));
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
    runSync(ip.netnsDel(server.name), { allowFail: true });
    runSync(ip.netnsDel(client.name), { allowFail: true });
    throw err;
  }
}

/** Drop `perMille`/1000 of packets leaving `dev` in `ns`, with nftables, as the loss tests ask. */
export function addLoss(ns: Netns, dev: string, perMille: number): void {
  const r = ns.exec(['nft', '-f', '-'], { input: lossRules(dev, perMille, 'egress'), allowFail: true });
  // Kernels without netdev egress hooks: drop on the peer's ingress instead.
  if (r.code !== 0) ns.exec(['nft', '-f', '-'], { input: lossRules(dev, perMille, 'ingress') });
}
