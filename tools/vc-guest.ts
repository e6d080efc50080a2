// A tiny guest for the libvirt tests and bench/vc.ts: a real Debian kernel and a BusyBox initrd whose
// init prints a counter on the serial console every second ("vc-tick N").
// The kernel is the first of: /boot/vmlinuz-* on this host; a linux-image-*-amd64 .deb
// in apt's cache; the one `apt-get download` fetches for linux-image-cloud-amd64.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeCpio } from '../builders/cpio.js';

const APT_CACHE = '/var/cache/apt/archives';

function kernelFromDeb(deb: string, dir: string): string {
  const out = join(dir, 'kernel');
  mkdirSync(out, { recursive: true });
  execFileSync('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards "./boot/vmlinuz-*"', 'sh', deb, out]);
  const v = readdirSync(join(out, 'boot')).find((f) => f.startsWith('vmlinuz-'));
  if (!v) throw new Error(`${deb} holds no /boot/vmlinuz-*`);
  return join(out, 'boot', v);
}

/** A path to a bootable x86_64 kernel, extracted under `dir` when it comes from a .deb. */
export function guestKernel(dir: string): string {
  const boot = existsSync('/boot') ? readdirSync('/boot').filter((f) => /^vmlinuz-/.test(f)).sort() : [];
  if (boot.length) return join('/boot', boot[boot.length - 1]!);
  const debs = existsSync(APT_CACHE) ? readdirSync(APT_CACHE).filter((f) => /^linux-image-\d.*-amd64_.*\.deb$/.test(f)).sort() : [];
  if (debs.length) return kernelFromDeb(join(APT_CACHE, debs[debs.length - 1]!), dir);
  const dep = /Depends: (linux-image-\S+)/.exec(execFileSync('apt-cache', ['depends', 'linux-image-cloud-amd64'], { encoding: 'utf8' }))?.[1];
  if (!dep) throw new Error('apt-cache depends linux-image-cloud-amd64 names no kernel package');
  const dl = join(dir, 'deb');
  mkdirSync(dl, { recursive: true });
  execFileSync('apt-get', ['download', '-q', dep], { cwd: dl, stdio: 'ignore' });
  return kernelFromDeb(join(dl, readdirSync(dl).find((f) => f.endsWith('.deb'))!), dir);
}

export const TICK = /vc-tick (\d+)/g;

const INIT = `#!/bin/sh
mount -t proc proc /proc
echo "vc-guest up: $(cat /proc/cmdline)"
i=0
while :; do echo "vc-tick $i"; i=$((i+1)); sleep 1; done
`;

/** A BusyBox initrd (/bin/busybox from busybox-static) written to `<dir>/initrd.cpio`. */
export function guestInitrd(dir: string): string {
  const file = join(dir, 'initrd.cpio');
  const busybox = readFileSync('/bin/busybox');
  writeFileSync(file, writeCpio([
    { type: 'dir', path: 'bin', mode: 0o755 },
    { type: 'file', path: 'bin/busybox', mode: 0o755, data: busybox },
    ...['sh', 'mount', 'cat', 'sleep', 'echo'].map((a) => ({ type: 'symlink' as const, path: `bin/${a}`, target: 'busybox' })),
    { type: 'dir', path: 'dev', mode: 0o755 },
    { type: 'char', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    { type: 'dir', path: 'proc', mode: 0o755 },
    { type: 'file', path: 'init', mode: 0o755, data: Buffer.from(INIT) },
  ]));
  return file;
}

/** The highest counter value in a console log, -1 when none yet. */
export function lastTick(log: string): number {
  let n = -1;
  for (const m of log.matchAll(TICK)) n = Math.max(n, Number(m[1]));
  return n;
}
