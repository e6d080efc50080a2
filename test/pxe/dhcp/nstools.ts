// Namespace plumbing for the DHCP interop tests and fixture captures: start our
// server or dnsmasq inside a namespace, tcpdump, and QEMU with an iPXE ROM.
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Netns } from '../../helpers/netns.js';
import { projectRoot } from '../../../lib/paths.js';

export function missingTools(tools: string[]): string | undefined {
  for (const t of tools) if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0) return `${t} is not installed`;
  return undefined;
}

/** Wait until `child` prints a line matching `re` on stdout or stderr. */
export function waitFor(child: ChildProcess, re: RegExp, ms: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; output:\n${seen.slice(-2000)}`)), ms);
    const on = (d: Buffer) => {
      seen += d.toString();
      const m = re.exec(seen);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', on);
        child.stderr?.off('data', on);
        resolve(m[0]);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what}: process exited ${code}; output:\n${seen.slice(-2000)}`));
    });
  });
}

/** Collect a child's stdout lines. */
export function lines(child: ChildProcess): string[] {
  const out: string[] = [];
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    out.push(...parts);
  });
  return out;
}

export function inventoryYaml(subnet: string, router: string, server: string, nodes: Array<{ name: string; mac: string; ip: string }>, pool?: [string, string]): string {
  return `cluster: t
network:
  subnet: ${subnet}
  router: ${router}
  dns: [${router}]
  domain: cluster.test${pool ? `\n  pool: { start: ${pool[0]}, end: ${pool[1]} }` : ''}
servers: [${server}]
defaults: { image: debian }
nodes:
${nodes.map((n) => `  - { name: ${n.name}, mac: "${n.mac}", ip: ${n.ip} }`).join('\n')}
`;
}

/** Start our server in `ns`; resolves once it listens. */
export async function startOurServer(ns: Netns, dir: string, cfg: { inventoryText: string; serverIp: string; httpPort: number; proxyDhcp?: boolean; quiet?: boolean }): Promise<{ child: ChildProcess; events: string[] }> {
  const invFile = join(dir, `inv-${ns.name}.yaml`);
  writeFileSync(invFile, cfg.inventoryText);
  const arg = JSON.stringify({ inventory: invFile, serverIp: cfg.serverIp, httpPort: cfg.httpPort, leaseFile: join(dir, `leases-${ns.name}.json`), proxyDhcp: cfg.proxyDhcp, quiet: cfg.quiet });
  const child = ns.spawn([process.execPath, '--import', 'tsx/esm', join(projectRoot(), 'test/pxe/dhcp/serve.ts'), arg], { cwd: projectRoot() });
  const events = lines(child);
  await waitFor(child, /LISTENING/, 30_000, 'our DHCP server');
  return { child, events };
}

/** dnsmasq as DHCP only (no DNS), bound to `iface`, no ping, serving one reservation. */
export async function startDnsmasq(ns: Netns, dir: string, o: { iface: string; range: string; hosts: string[]; boot?: string }): Promise<ChildProcess> {
  const child = ns.spawn([
    'dnsmasq',
    '--no-daemon',
    '--conf-file=/dev/null',
    '--port=0',
    `--interface=${o.iface}`,
    '--bind-interfaces',
    `--dhcp-range=${o.range}`,
    ...o.hosts.map((h) => `--dhcp-host=${h}`),
    ...(o.boot ? [`--dhcp-boot=${o.boot}`] : []),
    '--no-ping',
    `--dhcp-leasefile=${join(dir, `dnsmasq-${ns.name}.leases`)}`,
    `--pid-file=${join(dir, `dnsmasq-${ns.name}.pid`)}`,
    '--user=root',
    '--log-dhcp',
  ]);
  await waitFor(child, /DHCP, IP range/, 15_000, 'dnsmasq');
  return child;
}

/** tcpdump writing a pcap of DHCP traffic, flushed per packet; resolves once it listens. */
export async function startTcpdump(ns: Netns, iface: string, file: string): Promise<ChildProcess> {
  const child = ns.spawn(['tcpdump', '-Z', 'root', '--immediate-mode', '-i', iface, '-U', '-n', '-w', file, 'udp port 67 or udp port 68']);
  await waitFor(child, /listening on/, 15_000, 'tcpdump');
  return child;
}

export function stop(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return r();
    child.once('exit', () => r());
    process.kill(child.pid, 'SIGTERM');
  });
}

/**
 * A namespace with bridge `br0` holding `serverCidr` and a tap for QEMU; returns
 * the tap name. QEMU attaches to the tap; the server listens on br0.
 */
export function bridgeWithTap(ns: Netns, serverCidr: string): { bridge: string; tap: string } {
  for (const argv of [
    ['ip', 'link', 'add', 'br0', 'type', 'bridge'],
    ['ip', 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap'],
    ['ip', 'link', 'set', 'tap0', 'master', 'br0'],
    ['ip', 'addr', 'add', serverCidr, 'dev', 'br0'],
    ['ip', 'link', 'set', 'tap0', 'up'],
    ['ip', 'link', 'set', 'br0', 'up'],
  ])
    ns.exec(argv);
  return { bridge: 'br0', tap: 'tap0' };
}

/** QEMU (TCG) PXE-booting from the iPXE e1000 ROM on `tap`; serial console on stdout. */
export function startQemu(ns: Netns, tap: string, mac: string): ChildProcess {
  return ns.spawn([
    'qemu-system-x86_64',
    '-accel', 'tcg',
    '-m', '128',
    '-nographic',
    '-no-reboot',
    '-serial', 'stdio',
    '-monitor', 'none',
    '-boot', 'n',
    '-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`,
    '-device', `e1000,netdev=n0,mac=${mac},romfile=/usr/lib/ipxe/qemu/pxe-e1000.rom`,
  ]);
}

/** Run the PXE-like client (pxeclient.ts) in `ns` and return what it saw. */
export async function runPxeClient(ns: Netns, spec: import('./pxeclient.js').ClientSpec): Promise<import('./pxeclient.js').ClientResult> {
  const child = ns.spawn([process.execPath, '--import', 'tsx/esm', join(projectRoot(), 'test/pxe/dhcp/pxeclient.ts'), JSON.stringify(spec)], { cwd: projectRoot() });
  const line = await waitFor(child, /RESULT .*\n/, spec.collectMs + 30_000, 'PXE client');
  return JSON.parse(line.slice(7)) as import('./pxeclient.js').ClientResult;
}
