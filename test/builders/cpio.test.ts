import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, symlinkSync, chmodSync, readlinkSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { readCpio, writeCpio, S_IFMT, S_IFCHR, S_IFLNK, type CpioEntry } from '../../builders/cpio.js';
import { needTool } from '../helpers/need.js';

const fixture = join(import.meta.dirname, '../fixtures/cpio/gnu-reproducible.cpio');
const goldEntries: CpioEntry[] = [
  { type: 'file', path: '/init', mode: 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
  { type: 'symlink', path: 'bin/sh', target: 'busybox' },
  { type: 'file', path: 'bin/busybox', mode: 0o755, data: Buffer.from('abc') },
  { type: 'char', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
];

if (process.env.DISKLESS_REGEN_FIXTURES) {
  needTool('cpio', 'cpio');
  const dir = mkdtempSync(join(tmpdir(), 'cpio-gold-'));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'dev'));
  writeFileSync(join(dir, 'init'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  writeFileSync(join(dir, 'bin/busybox'), 'abc', { mode: 0o755 });
  symlinkSync('busybox', join(dir, 'bin/sh'));
  execFileSync('mknod', ['-m', '600', join(dir, 'dev/console'), 'c', '5', '1']);
  for (const d of ['.', 'bin', 'dev']) chmodSync(join(dir, d), 0o755);
  execFileSync('touch', ['-h', '-d', '@0', 'init', 'bin/sh', 'bin/busybox', 'dev/console', 'bin', 'dev'], { cwd: dir });
  const out = execFileSync('cpio', ['-o', '-H', 'newc', '--reproducible'], { cwd: dir, input: 'bin\nbin/busybox\nbin/sh\ndev\ndev/console\ninit\n', stdio: ['pipe', 'pipe', 'ignore'] });
  writeFileSync(fixture, out);
  rmSync(dir, { recursive: true });
}

test('golden bytes: identical to GNU cpio --reproducible for the same tree', () => {
  const gold = readFileSync(fixture);
  const ours = writeCpio(goldEntries);
  assert.is(ours.length % 4, 0);
  assert.ok(ours.length <= gold.length, `ours ${ours.length} bytes, gold ${gold.length}`);
  assert.is(ours.toString('hex'), gold.subarray(0, ours.length).toString('hex'));
  assert.ok(gold.subarray(ours.length).every((b) => b === 0), 'GNU adds only zero block padding');
});

test('kernel format rules: 4-byte aligned headers, 8-hex fields, NUL-terminated names, trailer', () => {
  const entries: CpioEntry[] = [];
  for (let n = 0; n < 9; n++) entries.push({ type: 'file', path: `f/${'x'.repeat(n + 1)}`, data: randomBytes(n) });
  const buf = writeCpio(entries);
  const members = readCpio(buf);
  assert.is(members.length, 10); // f/ plus 9 files
  for (const m of members) {
    if (m.name.startsWith('f/x')) assert.is(m.data.length, m.name.length - 3);
  }
  assert.ok(buf.toString('ascii').includes('TRAILER!!!'));
  assert.throws(() => readCpio(Buffer.concat([Buffer.from('070702'), buf.subarray(6)])), /bad magic/);
  assert.throws(() => readCpio(buf.subarray(0, 200)), /truncated/);
});

test('device nodes and symlinks carry their type and target', () => {
  const members = readCpio(writeCpio(goldEntries));
  const con = members.find((m) => m.name === 'dev/console')!;
  assert.is(con.header.mode & S_IFMT, S_IFCHR);
  assert.is(con.header.rdevmajor, 5);
  assert.is(con.header.rdevminor, 1);
  const sh = members.find((m) => m.name === 'bin/sh')!;
  assert.is(sh.header.mode & S_IFMT, S_IFLNK);
  assert.is(sh.data.toString(), 'busybox');
});

test('same entries in any order give the same bytes (sorted, fixed mtime, numbered inodes)', () => {
  const a = writeCpio(goldEntries);
  const b = writeCpio([...goldEntries].reverse());
  assert.ok(a.equals(b));
  const names = readCpio(a).map((m) => m.name);
  assert.equal(names, ['bin', 'bin/busybox', 'bin/sh', 'dev', 'dev/console', 'init']);
  assert.ok(readCpio(a).every((m) => m.header.mtime === 0 && m.header.uid === 0));
});

test('bad entries are refused', () => {
  assert.throws(() => writeCpio([{ type: 'dir', path: 'a' }, { type: 'dir', path: '/a/' }]), /duplicate/);
  assert.throws(() => writeCpio([{ type: 'dir', path: 'a/../../etc' }]), /'\.\.'/);
  assert.throws(() => writeCpio([{ type: 'file', path: 'a', data: Buffer.from('') }, { type: 'file', path: 'a/b', data: Buffer.from('') }]), /needed as a directory/);
});

test('GNU cpio lists and extracts what we write, byte for byte', () => {
  needTool('cpio', 'cpio');
  const big = randomBytes(1_000_003);
  const entries: CpioEntry[] = [
    ...goldEntries,
    { type: 'file', path: 'lib/modules/6.1.0/kernel/big.ko', data: big },
    { type: 'file', path: 'etc/ünïcode-name', data: Buffer.from('u') },
    { type: 'file', path: 'etc/empty', data: Buffer.alloc(0) },
  ];
  const buf = writeCpio(entries);
  const listing = execFileSync('cpio', ['-t', '--quiet'], { input: buf }).toString().trim().split('\n');
  assert.equal(listing, readCpio(buf).map((m) => m.name));
  const dir = mkdtempSync(join(tmpdir(), 'cpio-x-'));
  try {
    execFileSync('cpio', ['-i', '-d', '--quiet', '--no-absolute-filenames'], { cwd: dir, input: buf });
    assert.ok(readFileSync(join(dir, 'lib/modules/6.1.0/kernel/big.ko')).equals(big));
    assert.is(readFileSync(join(dir, 'init'), 'utf8'), '#!/bin/sh\necho hi\n');
    assert.is(readlinkSync(join(dir, 'bin/sh')), 'busybox');
    assert.ok(lstatSync(join(dir, 'dev/console')).isCharacterDevice());
    assert.is(lstatSync(join(dir, 'init')).mode & 0o777, 0o755);
    assert.is(readFileSync(join(dir, 'etc/ünïcode-name'), 'utf8'), 'u');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
