// The boot decision table (README "Which firmware gets which file"), row by row:
// client kind (option 60/77/93) × the inventory's firmware and role × TFTP here or not.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Arch, Opt } from '../../../pxe/dhcp/constants.js';
import { chooseBoot, classify, GRUB_X64, IPXE_BIOS, IPXE_EFI_X64, SHIM_X64, type BootChoice, type BootNode } from '../../../pxe/dhcp/boot.js';
import type { DhcpOptions } from '../../../pxe/dhcp/options.js';

const MAC = '52:54:00:77:00:01';
const T = { serverIp: '10.77.0.1', httpPort: 8080 };
const NO_TFTP = { ...T, tftp: false };
const URL_EFI = 'http://10.77.0.1:8080/ipxe/ipxe.efi';
const SCRIPT = 'http://10.77.0.1:8080/boot/52-54-00-77-00-01.ipxe';

function opts(vendor: string | undefined, arch: number | undefined, ipxe = false): DhcpOptions {
  const o: DhcpOptions = new Map();
  if (vendor) o.set(Opt.VENDOR_CLASS_ID, Buffer.from(vendor));
  if (arch !== undefined) o.set(Opt.CLIENT_ARCH, Buffer.from([arch >> 8, arch & 0xff]));
  if (ipxe) o.set(Opt.USER_CLASS, Buffer.from('iPXE'));
  return o;
}
const pxe = (arch: number) => classify(opts(`PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:003016`, arch));
const httpc = (arch: number) => classify(opts(`HTTPClient:Arch:${String(arch).padStart(5, '0')}:UNDI:003016`, arch));
const ipxe = (arch: number) => classify(opts(`PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:002001`, arch, true));
const plain = classify(opts(undefined, undefined));

const file = (c: BootChoice) => (c.silent ? 'silent' : c.file ? `${c.tftp ? 'tftp' : 'http'} ${c.file}` : 'none');

const rows: Array<[string, ReturnType<typeof classify>, BootNode | undefined, string]> = [
  // No firmware in the inventory: option 93 decides, as before.
  ['BIOS PXE ROM', pxe(Arch.BIOS), undefined, `tftp ${IPXE_BIOS}`],
  ['x64 UEFI PXE', pxe(Arch.EFI_X64), undefined, `tftp ${IPXE_EFI_X64}`],
  ['EFI byte code PXE', pxe(Arch.EFI_BC), undefined, `tftp ${IPXE_EFI_X64}`],
  ['x64 UEFI HTTP boot', httpc(Arch.EFI_X64_HTTP), undefined, `http ${URL_EFI}`],
  ['arm64 UEFI PXE (no arm64 binaries here)', pxe(Arch.EFI_ARM64), undefined, 'none'],
  ['arm64 UEFI HTTP boot (no arm64 binaries here)', httpc(Arch.EFI_ARM64_HTTP), undefined, 'none'],
  ['arm64 with firmware uefi', pxe(Arch.EFI_ARM64), { firmware: 'uefi', role: 'linux' }, 'none'],
  ['iPXE (BIOS)', ipxe(Arch.BIOS), undefined, `http ${SCRIPT}`],
  ['iPXE (UEFI)', ipxe(Arch.EFI_X64), undefined, `http ${SCRIPT}`],
  ['plain DHCP client', plain, undefined, `tftp ${IPXE_BIOS}`],
  ['unknown architecture', pxe(Arch.EFI_IA32), undefined, 'none'],
  // Firmware given: it decides.
  ['firmware bios', pxe(Arch.BIOS), { firmware: 'bios', role: 'linux' }, `tftp ${IPXE_BIOS}`],
  ['firmware uefi', pxe(Arch.EFI_X64), { firmware: 'uefi', role: 'linux' }, `tftp ${IPXE_EFI_X64}`],
  ['firmware uefi, HTTP boot', httpc(Arch.EFI_X64_HTTP), { firmware: 'uefi', role: 'linux' }, `http ${URL_EFI}`],
  ['firmware uefi-http, its PXE attempt', pxe(Arch.EFI_X64), { firmware: 'uefi-http', role: 'linux' }, 'silent'],
  ['firmware uefi-http, HTTP boot', httpc(Arch.EFI_X64_HTTP), { firmware: 'uefi-http', role: 'linux' }, `http ${URL_EFI}`],
  ['firmware uefi-secure', pxe(Arch.EFI_X64), { firmware: 'uefi-secure', role: 'linux' }, `tftp ${SHIM_X64}`],
  ['firmware uefi-secure, HTTP boot', httpc(Arch.EFI_X64_HTTP), { firmware: 'uefi-secure', role: 'linux' }, 'none'],
  ['xen-dom0, UEFI PXE by arch', pxe(Arch.EFI_X64), { role: 'xen-dom0' }, `tftp ${GRUB_X64}`],
  ['xen-dom0, firmware uefi', pxe(Arch.EFI_X64), { firmware: 'uefi', role: 'xen-dom0' }, `tftp ${GRUB_X64}`],
  ['xen-dom0, iPXE EFI ROM', ipxe(Arch.EFI_X64), { role: 'xen-dom0' }, `tftp ${GRUB_X64}`],
  ['xen-dom0, iPXE BIOS', ipxe(Arch.BIOS), { role: 'xen-dom0' }, `http ${SCRIPT}`],
  ['xen-dom0, BIOS PXE', pxe(Arch.BIOS), { role: 'xen-dom0' }, `tftp ${IPXE_BIOS}`],
  ['xen-dom0, HTTP boot', httpc(Arch.EFI_X64_HTTP), { role: 'xen-dom0' }, 'none'],
  ['inventory firmware wins over option 93', pxe(Arch.BIOS), { firmware: 'uefi', role: 'linux' }, `tftp ${IPXE_EFI_X64}`],
];

test('the decision table, with TFTP', () => {
  for (const [name, kind, node, want] of rows) assert.is(file(chooseBoot(kind, MAC, T, node)), want, name);
});

test('a disagreement between the inventory and option 93 is said in the note', () => {
  assert.match(chooseBoot(pxe(Arch.BIOS), MAC, T, { firmware: 'uefi', role: 'linux' }).note ?? '', /inventory says firmware uefi.*architecture 0.*inventory wins/);
  assert.is(chooseBoot(pxe(Arch.EFI_X64), MAC, T, { firmware: 'uefi', role: 'linux' }).note, undefined);
});

test('without TFTP: PXE clients that need it get silence; HTTP boot, iPXE and plain clients are answered', () => {
  for (const [name, kind, node, want] of rows) {
    const got = chooseBoot(kind, MAC, NO_TFTP, node);
    if (want.startsWith('tftp ') && kind.pxe) {
      assert.ok(got.silent, `${name}: silent`);
      assert.match(got.note ?? '', /does not serve/, name);
    } else if (want.startsWith('tftp ')) assert.is(file(got), 'none', `${name}: answered, with no boot file`);
    else assert.is(file(got), want, `${name}: as with TFTP`);
  }
});
test.run();
