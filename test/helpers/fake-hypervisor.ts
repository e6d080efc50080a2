// An in-memory HypervisorDriver for the VC operation tests: domains and networks in
// maps, save files written for real (so the ops' file checks hold), every call
// recorded, and hooks to fail or "kill" a call.
import { writeFileSync } from 'node:fs';
import type { DomainState, DomainStatus, HypervisorDriver, NetDef, NodeInfo, VirtType, VmDef } from '../../vc/drivers/driver.js';
import { LibvirtDownError } from '../../vc/drivers/libvirt.js';

export interface FakeDomain {
  def: VmDef;
  state: DomainState;
  /** Boots so far, to tell a restore (no new boot) from a start. */
  boots: number;
}

export class FakeHypervisor implements HypervisorDriver {
  readonly name = 'fake';
  domains = new Map<string, FakeDomain>();
  networks = new Map<string, NetDef>();
  saves = new Map<string, FakeDomain>();
  calls: string[] = [];
  /** Throw from the call whose "verb name" (e.g. "define lab-2") matches. */
  failOn?: RegExp;
  down = false;
  /** Whether a guest answers ACPI shutdown. */
  acpi = true;

  constructor(public node: NodeInfo = { cores: 4, memoryBytes: 8 * 2 ** 30 }) {}

  private call(what: string): void {
    if (this.down) throw new LibvirtDownError('fake:///', 'Failed to connect socket');
    this.calls.push(what);
    if (this.failOn?.test(what)) throw new Error(`fake failure: ${what}`);
  }

  private dom(name: string): FakeDomain {
    const d = this.domains.get(name);
    if (!d) throw new Error(`error: failed to get domain '${name}'`);
    return d;
  }

  async nodeInfo() { this.call('nodeinfo'); return this.node; }
  async virtType(): Promise<VirtType> { return 'qemu'; }
  async defineNetwork(net: NetDef) { this.call(`net-define ${net.name}`); this.networks.set(net.name, net); }
  async destroyNetwork(name: string) { this.call(`net-destroy ${name}`); this.networks.delete(name); }
  async listNetworks() { this.call('net-list'); return [...this.networks.keys()]; }
  async define(vm: VmDef) {
    this.call(`define ${vm.domainName}`);
    const d = this.domains.get(vm.domainName);
    this.domains.set(vm.domainName, { def: vm, state: d?.state ?? 'shut off', boots: d?.boots ?? 0 });
  }
  async start(name: string) {
    this.call(`start ${name}`);
    const d = this.dom(name);
    if (!this.networks.has(d.def.network)) throw new Error(`network ${d.def.network} is not active`);
    if (d.state !== 'running') { d.state = 'running'; d.boots++; }
  }
  async shutdown(name: string, _timeoutMs: number) {
    this.call(`shutdown ${name}`);
    const d = this.domains.get(name);
    if (d) d.state = 'shut off';
    return this.acpi ? 'shutdown' as const : 'destroyed' as const;
  }
  async destroy(name: string) { this.call(`destroy ${name}`); const d = this.domains.get(name); if (d) d.state = 'shut off'; }
  async undefine(name: string) { this.call(`undefine ${name}`); this.domains.delete(name); }
  async suspend(name: string) {
    this.call(`suspend ${name}`);
    const d = this.dom(name);
    if (d.state !== 'running') throw new Error(`${name} is ${d.state}, not running`);
    d.state = 'paused';
  }
  async resume(name: string) {
    this.call(`resume ${name}`);
    const d = this.dom(name);
    if (d.state !== 'paused') throw new Error(`${name} is ${d.state}, not paused`);
    d.state = 'running';
  }
  async save(name: string, file: string) {
    this.call(`save ${name}`);
    const d = this.dom(name);
    if (d.state !== 'running' && d.state !== 'paused') throw new Error(`${name} is not running`);
    this.saves.set(file, { ...d, def: d.def });
    writeFileSync(file, `saved ${name} ${d.state}`);
    d.state = 'shut off';
  }
  async restore(file: string, o: { paused?: boolean } = {}) {
    this.call(`restore ${file}`);
    const s = this.saves.get(file);
    if (!s) throw new Error(`no save in ${file}`);
    const d = this.dom(s.def.domainName);
    d.state = o.paused ? 'paused' : 'running';
  }
  async list(): Promise<DomainStatus[]> { this.call('list'); return [...this.domains].map(([name, d]) => ({ name, state: d.state })); }
  async state(name: string) { this.call(`domstate ${name}`); return this.domains.get(name)?.state; }
}
