// QEMU command lines as pure functions, and the accelerator choice: KVM only where
// /dev/kvm is usable and the CPU has hardware virtualization.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chooseAccel, EFI_ROMS, firmwareArgv, mediumArgv, OVMF_CODE, OVMF_CODE_SECBOOT, probeKvm, pxeNodeArgv, ROMS } from '../../host/qemu.js';

test('accelerator: kvm only with a usable /dev/kvm and VT-x/AMD-V; an explicit request wins', () => {
  const table: Array<[{ devKvm: boolean; hardwareVirt: boolean }, 'kvm' | 'tcg' | undefined, 'kvm' | 'tcg']> = [
    [{ devKvm: true, hardwareVirt: true }, undefined, 'kvm'],
    [{ devKvm: true, hardwareVirt: false }, undefined, 'tcg'], // e.g. kvm-pvm on a nested host
    [{ devKvm: false, hardwareVirt: true }, undefined, 'tcg'], // no device, or not ours to open
    [{ devKvm: false, hardwareVirt: false }, undefined, 'tcg'],
    [{ devKvm: true, hardwareVirt: true }, 'tcg', 'tcg'],
    [{ devKvm: false, hardwareVirt: false }, 'kvm', 'kvm'],
  ];
  for (const [probe, requested, want] of table) assert.is(chooseAccel(probe, requested), want, JSON.stringify({ probe, requested }));
});

test('probeKvm answers with two booleans', () => {
  const p = probeKvm();
  assert.type(p.devKvm, 'boolean');
  assert.type(p.hardwareVirt, 'boolean');
});

test('PXE node, e1000 under TCG: the command line the boot tests have always used', () => {
  assert.equal(pxeNodeArgv({ tap: 'tap0', mac: '52:54:00:77:00:01', nic: 'e1000', accel: 'tcg' }), [
    'qemu-system-x86_64', '-accel', 'tcg', '-m', '1024', '-smp', '1',
    '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-boot', 'n',
    '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', `e1000,netdev=n0,mac=52:54:00:77:00:01,romfile=${ROMS.e1000}`,
  ]);
});

test('PXE node, virtio under KVM with a CPU model and memory: modern-only virtio with its ROM', () => {
  const argv = pxeNodeArgv({ tap: 'tap3', mac: '52:54:00:77:00:04', nic: 'virtio', accel: 'kvm', cpu: 'host', memMb: 2048 });
  assert.equal(argv.slice(0, 7), ['qemu-system-x86_64', '-accel', 'kvm', '-cpu', 'host', '-m', '2048']);
  assert.is(argv[argv.indexOf('-netdev') + 1], 'tap,id=n0,ifname=tap3,script=no,downscript=no');
  assert.is(argv.at(-1), `virtio-net-pci,netdev=n0,mac=52:54:00:77:00:04,disable-legacy=on,romfile=${ROMS.virtio}`);
});

test('live medium as a CD with SeaBIOS: -cdrom, boot from it, a NIC with no ROM', () => {
  assert.equal(mediumArgv({ tap: 'tap0', mac: '52:54:00:77:00:09', image: '/w/live.iso', media: 'cdrom', accel: 'tcg' }), [
    'qemu-system-x86_64', '-accel', 'tcg', '-m', '1536', '-smp', '1',
    '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-cdrom', '/w/live.iso', '-boot', 'd',
    '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', 'e1000,netdev=n0,mac=52:54:00:77:00:09,romfile=',
  ]);
});

test('live medium as a USB stick with UEFI: OVMF code read-only, the vars copy writable, the stick first', () => {
  const argv = mediumArgv({ tap: 'tap0', mac: '52:54:00:77:00:09', image: '/w/live.img', media: 'usb', uefiVars: '/w/vars.fd', accel: 'kvm', memMb: 2048 });
  const s = argv.join(' ');
  assert.ok(s.includes(`-drive if=pflash,format=raw,readonly=on,file=${OVMF_CODE} -drive if=pflash,format=raw,file=/w/vars.fd`), s);
  assert.ok(s.includes('-drive if=none,id=stick,format=raw,readonly=on,file=/w/live.img -device qemu-xhci -device usb-storage,drive=stick,bootindex=0'), s);
  assert.ok(s.startsWith('qemu-system-x86_64 -accel kvm -m 2048 '), s);
  assert.not.ok(argv.includes('-cdrom'));
});

test('UEFI PXE node: OVMF code read-only and the vars copy writable; romfile= for OVMF\'s own stack, or an iPXE EFI ROM', () => {
  const argv = pxeNodeArgv({ tap: 'tap1', mac: '52:54:00:77:00:02', nic: 'virtio', accel: 'tcg', firmware: 'uefi', uefiVars: '/w/vars.fd', romfile: '' });
  const s = argv.join(' ');
  assert.ok(s.includes(`-drive if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE} -drive if=pflash,format=raw,unit=1,file=/w/vars.fd`), s);
  assert.not.ok(s.includes('smm=on'), s);
  assert.is(argv.at(-1), 'virtio-net-pci,netdev=n0,mac=52:54:00:77:00:02,disable-legacy=on,romfile=');
  const rom = pxeNodeArgv({ tap: 'tap1', mac: '52:54:00:77:00:02', nic: 'e1000', accel: 'tcg', firmware: 'uefi', uefiVars: '/w/vars.fd', romfile: EFI_ROMS.e1000 });
  assert.is(rom.at(-1), 'e1000,netdev=n0,mac=52:54:00:77:00:02,romfile=/usr/lib/ipxe/qemu/efi-e1000.rom');
});

test('Secure Boot node: q35 with SMM, the flash locked to SMM, the secboot code; fw_cfg entries pass through', () => {
  const argv = pxeNodeArgv({ tap: 't', mac: '52:54:00:77:00:03', nic: 'virtio', accel: 'tcg', firmware: 'uefi-secure', uefiVars: '/w/ms.fd', romfile: '', fwCfg: { 'opt/org.tianocore/IPv6PXESupport': 'n' } });
  const s = argv.join(' ');
  assert.ok(s.includes(`-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on -drive if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE_SECBOOT} -drive if=pflash,format=raw,unit=1,file=/w/ms.fd`), s);
  assert.ok(s.includes('-fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=n'), s);
  assert.equal(firmwareArgv('bios'), []);
  assert.throws(() => firmwareArgv('uefi'), /needs a writable copy of its OVMF variables/);
});

test.run();
