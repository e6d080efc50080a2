// What the VC code asks of a hypervisor, one interface for every driver (libvirt's
// QEMU today; Xen through libvirt's libxl later). The inputs are narrow on purpose:
// the VC spec and placement are mapped onto them by the caller.

/** 'kvm' where /dev/kvm works, 'qemu' (TCG) otherwise. */
export type VirtType = 'kvm' | 'qemu';

export type ScratchDef = { kind: 'disk'; path: string } | { kind: 'ram' };

export interface VmDef {
  domainName: string;
  vcpus: number;
  memoryBytes: number;
  /** One host core per vCPU (vCPU i runs on pinnedCores[i]); absent when vCPUs float. */
  pinnedCores?: number[];
  kernel: string;
  initrd: string;
  cmdline: string;
  /** The image's root (squashfs or EROFS): attached read-only and shareable. */
  rootImage: string;
  scratch: ScratchDef;
  mac: string;
  /** Name of the VC network (a NetDef's name). */
  network: string;
  /** The serial console is appended to this file. */
  consoleLog: string;
}

export interface NetDef {
  name: string;
  /** Bridge device, at most 15 characters. */
  bridge: string;
  /** The VC's network, e.g. 10.40.0.0/24; needed only with a gateway. */
  cidr?: string;
  /** NAT through the host, which takes the first address of cidr. Isolated when absent or false. */
  gateway?: boolean;
  mtu?: number;
}

/** libvirt's names for domain states (virsh domstate), 'unknown' for anything else. */
export type DomainState =
  | 'running'
  | 'idle'
  | 'paused'
  | 'in shutdown'
  | 'shut off'
  | 'crashed'
  | 'pmsuspended'
  | 'unknown';

export interface DomainStatus {
  name: string;
  state: DomainState;
}

export interface NodeInfo {
  /** Logical CPUs the host offers (what vCPUs are pinned to). */
  cores: number;
  memoryBytes: number;
}

export interface HypervisorDriver {
  readonly name: string;
  nodeInfo(): Promise<NodeInfo>;
  /** The domain type this host uses for its VMs. */
  virtType(): Promise<VirtType>;

  /** Define and start the network; a network already defined or active is left as it is. */
  defineNetwork(net: NetDef): Promise<void>;
  /** Stop and undefine the network; one that is not there is not an error. */
  destroyNetwork(name: string): Promise<void>;
  listNetworks(): Promise<string[]>;

  define(vm: VmDef): Promise<void>;
  /** Start a defined domain; one already running is left running. */
  start(name: string): Promise<void>;
  /** ACPI shutdown, then power off after timeoutMs. Says which one stopped it. */
  shutdown(name: string, timeoutMs: number): Promise<'shutdown' | 'destroyed'>;
  /** Power off; a domain that is not running, or not there, is not an error. */
  destroy(name: string): Promise<void>;
  /** Forget the domain; one that is not there is not an error. */
  undefine(name: string): Promise<void>;
  suspend(name: string): Promise<void>;
  resume(name: string): Promise<void>;
  /** Save memory and device state to a file; the domain stops (it stays defined). */
  save(name: string, file: string): Promise<void>;
  /** Start the domain again from a saved file, paused when asked. */
  restore(file: string, o?: { paused?: boolean }): Promise<void>;
  list(): Promise<DomainStatus[]>;
  /** The domain's state, undefined when no such domain is defined. */
  state(name: string): Promise<DomainState | undefined>;
}
