// The stand-in peer of bench/firmware-boot.ts: which files dnsmasq and nginx serve per
// firmware, dnsmasq's boot rules (each loader for its firmware only), nginx's config, and
// the layout written to disk.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dnsmasqArgv, nginxConf, peerLayout, writePeerLayout, type PeerNode } from '../../tools/peer-boot.js';

const image = { name: 'debian-bookworm-amd64', version: 'v1', dir: '/img', files: ['vmlinuz', 'initrd.img', 'root.squashfs'] };
const node = (i: number, firmware: PeerNode['firmware']): PeerNode => ({
  name: `n${i}`, mac: `52:54:00:77:01:0${i}`, ip: `10.77.0.1${i}`, firmware, ipxeScript: `#!ipxe\necho n${i}\n`, grubCfg: firmware === 'uefi-secure' ? `menuentry n${i} {}\n` : undefined,
});

test('peerLayout: image files and each node\'s script over HTTP; loaders only for the firmwares present', () => {
  const files = peerLayout({ serverIp: '10.77.0.1', image, nodes: [node(1, 'bios'), node(3, 'uefi-http')] });
  const to = files.map((f) => f.to).sort();
  assert.equal(to, [
    'tftp/undionly.kpxe',
    'www/boot/52-54-00-77-01-01.ipxe',
    'www/boot/52-54-00-77-01-03.ipxe',
    'www/images/debian-bookworm-amd64/v1/initrd.img',
    'www/images/debian-bookworm-amd64/v1/root.squashfs',
    'www/images/debian-bookworm-amd64/v1/vmlinuz',
    'www/ipxe/ipxe.efi',
  ]);
  assert.is(files.find((f) => f.to === 'www/boot/52-54-00-77-01-03.ipxe')!.text, '#!ipxe\necho n3\n', "the script exactly as our replica gave it");
  assert.is(files.find((f) => f.to === 'www/images/debian-bookworm-amd64/v1/vmlinuz')!.from, '/img/vmlinuz');
});

test('peerLayout, Secure Boot: shim, GRUB, our bootstrap grub.cfg, per-node configs and kernel + initrd over TFTP (not the root)', () => {
  const bootstrap = 'configfile "/boot/${m1}.grub.cfg"\n';
  const files = peerLayout({ serverIp: '10.77.0.1', image, nodes: [node(4, 'uefi-secure')], grubBootstrap: bootstrap });
  const tftp = files.filter((f) => f.to.startsWith('tftp/')).map((f) => f.to).sort();
  assert.equal(tftp, [
    'tftp/boot/52-54-00-77-01-04.grub.cfg',
    'tftp/grub/grub.cfg',
    'tftp/grubx64.efi',
    'tftp/images/debian-bookworm-amd64/v1/initrd.img',
    'tftp/images/debian-bookworm-amd64/v1/vmlinuz',
    'tftp/shimx64.efi',
  ]);
  assert.match(files.find((f) => f.to === 'tftp/shimx64.efi')!.from!, /shimx64\.efi\.signed$/);
  assert.match(files.find((f) => f.to === 'tftp/grubx64.efi')!.from!, /grubnetx64\.efi\.signed$/);
  assert.is(files.find((f) => f.to === 'tftp/grub/grub.cfg')!.text, bootstrap);
  assert.is(files.find((f) => f.to === 'tftp/boot/52-54-00-77-01-04.grub.cfg')!.text, 'menuentry n4 {}\n');
  assert.throws(() => peerLayout({ serverIp: '10.77.0.1', image, nodes: [{ ...node(4, 'uefi-secure'), grubCfg: undefined }], grubBootstrap: bootstrap }), /n4 is uefi-secure but has no grubCfg/);
  assert.throws(() => peerLayout({ serverIp: '10.77.0.1', image, nodes: [node(4, 'uefi-secure')] }), /need grubBootstrap/);
});

test('dnsmasqArgv: reservations tagged by firmware; iPXE gets its script by HTTP, each firmware its own loader', () => {
  const argv = dnsmasqArgv({ iface: 'br0', network: '10.77.0.0', netmask: '255.255.255.0', serverIp: '10.77.0.1', dir: '/p', nodes: [node(1, 'bios'), node(2, 'uefi'), node(3, 'uefi-http'), node(4, 'uefi-secure')] });
  assert.ok(argv.includes('--dhcp-host=52:54:00:77:01:03,set:fw_uefi_http,10.77.0.13'));
  assert.ok(argv.includes('--dhcp-boot=tag:ipxe,http://10.77.0.1/boot/${mac:hexhyp}.ipxe'));
  const boots = argv.filter((a) => a.startsWith('--dhcp-boot=tag:!ipxe'));
  assert.equal(boots, [
    '--dhcp-boot=tag:!ipxe,tag:fw_uefi_http,http://10.77.0.1/ipxe/ipxe.efi',
    '--dhcp-boot=tag:!ipxe,tag:fw_uefi,ipxe.efi',
    '--dhcp-boot=tag:!ipxe,tag:fw_uefi_secure,shimx64.efi',
    '--dhcp-boot=tag:!ipxe,tag:fw_bios,undionly.kpxe',
  ]);
  assert.ok(argv.includes('--dhcp-option-force=tag:!ipxe,tag:fw_uefi_http,60,HTTPClient'), 'UEFI HTTP boot takes only an offer that says HTTPClient');
  assert.ok(argv.includes('--tftp-root=/p/tftp'));
  assert.ok(argv.includes('--port=0'), 'no DNS');
});

test('nginxConf: one worker, sendfile, the peer folder\'s www on port 80 of the server address', () => {
  const c = nginxConf({ serverIp: '10.77.0.1', dir: '/p' });
  assert.match(c, /worker_processes 1;/);
  assert.match(c, /sendfile on;/);
  assert.match(c, /listen 10\.77\.0\.1:80; root \/p\/www;/);
});

test('writePeerLayout: texts written, files linked or copied with their bytes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peer-boot-'));
  try {
    const src = join(dir, 'vmlinuz');
    writeFileSync(src, 'kernel bytes');
    writePeerLayout(join(dir, 'peer'), [{ to: 'www/images/x/v/vmlinuz', from: src }, { to: 'www/boot/a.ipxe', text: '#!ipxe\n' }]);
    assert.is(readFileSync(join(dir, 'peer/www/images/x/v/vmlinuz'), 'utf8'), 'kernel bytes');
    assert.is(statSync(join(dir, 'peer/www/images/x/v/vmlinuz')).ino, statSync(src).ino, 'a hard link on one file system');
    assert.is(readFileSync(join(dir, 'peer/www/boot/a.ipxe'), 'utf8'), '#!ipxe\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
