// Host programs the project runs, and the Debian package that provides each.
// One table, so every "not found" error can name the fix.
export const HOST_TOOLS: Record<string, string> = {
  mmdebstrap: 'mmdebstrap',
  mksquashfs: 'squashfs-tools',
  unsquashfs: 'squashfs-tools',
  'mkfs.erofs': 'erofs-utils',
  'fsck.erofs': 'erofs-utils',
  'dump.erofs': 'erofs-utils',
  zstd: 'zstd',
  cpio: 'cpio',
  tar: 'tar',
  cp: 'coreutils',
  mknod: 'coreutils',
  stdbuf: 'coreutils',
  script: 'bsdutils',
  setfattr: 'attr',
  'qemu-system-x86_64': 'qemu-system-x86',
  'grub-mkrescue': 'grub-common',
  xorriso: 'xorriso',
  mformat: 'mtools',
  virsh: 'libvirt-clients',
  libvirtd: 'libvirt-daemon-system',
  virtlogd: 'libvirt-daemon-system',
  'qemu-img': 'qemu-utils',
  'mkfs.ext4': 'e2fsprogs',
};

export function packageFor(tool: string): string | undefined {
  return HOST_TOOLS[tool];
}

export function missingToolMessage(tool: string): string {
  const pkg = packageFor(tool);
  return pkg
    ? `required program '${tool}' was not found on this host; install it with: apt-get install ${pkg}`
    : `required program '${tool}' was not found on this host (check PATH)`;
}
