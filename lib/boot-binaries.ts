// Where Debian keeps the signed boot binaries a replica serves over TFTP: the boot
// service reads them from here, and the service layer lays them in at the same paths.
/** Package shim-signed. */
export const SHIM_SIGNED = '/usr/lib/shim/shimx64.efi.signed';
/** Package grub-efi-amd64-signed: the network GRUB with the prefix /grub. */
export const GRUB_NET_SIGNED = '/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed';
/** Package grub-efi-amd64-bin, of the same version as the signed GRUB (modules are bound to their GRUB build). */
export const GRUB_MULTIBOOT2_MOD = '/usr/lib/grub/x86_64-efi/multiboot2.mod';

export const BOOT_CHAIN_HOST_FILES: readonly string[] = [SHIM_SIGNED, GRUB_NET_SIGNED, GRUB_MULTIBOOT2_MOD];
