#!/usr/bin/env bash
# Debian 12 packages diskless needs to build images and to run its tests.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  mmdebstrap debian-archive-keyring arch-test \
  squashfs-tools erofs-utils cpio zstd xz-utils busybox-static file attr \
  ca-certificates >/dev/null
command -v node >/dev/null || { echo "Node.js 20 or newer is needed (apt-get install nodejs npm)" >&2; exit 1; }
