#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: install what diskless needs,
# build it, and build the Debian image. (Serving it and PXE-booting a node in QEMU
# join this script as the boot service and the end-to-end boot land.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm ci --no-audit --no-fund
npx build-image debian --out ./images "$@"
echo
echo "Artifacts: $(readlink -f ./images/debian-bookworm-amd64/current)"
ls -l ./images/debian-bookworm-amd64/current/
