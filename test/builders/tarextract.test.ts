import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createWriteStream, existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { execFileSync } from 'node:child_process';
import { pack } from 'tar-stream';
import { extractTarball } from '../../builders/tarextract.js';

type E = Parameters<ReturnType<typeof pack>['entry']>[0] & { data?: string };

async function tarOf(entries: E[], compress?: 'gzip' | 'zstd'): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tarx-'));
  const file = join(dir, 'in.tar');
  const p = pack();
  const done = pipeline(p, createWriteStream(file));
  for (const { data, ...h } of entries) p.entry(h, data ?? '');
  p.finalize();
  await done;
  if (compress === 'gzip') execFileSync('gzip', ['-k', file]);
  if (compress === 'zstd') execFileSync('zstd', ['-q', '-k', file]);
  return compress === 'gzip' ? `${file}.gz` : compress === 'zstd' ? `${file}.zst` : file;
}

const sample: E[] = [
  { name: 'etc/', type: 'directory', mode: 0o755 },
  { name: 'etc/passwd', mode: 0o644, data: 'root:x:0:0::/root:/bin/sh\n' },
  { name: 'usr/bin/su', mode: 0o4755, uid: 0, gid: 0, data: 'suid' },
  { name: 'home/u/file', mode: 0o600, uid: 1000, gid: 1000, data: 'mine', mtime: new Date('2020-01-02T03:04:05Z') },
  { name: 'bin', type: 'symlink', linkname: 'usr/bin' },
  { name: 'usr/bin/su-hardlink', type: 'link', linkname: 'usr/bin/su' },
  { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 },
  { name: 'run/initctl', type: 'fifo', mode: 0o600 },
  { name: './tmp/', type: 'directory', mode: 0o1777 },
];

for (const compress of [undefined, 'gzip', 'zstd'] as const) {
  test(`extracts files, modes, owners, links, devices (${compress ?? 'plain'} tar)`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'root-'));
    try {
      const stats = await extractTarball(await tarOf(sample, compress), root);
      assert.is(stats.entries, sample.length);
      assert.is(readFileSync(join(root, 'etc/passwd'), 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
      assert.is(statSync(join(root, 'usr/bin/su')).mode & 0o7777, 0o4755, 'setuid kept after chown');
      const home = statSync(join(root, 'home/u/file'));
      assert.is(home.uid, 1000);
      assert.is(home.mode & 0o777, 0o600);
      assert.is(home.mtime.toISOString(), '2020-01-02T03:04:05.000Z');
      assert.is(readlinkSync(join(root, 'bin')), 'usr/bin');
      assert.is(statSync(join(root, 'usr/bin/su-hardlink')).ino, statSync(join(root, 'usr/bin/su')).ino);
      assert.ok(lstatSync(join(root, 'dev/null')).isCharacterDevice());
      assert.ok(lstatSync(join(root, 'run/initctl')).isFIFO());
      assert.is(statSync(join(root, 'tmp')).mode & 0o7777, 0o1777);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}

test('refuses an entry with ..', async () => {
  const root = mkdtempSync(join(tmpdir(), 'root-'));
  try {
    await extractTarball(await tarOf([{ name: '../escape', data: 'x' }]), root).then(
      () => assert.unreachable('should refuse'),
      (err: Error) => assert.match(err.message, /'\.\.'/),
    );
    assert.not.ok(existsSync(join(root, '..', 'escape')));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('refuses to write through a symlink planted earlier in the archive', async () => {
  const root = mkdtempSync(join(tmpdir(), 'root-'));
  const outside = mkdtempSync(join(tmpdir(), 'outside-'));
  try {
    const tar = await tarOf([
      { name: 'etc', type: 'symlink', linkname: outside },
      { name: 'etc/evil', data: 'pwned' },
    ]);
    await extractTarball(tar, root).then(
      () => assert.unreachable('should refuse'),
      (err: Error) => assert.match(err.message, /symlink/),
    );
    assert.not.ok(existsSync(join(outside, 'evil')), 'nothing written outside the root');
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});

test('a file that is not a tarball is an error', async () => {
  const root = mkdtempSync(join(tmpdir(), 'root-'));
  const dir = mkdtempSync(join(tmpdir(), 'nottar-'));
  const f = join(dir, 'x.tar');
  execFileSync('sh', ['-c', `head -c 4096 /dev/urandom > ${f}`]);
  try {
    await extractTarball(f, root).then(
      () => assert.unreachable('should fail'),
      (err: Error) => assert.ok(err.message.length > 0),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
