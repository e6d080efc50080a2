// libvirt's side as data: the view models for the domain and network templates
// (every value XML-escaped here, the templates stay logic-less) and the parsers
// for what virsh prints. Pure: no process, no file but the template read.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { render } from '../../lib/render.js';
import { defaultVcTemplatesDir } from '../../lib/paths.js';
import type { DomainState, DomainStatus, NetDef, NodeInfo, VirtType, VmDef } from './driver.js';

export const DOMAIN_TEMPLATE = 'domain-qemu.xml.mustache';
export const NETWORK_TEMPLATE = 'network.xml.mustache';
/** Disk serials the initrd finds the disks by (diskless.rootdev=serial:root diskless.scratch=serial:scratch). */
export const ROOT_DISK_SERIAL = 'root'; // vda
export const SCRATCH_DISK_SERIAL = 'scratch'; // vdb
/** Linux limits interface names to 15 characters (IFNAMSIZ - 1). */
export const MAX_BRIDGE_NAME = 15;

const XML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', "'": '&apos;', '"': '&quot;' };

export function xmlEscape(s: string): string {
  return s.replace(/[&<>'"]/g, (c) => XML_ENTITIES[c]!);
}

/**
 * A name-based UUID (RFC 4122 section 4.3, SHA-1, version 5) for a domain or network, so
 * defining the same name again updates it instead of clashing with a fresh random UUID.
 */
export function uuidFor(kind: 'domain' | 'network', name: string): string {
  const h = createHash('sha1').update(`diskless-vc:${kind}:${name}`).digest().subarray(0, 16);
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** A template of vc/templates/ (or of `templatesDir`, a folder laid out the same). */
export function loadTemplate(rel: string, templatesDir = defaultVcTemplatesDir()): string {
  return readFileSync(join(templatesDir, rel), 'utf8');
}

export interface DomainView {
  virtType: VirtType;
  name: string;
  uuid: string;
  memoryKiB: number;
  vcpus: number;
  cputune: { pins: { vcpu: number; cpuset: number }[] } | false;
  hostCpu: boolean;
  kernel: string;
  initrd: string;
  cmdline: string;
  rootImage: string;
  scratch: { path: string } | false;
  network: string;
  mac: string;
  consoleLog: string;
}

function checkVm(vm: VmDef): void {
  const where = `VM ${vm.domainName || '(no name)'}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(vm.domainName)) throw new Error(`${where}: domain name must be letters, digits and _.+- (got '${vm.domainName}')`);
  if (!Number.isInteger(vm.vcpus) || vm.vcpus < 1) throw new Error(`${where}: vcpus must be a positive integer (got ${vm.vcpus})`);
  if (!Number.isInteger(vm.memoryBytes) || vm.memoryBytes < 1024 * 1024) throw new Error(`${where}: memory must be at least 1 MiB (got ${vm.memoryBytes} bytes)`);
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(vm.mac)) throw new Error(`${where}: '${vm.mac}' is not a MAC address`);
  const pins = vm.pinnedCores;
  if (pins && pins.length !== vm.vcpus) throw new Error(`${where}: ${pins.length} pinned cores for ${vm.vcpus} vCPUs (one core per vCPU)`);
  if (pins?.some((c) => !Number.isInteger(c) || c < 0)) throw new Error(`${where}: pinned cores must be core numbers (got ${pins.join(',')})`);
}

export function domainView(vm: VmDef, virtType: VirtType): DomainView {
  checkVm(vm);
  const x = xmlEscape;
  return {
    virtType,
    name: x(vm.domainName),
    uuid: uuidFor('domain', vm.domainName),
    memoryKiB: Math.ceil(vm.memoryBytes / 1024),
    vcpus: vm.vcpus,
    cputune: vm.pinnedCores ? { pins: vm.pinnedCores.map((cpuset, vcpu) => ({ vcpu, cpuset })) } : false,
    hostCpu: virtType === 'kvm',
    kernel: x(vm.kernel),
    initrd: x(vm.initrd),
    cmdline: x(vm.cmdline),
    rootImage: x(vm.rootImage),
    scratch: vm.scratch.kind === 'disk' ? { path: x(vm.scratch.path) } : false,
    network: x(vm.network),
    mac: x(vm.mac.toLowerCase()),
    consoleLog: x(vm.consoleLog),
  };
}

export function renderDomainXml(vm: VmDef, virtType: VirtType, template = loadTemplate(DOMAIN_TEMPLATE)): string {
  return render(template, domainView(vm, virtType));
}

/** The host's address on an IPv4 network: the first one after the network address. */
export function gatewayOf(cidr: string): { address: string; prefix: number } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : NaN;
  if (!m || octets.some((o) => o > 255) || prefix > 30) throw new Error(`'${cidr}' is not an IPv4 network with room for a gateway (a.b.c.d/N, N at most 30)`);
  const ip = octets.reduce((a, o) => a * 256 + o, 0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const gw = ((ip & mask) >>> 0) + 1;
  return { address: [24, 16, 8, 0].map((s) => (gw >>> s) & 255).join('.'), prefix };
}

export interface NetworkView {
  name: string;
  uuid: string;
  bridge: string;
  mtu: number | false;
  gateway: { address: string; prefix: number } | false;
}

export function networkView(net: NetDef): NetworkView {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(net.name)) throw new Error(`network name must be letters, digits and _.+- (got '${net.name}')`);
  if (!/^[A-Za-z0-9_.-]+$/.test(net.bridge) || net.bridge.length > MAX_BRIDGE_NAME) {
    throw new Error(`network ${net.name}: bridge '${net.bridge}' must be 1 to ${MAX_BRIDGE_NAME} letters, digits and _.-`);
  }
  if (net.gateway && !net.cidr) throw new Error(`network ${net.name}: a gateway needs the network's CIDR`);
  return {
    name: xmlEscape(net.name),
    uuid: uuidFor('network', net.name),
    bridge: xmlEscape(net.bridge),
    mtu: net.mtu ?? false,
    gateway: net.gateway && net.cidr ? gatewayOf(net.cidr) : false,
  };
}

export function renderNetworkXml(net: NetDef, template = loadTemplate(NETWORK_TEMPLATE)): string {
  return render(template, networkView(net));
}

const STATES: readonly DomainState[] = ['running', 'idle', 'paused', 'in shutdown', 'shut off', 'crashed', 'pmsuspended'];

export function parseState(text: string): DomainState {
  const s = text.trim() as DomainState;
  return STATES.includes(s) ? s : 'unknown';
}

/** `virsh -q list --all`: " 3    vc1-0   running" / " -    vc1-1   shut off". */
export function parseList(stdout: string): DomainStatus[] {
  const out: DomainStatus[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s*(\S+)\s+(\S+)\s+(.+?)\s*$/.exec(line);
    if (m) out.push({ name: m[2]!, state: parseState(m[3]!) });
  }
  return out;
}

/** `virsh nodeinfo`: "CPU(s):  2" and "Memory size:  11626268 KiB". */
export function parseNodeInfo(stdout: string): NodeInfo {
  const cpus = /^CPU\(s\):\s*(\d+)\s*$/m.exec(stdout)?.[1];
  const mem = /^Memory size:\s*(\d+)\s*KiB\s*$/m.exec(stdout)?.[1];
  if (!cpus || !mem) throw new Error(`virsh nodeinfo printed no CPU count or memory size:\n${stdout}`);
  return { cores: Number(cpus), memoryBytes: Number(mem) * 1024 };
}

/** 'kvm' when libvirt's capabilities offer it for x86_64 guests (it checks /dev/kvm), else 'qemu'. */
export function virtTypeFromCapabilities(xml: string, hardwareVirt = true): VirtType {
  // libvirt offers kvm wherever /dev/kvm opens, also on a nested host without VT-x/AMD-V
  // (kvm-pvm), where a KVM guest does not run: a local host must also show vmx or svm.
  if (!hardwareVirt) return 'qemu';
  for (const guest of xml.split('<guest>').slice(1)) {
    if (/<arch name='x86_64'>/.test(guest) && /<domain type='kvm'/.test(guest)) return 'kvm';
  }
  return 'qemu';
}

/** Names, one per line (`virsh -q list --all --name`, `net-list --all --name`). */
export function parseNames(stdout: string): string[] {
  return stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}
