// A fake images folder in the layout build-image writes, for boot-service tests.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest } from '../store/manifest.js';

export function makeImages(opts: { name?: string; version?: string; rootBytes?: number; xen?: boolean; distro?: string } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'diskless-images-'));
  const name = opts.name ?? 'debian-bookworm-amd64';
  const version = opts.version ?? '20260101-000000';
  const dir = join(root, name, version);
  mkdirSync(dir, { recursive: true });
  const files: Record<string, [string, Buffer]> = {
    kernel: ['vmlinuz', randomBytes(4096)],
    initrd: ['initrd.img', randomBytes(8192)],
    root: ['root.squashfs', randomBytes(opts.rootBytes ?? 65536)],
  };
  if (opts.xen) files.xen = ['xen', randomBytes(2048)];
  const artifacts: Manifest['artifacts'] = {};
  for (const [key, [file, data]] of Object.entries(files)) {
    writeFileSync(join(dir, file), data);
    artifacts[key] = { file, size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
  }
  const manifest = {
    schema: 1, name, version, distro: opts.distro ?? 'debian', suite: 'bookworm', arch: 'amd64', kernelVersion: '6.1.0-test',
    cmdline: 'console=ttyS0,115200 quiet', templateHash: 'x', rootFormat: 'squashfs', initrdCompression: 'zstd',
    initrdModules: [], initrdBuiltin: [], bootstrap: { method: 'test', sourceHash: '' }, rootInputs: '', builtAt: '2026-01-01T00:00:00Z',
    builder: 'test', artifacts,
  } satisfies Manifest;
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  symlinkSync(version, join(root, name, 'current'));
  return { root, name, version, dir, manifest };
}
