// Namespace plumbing only the DHCP tests and fixture captures use: which tools are
// missing, tcpdump, and the PXE-like client (pxeclient.ts). Servers: tools/dhcp/netns.ts.
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Netns } from '../../../host/netns.js';
import { waitFor } from '../../../host/output.js';
import { projectRoot } from '../../../lib/paths.js';

export function missingTools(tools: string[]): string | undefined {
  for (const t of tools) if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0) return `${t} is not installed`;
  return undefined;
}

/** tcpdump writing a pcap of DHCP traffic, flushed per packet; resolves once it listens. */
export async function startTcpdump(ns: Netns, iface: string, file: string): Promise<ChildProcess> {
  const child = ns.spawn(['tcpdump', '-Z', 'root', '--immediate-mode', '-i', iface, '-U', '-n', '-w', file, 'udp port 67 or udp port 68']);
  await waitFor(child, /listening on/, 15_000, 'tcpdump');
  return child;
}

/** Run the PXE-like client (pxeclient.ts) in `ns` and return what it saw. */
export async function runPxeClient(ns: Netns, spec: import('./pxeclient.js').ClientSpec): Promise<import('./pxeclient.js').ClientResult> {
  const child = ns.spawn([process.execPath, '--import', 'tsx/esm', join(projectRoot(), 'test/pxe/dhcp/pxeclient.ts'), JSON.stringify(spec)], { cwd: projectRoot() });
  const line = await waitFor(child, /RESULT .*\n/, spec.collectMs + 30_000, 'PXE client');
  return JSON.parse(line.slice(7)) as import('./pxeclient.js').ClientResult;
}
