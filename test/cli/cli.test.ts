import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultTemplatesDir, projectRoot } from '../../lib/paths.js';
import { requireTools } from '../../lib/run.js';

function cli(bin: 'diskless' | 'build-image', args: string[], o: { unprivileged?: boolean } = {}) {
  const argv = [process.execPath, '--import', 'tsx/esm', join(projectRoot(), `cli/${bin}.ts`), ...args];
  // As root, drop to nobody for the non-root checks; as anyone else, we already are one.
  if (o.unprivileged && process.getuid?.() === 0) argv.unshift('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups');
  const res = spawnSync(argv[0]!, argv.slice(1), { cwd: projectRoot(), encoding: 'utf8' });
  return { code: res.status, out: `${res.stdout}${res.stderr}` };
}

test('diskless --help lists the verbs', () => {
  const r = cli('diskless', ['--help']);
  assert.is(r.code, 0);
  assert.match(r.out, /build-image <distro>/);
});

test('build-image --help teaches: options, examples, what happens on failure', () => {
  for (const r of [cli('diskless', ['build-image', '--help']), cli('build-image', ['--help'])]) {
    assert.is(r.code, 0);
    for (const s of ['--out', '--format', '--from-tar', '--no-cache', 'Examples:', 'build-image debian', 'current']) assert.match(r.out, s);
  }
});

test('a misspelt flag is named, with a pointer to --help', () => {
  const r = cli('diskless', ['build-image', 'debian', '--formt', 'erofs']);
  assert.is(r.code, 2);
  assert.match(r.out, /formt/);
  assert.match(r.out, /--help/);
});

test('a bad choice names the flag and the choices', () => {
  const r = cli('build-image', ['debian', '--format', 'ext4']);
  assert.is(r.code, 2);
  assert.match(r.out, /format/);
  assert.match(r.out, /squashfs/);
  assert.match(r.out, /erofs/);
});

test('an unknown distribution lists the templates', () => {
  const r = cli('build-image', ['slackware', '--out', mkdtempSync(join(tmpdir(), 'o-'))]);
  assert.is(r.code, 1);
  assert.match(r.out, /unknown distribution 'slackware'/);
  // Whatever templates the folder holds (DISKLESS_TEMPLATES may name another): all of them are listed.
  const names = readdirSync(defaultTemplatesDir(), { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(defaultTemplatesDir(), e.name, 'template.yaml')))
    .map((e) => e.name)
    .sort();
  assert.ok(r.out.includes(names.join(', ')), r.out);
});

test('--live needs --inventory; --inventory and --bundle need --live; a bad inventory is named before any work', () => {
  const out = mkdtempSync(join(tmpdir(), 'o-'));
  let r = cli('build-image', ['debian', '--live', '--out', out]);
  assert.is(r.code, 2);
  assert.match(r.out, '--live needs --inventory cluster.yaml');
  r = cli('build-image', ['debian', '--bundle', 'x', '--out', out]);
  assert.is(r.code, 2);
  assert.match(r.out, '--bundle only applies with --live');
  const inv = join(out, 'cluster.yaml');
  writeFileSync(inv, 'cluster: c\nnetwork:\n  subnet: 10.1.0.0/24\nservers: [10.2.0.1]\n');
  r = cli('build-image', ['debian', '--live', '-i', inv, '--out', out]);
  assert.is(r.code, 1);
  assert.match(r.out, `${inv}: servers: 10.2.0.1 is in no network of the inventory`);
  writeFileSync(inv, 'cluster: c\nnetwork:\n  subnet: 10.1.0.0/24\nservers: [10.1.0.1]\nnodez: []\n');
  r = cli('build-image', ['debian', '--live', '-i', inv, '--out', out]);
  assert.is(r.code, 1);
  assert.match(r.out, `${inv}:5: nodez`);
  assert.is(readdirSync(out).sort().join(','), 'cluster.yaml', 'nothing built');
});

test('not root: bad arguments get the argument error, not the root error; good ones get the root error', () => {
  const out = mkdtempSync(join(tmpdir(), 'o-'));
  chmodSync(out, 0o777);
  const asUser = (args: string[]) => cli('build-image', [...args, '--out', out], { unprivileged: true });
  const needsRoot = /needs root/;
  let r = asUser(['slackware']);
  assert.is(r.code, 1, r.out);
  assert.match(r.out, /unknown distribution 'slackware'/);
  assert.not.match(r.out, needsRoot);
  r = asUser(['debian', '--format', 'ext4']);
  assert.is(r.code, 2, r.out);
  assert.match(r.out, /format/);
  assert.not.match(r.out, needsRoot);
  r = asUser(['debian', '--keep', '-1']);
  assert.is(r.code, 1, r.out);
  assert.match(r.out, '--keep -1: give a whole number');
  assert.not.match(r.out, needsRoot);
  const inv = join(out, 'cluster.yaml');
  writeFileSync(inv, 'cluster: c\nnetwork:\n  subnet: 10.1.0.0/24\nservers: [10.2.0.1]\n');
  chmodSync(inv, 0o644);
  r = asUser(['debian', '--live', '-i', inv]);
  assert.is(r.code, 1, r.out);
  assert.match(r.out, `${inv}: servers: 10.2.0.1 is in no network of the inventory`);
  assert.not.match(r.out, needsRoot);
  r = asUser(['debian']);
  assert.is(r.code, 1, r.out);
  assert.match(r.out, 'build-image needs root');
  assert.is(readdirSync(out).join(','), 'cluster.yaml', 'nothing written');
});

test('a missing host tool names the Debian package to install', async () => {
  const bin = mkdtempSync(join(tmpdir(), 'path-'));
  symlinkSync('/bin/sh', join(bin, 'sh'));
  const old = process.env.PATH;
  process.env.PATH = bin;
  try {
    await requireTools(['mksquashfs']).then(
      () => assert.unreachable('should fail'),
      (err: Error) => assert.match(err.message, "'mksquashfs' was not found on this host; install it with: apt-get install squashfs-tools"),
    );
  } finally {
    process.env.PATH = old;
  }
});

test('serve --boot-templates must name a folder of boot templates; an old <templates>/boot/ is named as not read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bt-'));
  const r = cli('diskless', ['serve', '-i', join(dir, 'cluster.yaml'), '--images', dir, '--boot-templates', join(dir, 'none')]);
  assert.is(r.code, 1, r.out);
  assert.match(r.out, `--boot-templates ${join(dir, 'none')}: no linux.ipxe.mustache there`);
  mkdirSync(join(dir, 'templates', 'boot'), { recursive: true });
  const old = cli('diskless', ['serve', '-i', join(dir, 'cluster.yaml'), '--images', dir, '--templates', join(dir, 'templates')]);
  assert.is(old.code, 1, old.out);
  assert.match(old.out, `warning: ${join(dir, 'templates', 'boot')} is not read: shared boot templates come from --boot-templates`);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
