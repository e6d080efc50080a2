// A tiny root filesystem tarball, made with tar-stream, that has what build-image
// needs (static busybox, a bzImage-shaped kernel, modules): fast pipeline tests
// with --from-tar, no network and no mmdebstrap.
import { createWriteStream, readFileSync, mkdtempSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';

export const FAKE_KVER = '6.1.0-test-amd64';

export function fakeBzImage(size = 4096): Buffer {
  const b = Buffer.alloc(size, 0x90);
  b.writeUInt16LE(0xaa55, 0x1fe);
  b.write('HdrS', 0x202, 'ascii');
  return b;
}

const MODULES: Record<string, string[]> = {
  'kernel/fs/squashfs/squashfs.ko': [],
  'kernel/fs/erofs/erofs.ko': ['kernel/lib/libcrc32c.ko'],
  'kernel/lib/libcrc32c.ko': [],
  'kernel/fs/overlayfs/overlay.ko': [],
  'kernel/drivers/block/loop.ko': [],
  'kernel/drivers/net/virtio_net.ko': ['kernel/net/core/failover.ko', 'kernel/drivers/virtio/virtio.ko'],
  'kernel/net/core/failover.ko': [],
  'kernel/drivers/virtio/virtio.ko': [],
  'kernel/drivers/virtio/virtio_pci.ko': ['kernel/drivers/virtio/virtio.ko'],
  'kernel/drivers/net/ethernet/intel/e1000/e1000.ko': [],
};

export async function makeFakeRootTar(file: string, opts: { busybox?: string } = {}): Promise<void> {
  const p = pack();
  const out = pipeline(p, createWriteStream(file));
  const add = (name: string, data: Buffer | string, mode = 0o644) => p.entry({ name, mode, mtime: new Date(0) }, data);
  const dir = (name: string) => p.entry({ name, type: 'directory', mode: 0o755 });
  for (const d of ['bin', 'boot', 'etc', 'usr', 'usr/lib', 'var', 'tmp', `usr/lib/modules`, `usr/lib/modules/${FAKE_KVER}`]) dir(d);
  p.entry({ name: 'lib', type: 'symlink', linkname: 'usr/lib' });
  add('bin/busybox', readFileSync(opts.busybox ?? '/bin/busybox'), 0o755);
  add(`boot/vmlinuz-${FAKE_KVER}`, fakeBzImage());
  add(`boot/config-${FAKE_KVER}`, 'CONFIG_RD_GZIP=y\nCONFIG_RD_ZSTD=y\n');
  add(`boot/initrd.img-${FAKE_KVER}`, 'distro initrd, pruned by the template');
  add('etc/os-release', 'ID=fake\n');
  add('etc/machine-id', '0123456789abcdef0123456789abcdef\n');
  for (const [path, deps] of Object.entries(MODULES)) add(`usr/lib/modules/${FAKE_KVER}/${path}`, `fake module ${path}\n`);
  add(`usr/lib/modules/${FAKE_KVER}/modules.dep`, Object.entries(MODULES).map(([k, v]) => `${k}:${v.map((d) => ` ${d}`).join('')}\n`).join(''));
  add(`usr/lib/modules/${FAKE_KVER}/modules.builtin`, 'kernel/net/packet/af_packet.ko\nkernel/net/unix/unix.ko\n');
  add(`usr/lib/modules/${FAKE_KVER}/modules.alias`, 'alias pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_net\nalias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000\n');
  p.finalize();
  await out;
}

/** A templates folder with one tarball-based template, "fake". */
export function makeFakeTemplates(extra: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-tpl-'));
  mkdirSync(join(dir, 'fake', 'rootfs', 'etc'), { recursive: true });
  const yaml = {
    name: 'fake',
    arch: 'amd64',
    bootstrap: { method: 'tarball', suite: 'test' },
    kernel: { package: 'linux-image-fake', cmdline: 'console=ttyS0' },
    initrd: { compression: 'gzip', modules: { required: ['squashfs', 'overlay', 'loop', 'virtio_net', 'af_packet'], optional: ['e1000', 'ice'] } },
    writable: [{ path: '/etc' }, { path: '/tmp', mode: 'tmpfs' }],
    prune: ['/boot/initrd.img-*'],
    overlays: ['base'],
    ...extra,
  };
  writeFileSync(join(dir, 'fake', 'template.yaml'), JSON.stringify(yaml, null, 2)); // JSON is YAML
  writeFileSync(join(dir, 'fake', 'rootfs', 'etc', 'motd.mustache'), '{{! Reads: imageName }}Welcome to {{imageName}}\n');
  return dir;
}

/** A folder with fake programs first on PATH; each script is `#!/bin/sh` + body. */
export function fakeBin(scripts: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-bin-'));
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}
