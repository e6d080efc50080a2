// The images folder layout: which names are safe, which entries are versions, and
// that the safe-name pattern is written once, in store/layout.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { isSafeName, listImages, listVersions } from '../../store/layout.js';
import { projectRoot } from '../../lib/paths.js';

test('safe names: no slash, no leading dot, nothing a path could escape with', () => {
  for (const ok of ['debian-bookworm-amd64', '20261123-141502.2', 'root.squashfs', 'vmlinuz', 'A_b-1']) assert.ok(isSafeName(ok), ok);
  for (const bad of ['', '.', '..', '.lock', '.build-20261123-141502', 'a/b', '-x', '_x', 'a b', 'a\0b', 'é']) assert.not.ok(isSafeName(bad), JSON.stringify(bad));
});

test('listVersions: version folders only (not current, lock, staging or pulls), oldest first', async () => {
  const root = mkdtempSync(join(tmpdir(), 'dl-layout-'));
  try {
    const dir = join(root, 'img');
    for (const n of ['20260101-000000.10', '20260101-000000', '20260101-000000.9', '.build-20260101-000001', '.pull-20260101-000002-123']) mkdirSync(join(dir, n), { recursive: true });
    symlinkSync('20260101-000000.10', join(dir, 'current'));
    mkdirSync(join(root, '.hidden'));
    assert.equal(await listVersions(dir), ['20260101-000000', '20260101-000000.9', '20260101-000000.10']);
    assert.equal(await listImages(root), ['img']);
    assert.equal(await listVersions(join(root, 'missing')), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the safe-name pattern is written once, in store/layout.ts', () => {
  const pattern = '[A-Za-z0-9][A-Za-z0-9._-]*';
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && readFileSync(p, 'utf8').includes(pattern)) found.push(relative(projectRoot(), p));
    }
  };
  for (const d of ['builders', 'pxe', 'store', 'cluster', 'lib', 'cli', 'rootfs']) walk(join(projectRoot(), d));
  assert.equal(found, ['store/layout.ts']);
});

test.run();
