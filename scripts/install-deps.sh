#!/usr/bin/env bash
# Debian 12 packages diskless needs to build images and to run its tests.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# Node.js first: yargs needs Node >= 20.19, and Debian 12's own nodejs is 18.
NODE_MIN=20.19.0
node_fix="Debian 12's nodejs package is 18, too old. Install Node 20.19+ or 22 from NodeSource (https://github.com/nodesource/distributions: setup_22.x, then apt-get install nodejs), or with nvm; Debian 13's nodejs (20.19) works. Then run this script again."
if ! command -v node >/dev/null; then
  echo "install-deps: diskless needs Node.js >= $NODE_MIN and there is no node on PATH. $node_fix" >&2
  exit 1
fi
node_version=$(node -p 'process.versions.node' 2>/dev/null || true)
if [ "$(printf '%s\n%s\n' "$NODE_MIN" "$node_version" | sort -V | head -n 1)" != "$NODE_MIN" ]; then
  echo "install-deps: diskless needs Node.js >= $NODE_MIN; $(command -v node) is ${node_version:-unknown}. $node_fix" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
# Peer daemons (tftpd-hpa, dnsmasq, nginx, libvirtd: tests start their own with virtlogd -d; libvirtd -d; atftpd conflicts with tftpd-hpa, so bench/ unpacks its .deb) are installed for tests and benchmarks only:
# keep apt from starting them as system services.
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  added_policy=1
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  mmdebstrap debian-archive-keyring arch-test \
  squashfs-tools erofs-utils cpio zstd xz-utils busybox-static file attr \
  ca-certificates iproute2 nftables tcpdump curl nginx \
  tftp-hpa atftp tftpd-hpa dnsmasq-base isc-dhcp-client radvd \
  qemu-system-x86 ipxe-qemu ipxe ovmf \
  libvirt-daemon-system libvirt-clients qemu-utils \
  grub-common grub-pc-bin grub-efi-amd64-bin xorriso mtools \
  shim-signed grub-efi-amd64-signed chromium >/dev/null
[ -n "$added_policy" ] && $SUDO rm -f "$policy"
# Stop the peer daemons if an install started them anyway (only those, by name).
for svc in tftpd-hpa nginx; do
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
true
