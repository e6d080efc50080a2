// The stand-in peer for boot benches: dnsmasq (DHCP + TFTP) and nginx (HTTP) serving the
// same files `diskless serve` would, laid out as static files. The layout, dnsmasq's
// command line and nginx's config are pure functions; writePeerLayout() puts the files down.
import { copyFileSync, linkSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type Firmware = 'bios' | 'uefi' | 'uefi-http' | 'uefi-secure';

export interface PeerNode {
  name: string;
  mac: string;
  ip: string;
  firmware: Firmware;
  /** The node's iPXE script, as our replica renders it (GET /boot/<mac>.ipxe). */
  ipxeScript: string;
  /** Its GRUB config (uefi-secure), as our replica serves it over TFTP (boot/<mac>.grub.cfg). */
  grubCfg?: string;
}

export interface PeerSpec {
  serverIp: string;
  /** Where the image's artifacts lie: images/<name>/<version>/<file>. */
  image: { name: string; version: string; dir: string; files: string[] };
  nodes: PeerNode[];
  /**
   * uefi-secure: grub/grub.cfg as our replica serves it over TFTP. The signed grubnetx64 loads
   * it from its prefix /grub and does not look for per-node files itself: it picks boot/<mac>.grub.cfg.
   */
  grubBootstrap?: string;
  /** Boot binaries on this host. */
  binaries?: Partial<typeof BINARIES>;
}

export const BINARIES = {
  ipxeEfi: '/usr/lib/ipxe/ipxe.efi',
  undionly: '/usr/lib/ipxe/undionly.kpxe',
  shim: '/usr/lib/shim/shimx64.efi.signed',
  grub: '/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed',
};

/** One file of the layout, relative to the peer's folder: copied (hard-linked) `from`, or `text`. */
export interface PeerFile {
  to: string;
  from?: string;
  text?: string;
}

const dashes = (mac: string) => mac.toLowerCase().replace(/:/g, '-');

/** Every file the peer serves: www/ for nginx, tftp/ for dnsmasq. */
export function peerLayout(spec: PeerSpec): PeerFile[] {
  const b = { ...BINARIES, ...spec.binaries };
  const img = `images/${spec.image.name}/${spec.image.version}`;
  const files: PeerFile[] = spec.image.files.map((f) => ({ to: `www/${img}/${f}`, from: join(spec.image.dir, f) }));
  const fw = new Set(spec.nodes.map((n) => n.firmware));
  if (fw.has('uefi-http')) files.push({ to: 'www/ipxe/ipxe.efi', from: b.ipxeEfi });
  if (fw.has('uefi')) files.push({ to: 'tftp/ipxe.efi', from: b.ipxeEfi });
  if (fw.has('bios')) files.push({ to: 'tftp/undionly.kpxe', from: b.undionly });
  if (fw.has('uefi-secure')) {
    if (spec.grubBootstrap === undefined) throw new Error('uefi-secure nodes need grubBootstrap: fetch grub/grub.cfg from our replica over TFTP');
    files.push({ to: 'tftp/shimx64.efi', from: b.shim }, { to: 'tftp/grubx64.efi', from: b.grub }, { to: 'tftp/grub/grub.cfg', text: spec.grubBootstrap });
    // GRUB fetches kernel and initrd over TFTP under Secure Boot (no signed http module).
    for (const f of spec.image.files.filter((f) => !/\.(squashfs|erofs)$/.test(f))) files.push({ to: `tftp/${img}/${f}`, from: join(spec.image.dir, f) });
  }
  for (const n of spec.nodes) {
    files.push({ to: `www/boot/${dashes(n.mac)}.ipxe`, text: n.ipxeScript });
    if (n.firmware === 'uefi-secure') {
      if (!n.grubCfg) throw new Error(`node ${n.name} is uefi-secure but has no grubCfg: fetch boot/<mac>.grub.cfg from our replica over TFTP`);
      files.push({ to: `tftp/boot/${dashes(n.mac)}.grub.cfg`, text: n.grubCfg });
    }
  }
  return files;
}

const TAG: Record<Firmware, string> = { bios: 'fw_bios', uefi: 'fw_uefi', 'uefi-http': 'fw_uefi_http', 'uefi-secure': 'fw_uefi_secure' };

/**
 * dnsmasq as the peer: DHCP for the nodes' reservations only (no DNS), TFTP from `tftp/`.
 * iPXE (user class iPXE) gets its script by HTTP; before it, each node gets its firmware's
 * loader, as our replica picks it. dnsmasq picks the first dhcp-boot whose tags all match,
 * so each one excludes the others' tags.
 */
export function dnsmasqArgv(o: { iface: string; network: string; netmask: string; serverIp: string; nodes: Pick<PeerNode, 'mac' | 'ip' | 'firmware'>[]; dir: string }): string[] {
  const http = `http://${o.serverIp}`;
  return [
    'dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=0', `--interface=${o.iface}`, '--bind-interfaces',
    `--dhcp-range=${o.network},static,${o.netmask}`, '--dhcp-authoritative', '--no-ping',
    ...o.nodes.map((n) => `--dhcp-host=${n.mac},set:${TAG[n.firmware]},${n.ip}`),
    '--dhcp-userclass=set:ipxe,iPXE',
    `--dhcp-boot=tag:ipxe,${http}/boot/\${mac:hexhyp}.ipxe`,
    `--dhcp-boot=tag:!ipxe,tag:${TAG['uefi-http']},${http}/ipxe/ipxe.efi`,
    `--dhcp-option-force=tag:!ipxe,tag:${TAG['uefi-http']},60,HTTPClient`,
    `--dhcp-boot=tag:!ipxe,tag:${TAG.uefi},ipxe.efi`,
    `--dhcp-boot=tag:!ipxe,tag:${TAG['uefi-secure']},shimx64.efi`,
    `--dhcp-boot=tag:!ipxe,tag:${TAG.bios},undionly.kpxe`,
    '--enable-tftp', `--tftp-root=${join(o.dir, 'tftp')}`,
    `--dhcp-leasefile=${join(o.dir, 'dnsmasq.leases')}`, `--pid-file=${join(o.dir, 'dnsmasq.pid')}`, '--user=root',
  ];
}

/** nginx as the peer's HTTP server: one worker, sendfile, files from `www/`. */
export function nginxConf(o: { serverIp: string; dir: string }): string {
  const d = o.dir;
  return `worker_processes 1;
daemon off;
pid ${d}/nginx.pid;
error_log stderr;
events { worker_connections 1024; }
http {
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  default_type application/octet-stream;
  access_log ${d}/access.log;
  client_body_temp_path ${d}/body;
  proxy_temp_path ${d}/proxy;
  fastcgi_temp_path ${d}/fastcgi;
  uwsgi_temp_path ${d}/uwsgi;
  scgi_temp_path ${d}/scgi;
  server { listen ${o.serverIp}:80; root ${d}/www; }
}
`;
}

/** Put the layout under `dir`: hard links where the file system allows, else copies (links resolved first). */
export function writePeerLayout(dir: string, files: PeerFile[]): void {
  for (const f of files) {
    const to = join(dir, f.to);
    mkdirSync(dirname(to), { recursive: true });
    if (f.text !== undefined) writeFileSync(to, f.text);
    else {
      const from = realpathSync(f.from!);
      try {
        linkSync(from, to);
      } catch {
        copyFileSync(from, to);
      }
    }
  }
}
