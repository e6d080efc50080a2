#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: install what diskless needs,
# build the Debian image, serve it from a network namespace, PXE-boot one diskless
# node in QEMU from it, show its console and report the boot time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm ci --no-audit --no-fund
npx build-image debian --out ./images "$@"
echo
echo "Artifacts: $(readlink -f ./images/debian-bookworm-amd64/current)"
ls -l ./images/debian-bookworm-amd64/current/
echo
node --import tsx/esm scripts/demo-boot.ts --images ./images
