// The libvirt driver: every operation is one or two `virsh -q -c URI …` commands run
// through lib/run.ts; the XML comes from vc/templates/. Operations a reconciler
// repeats after a crash (start, destroy, undefine, the networks) treat "already so"
// as done.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError, run } from '../../lib/run.js';
import { probeKvm } from '../../host/qemu.js';
import type { Logger } from '../../lib/log.js';
import type { DomainState, DomainStatus, HypervisorDriver, NetDef, NodeInfo, VirtType, VmDef } from './driver.js';
import {
  DOMAIN_TEMPLATE, NETWORK_TEMPLATE, loadTemplate, parseList, parseNames, parseNodeInfo, parseState,
  renderDomainXml, renderNetworkXml, virtTypeFromCapabilities,
} from './libvirt-xml.js';

export const DEFAULT_URI = 'qemu:///system';
export const START_LIBVIRTD_HINT = 'virtlogd -d; libvirtd -d';
const POLL_MS = 250;

/** libvirtd does not answer on the URI: the message says how to start it. */
export class LibvirtDownError extends Error {
  constructor(readonly uri: string, detail: string) {
    super(`libvirt is not running (virsh could not connect to ${uri}). Start it as root with: ${START_LIBVIRTD_HINT}\n${detail}`);
    this.name = 'LibvirtDownError';
  }
}

export interface LibvirtOptions {
  uri?: string;
  /** Force the domain type; by default the host's capabilities decide (kvm when libvirt offers it). */
  virtType?: VirtType;
  templatesDir?: string;
  log?: Logger;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const DOWN = /failed to connect to the hypervisor|Failed to connect socket/;
const NO_DOMAIN = /failed to get domain|Domain not found/;
const NO_NETWORK = /failed to get network|Network not found/;
const NOT_RUNNING = /domain is not running/;
const ALREADY_ACTIVE = /already active|already running/;
const NET_NOT_ACTIVE = /network is not active/;

export class LibvirtDriver implements HypervisorDriver {
  readonly name = 'libvirt';
  readonly uri: string;
  private virt?: VirtType;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(private readonly o: LibvirtOptions = {}) {
    this.uri = o.uri ?? DEFAULT_URI;
    this.virt = o.virtType;
    this.sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = o.now ?? Date.now;
  }

  /** Run one virsh command; a daemon that does not answer becomes a LibvirtDownError. */
  async virsh(args: string[], ignore?: RegExp): Promise<string> {
    try {
      return (await run(['virsh', '-q', '-c', this.uri, ...args], { log: this.o.log })).stdout;
    } catch (err) {
      const tail = err instanceof CommandError ? err.stderrTail : '';
      if (DOWN.test(tail)) throw new LibvirtDownError(this.uri, tail);
      if (ignore && ignore.test(tail)) return '';
      throw err;
    }
  }

  private async withXmlFile<T>(base: string, xml: string, fn: (file: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'diskless-virsh-'));
    try {
      const file = join(dir, `${base}.xml`);
      await writeFile(file, xml);
      return await fn(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async nodeInfo(): Promise<NodeInfo> {
    return parseNodeInfo(await this.virsh(['nodeinfo']));
  }

  async virtType(): Promise<VirtType> {
    // The CPU flags can be read only on this machine; a remote host's capabilities are taken as they are.
    const local = /^[a-z+]+:\/\/\//.test(this.uri);
    this.virt ??= virtTypeFromCapabilities(await this.virsh(['capabilities']), !local || probeKvm().hardwareVirt);
    return this.virt;
  }

  async defineNetwork(net: NetDef): Promise<void> {
    const xml = renderNetworkXml(net, loadTemplate(NETWORK_TEMPLATE, this.o.templatesDir));
    await this.withXmlFile(`net-${net.name}`, xml, (f) => this.virsh(['net-define', f]));
    await this.virsh(['net-start', net.name], ALREADY_ACTIVE);
  }

  async destroyNetwork(name: string): Promise<void> {
    await this.virsh(['net-destroy', name], new RegExp(`${NO_NETWORK.source}|${NET_NOT_ACTIVE.source}`));
    await this.virsh(['net-undefine', name], NO_NETWORK);
  }

  async listNetworks(): Promise<string[]> {
    return parseNames(await this.virsh(['net-list', '--all', '--name']));
  }

  async define(vm: VmDef): Promise<void> {
    const xml = renderDomainXml(vm, await this.virtType(), loadTemplate(DOMAIN_TEMPLATE, this.o.templatesDir));
    await this.withXmlFile(vm.domainName, xml, (f) => this.virsh(['define', f]));
  }

  async start(name: string): Promise<void> {
    await this.virsh(['start', name], ALREADY_ACTIVE);
  }

  async shutdown(name: string, timeoutMs: number): Promise<'shutdown' | 'destroyed'> {
    await this.virsh(['shutdown', name, '--mode', 'acpi'], new RegExp(`${NOT_RUNNING.source}|${NO_DOMAIN.source}`));
    const deadline = this.now() + timeoutMs;
    for (;;) {
      const s = await this.state(name);
      if (s === undefined || s === 'shut off') return 'shutdown';
      if (this.now() >= deadline) break;
      await this.sleep(POLL_MS);
    }
    await this.destroy(name);
    return 'destroyed';
  }

  async destroy(name: string): Promise<void> {
    await this.virsh(['destroy', name], new RegExp(`${NOT_RUNNING.source}|${NO_DOMAIN.source}`));
  }

  async undefine(name: string): Promise<void> {
    await this.virsh(['undefine', name], NO_DOMAIN);
  }

  async suspend(name: string): Promise<void> {
    await this.virsh(['suspend', name]);
  }

  async resume(name: string): Promise<void> {
    await this.virsh(['resume', name]);
  }

  async save(name: string, file: string): Promise<void> {
    await this.virsh(['save', name, file]);
  }

  async restore(file: string, o: { paused?: boolean } = {}): Promise<void> {
    await this.virsh(['restore', file, ...(o.paused ? ['--paused'] : [])]);
  }

  async list(): Promise<DomainStatus[]> {
    return parseList(await this.virsh(['list', '--all']));
  }

  async state(name: string): Promise<DomainState | undefined> {
    try {
      return parseState(await this.virsh(['domstate', name]));
    } catch (err) {
      if (err instanceof CommandError && NO_DOMAIN.test(err.stderrTail)) return undefined;
      throw err;
    }
  }
}
