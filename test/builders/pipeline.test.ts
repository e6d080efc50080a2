// The whole pipeline on a tiny --from-tar root: every step, the artifacts, the
// manifest, determinism, and the atomic publish under failure, SIGTERM and SIGKILL.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { buildImage } from '../../builders/pipeline.js';
import { readCpio } from '../../builders/cpio.js';
import { memoryLogger } from '../../lib/log.js';
import { generateKeys, loadTrustKey, verifyBytes } from '../../lib/sign.js';
import { defaultOverlaysDir, projectRoot } from '../../lib/paths.js';
import { FAKE_KVER, fakeBin, makeFakeRootTar, makeFakeTemplates } from '../helpers/fakeroot.js';

const work = mkdtempSync(join(tmpdir(), 'diskless-pipe-'));
const tarball = join(work, 'root.tar');
const templatesDir = makeFakeTemplates();
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

function opts(out: string, extra: object = {}) {
  return { distro: 'fake', templatesDir, overlaysDir: defaultOverlaysDir(), outDir: out, cacheDir: join(work, 'cache'), fromTar: tarball, ...extra };
}

test.before(async () => {
  await makeFakeRootTar(tarball);
});
test.after(() => rmSync(work, { recursive: true, force: true }));

test('every step runs in order and publishes a complete version', async () => {
  const out = join(work, 'out1');
  const log = memoryLogger();
  const res = await buildImage(opts(out), { log, now: new Date('2026-01-02T03:04:05Z') });
  // The initrd comes after the root image: the root's sha256 is built into it.
  assert.equal(res.timings.map((t) => t.name), ['bootstrap', 'customize', 'kernel', 'trim', 'firmware', 'root-image', 'initrd', 'manifest', 'publish']);
  assert.is(res.name, 'fake-test-amd64');
  assert.is(res.version, '20260102-030405');
  const imageDir = join(out, 'fake-test-amd64');
  assert.is(readlinkSync(join(imageDir, 'current')), '20260102-030405');
  assert.equal(readdirSync(res.dir).sort(), ['initrd.img', 'manifest.json', 'root.squashfs', 'vmlinuz']);
  assert.equal(readdirSync(imageDir).filter((n) => n.startsWith('.')), [], 'no staging or lock left');

  const m = JSON.parse(readFileSync(join(res.dir, 'manifest.json'), 'utf8'));
  assert.is(m.kernelVersion, FAKE_KVER);
  assert.is(m.cmdline, 'console=ttyS0');
  assert.is(m.suite, 'test');
  assert.is(m.bootstrap.method, 'tarball');
  for (const a of Object.values(m.artifacts) as { file: string; size: number; sha256: string }[]) {
    assert.is(sha(join(res.dir, a.file)), a.sha256, `${a.file} hash`);
  }
  // Each step's progress line with its time.
  assert.ok(log.lines.some((l) => /^\[6\/9\] root-image: done in [\d.]+s$/.test(l)), log.lines.join('\n'));

  // The root: overlays rendered, machine-id empty, pruned files gone.
  const list = execFileSync('unsquashfs', ['-l', '-d', '', join(res.dir, 'root.squashfs')]).toString();
  assert.match(list, '/etc/motd');
  assert.not.match(list, 'initrd.img-');
  const x = join(work, 'x1');
  execFileSync('unsquashfs', ['-q', '-d', x, join(res.dir, 'root.squashfs'), 'etc']);
  assert.is(readFileSync(join(x, 'etc/machine-id'), 'utf8'), '');
  assert.is(readFileSync(join(x, 'etc/motd'), 'utf8'), 'Welcome to fake-test-amd64\n');
  assert.match(readFileSync(join(x, 'etc/diskless/writable'), 'utf8'), /^\/tmp tmpfs$/m);
  assert.match(readFileSync(join(x, 'etc/fstab'), 'utf8'), /^tmpfs \/tmp tmpfs/m);
  assert.is(readlinkSync(join(x, 'etc/systemd/system/multi-user.target.wants/diskless-report.service')), '../diskless-report.service', 'overlay symlinks kept');

  // The initrd: /init and the disks.sh it sources, busybox, the module closure, and the trimmed modules.dep.
  const members = readCpio(gunzipSync(readFileSync(join(res.dir, 'initrd.img'))));
  const names = members.map((e) => e.name);
  // The root's sha256, read out of the initrd, is the root image's and the manifest's.
  const sums = members.find((e) => e.name === 'etc/diskless.sha256');
  assert.is(sums?.data.toString(), `${sha(join(res.dir, 'root.squashfs'))}  root.squashfs\n`);
  assert.is(m.artifacts.root.sha256, sha(join(res.dir, 'root.squashfs')));
  for (const n of ['init', 'etc/disks.sh', 'etc/root.sh', 'bin/busybox', 'dev/console', `lib/modules/${FAKE_KVER}/kernel/fs/squashfs/squashfs.ko`,
    `lib/modules/${FAKE_KVER}/kernel/net/core/failover.ko`, `lib/modules/${FAKE_KVER}/kernel/drivers/net/ethernet/intel/e1000/e1000.ko`,
    `lib/modules/${FAKE_KVER}/modules.dep`]) assert.ok(names.includes(n), `${n} in initrd`);
  assert.not.ok(names.some((n) => n.endsWith('erofs.ko')), 'erofs not asked for with a squashfs root');
});

test('same inputs give a byte-identical initrd; the unchanged root image is reused', async () => {
  const out = join(work, 'out2');
  const a = await buildImage(opts(out), { log: memoryLogger(), now: new Date('2026-01-01T00:00:00Z') });
  const log = memoryLogger();
  const b = await buildImage(opts(out), { log, now: new Date('2026-01-01T00:00:01Z') });
  assert.is(sha(join(a.dir, 'initrd.img')), sha(join(b.dir, 'initrd.img')));
  assert.ok(log.lines.some((l) => l.includes('inputs unchanged: reusing')), log.lines.join('\n'));
  assert.is(sha(join(a.dir, 'root.squashfs')), sha(join(b.dir, 'root.squashfs')));
  assert.is(readlinkSync(join(out, 'fake-test-amd64', 'current')), b.version);
});

test('--format erofs makes an EROFS root and ships the erofs module', async () => {
  const out = join(work, 'out3');
  const res = await buildImage(opts(out, { format: 'erofs' }), { log: memoryLogger() });
  assert.ok(existsSync(join(res.dir, 'root.erofs')));
  execFileSync('fsck.erofs', [join(res.dir, 'root.erofs')]);
  const members = readCpio(gunzipSync(readFileSync(join(res.dir, 'initrd.img'))));
  const names = members.map((e) => e.name);
  assert.is(members.find((e) => e.name === 'etc/diskless.sha256')?.data.toString(), `${sha(join(res.dir, 'root.erofs'))}  root.erofs\n`, 'the erofs root\'s hash built in');
  assert.ok(names.some((n) => n.endsWith('erofs.ko')) && names.some((n) => n.endsWith('libcrc32c.ko')));
});

test('a step that fails leaves current untouched and no staging behind', async () => {
  const out = join(work, 'out4');
  const good = await buildImage(opts(out), { log: memoryLogger(), now: new Date('2026-01-01T00:00:00Z') });
  const bin = fakeBin({ mksquashfs: 'echo "Write failed because No space left on device" >&2; exit 1' });
  const oldPath = process.env.PATH;
  process.env.PATH = `${bin}:${oldPath}`;
  try {
    await buildImage(opts(out, { noCache: true }), { log: memoryLogger(), now: new Date('2026-01-01T00:00:09Z') }).then(
      () => assert.unreachable('should fail'),
      (err: Error) => {
        assert.match(err.message, /mksquashfs/);
        assert.match(err.message, /No space left on device/);
      },
    );
  } finally {
    process.env.PATH = oldPath;
  }
  const imageDir = join(out, 'fake-test-amd64');
  assert.is(readlinkSync(join(imageDir, 'current')), good.version);
  assert.equal(readdirSync(imageDir).sort(), [good.version, 'current']);
});

/** Run the real CLI in a child process with fake tools first on PATH. */
function cli(out: string, bin: string) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'build-image', 'fake', '--templates', templatesDir, '--from-tar', tarball, '--out', out, '--no-cache'],
    { cwd: projectRoot(), env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  child.stdout.on('data', (d) => (text += d));
  child.stderr.on('data', (d) => (text += d));
  const exit = new Promise<{ code: number | null; signal: string | null; text: string }>((r) => child.on('exit', (code, signal) => r({ code, signal, text })));
  return { child, exit };
}

async function waitFor(file: string, ms = 60_000) {
  const end = Date.now() + ms;
  while (!existsSync(file)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${file}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A mksquashfs that writes half an image, says where it is, and hangs. */
function hangingMksquashfs(marker: string) {
  return fakeBin({ mksquashfs: `printf half > "$2"; echo $$ > "${marker}"; exec sleep 120` });
}

for (const signal of ['SIGKILL', 'SIGTERM', 'SIGINT'] as const) {
  test(`${signal} during the root-image step: current untouched, nothing that looks complete`, async () => {
    const out = join(work, `out-${signal}`);
    const good = await buildImage(opts(out), { log: memoryLogger(), now: new Date('2026-01-01T00:00:00Z') });
    const imageDir = join(out, 'fake-test-amd64');
    const marker = join(work, `${signal}.pid`);
    const { child, exit } = cli(out, hangingMksquashfs(marker));
    await waitFor(marker);
    const toolPid = Number(readFileSync(marker, 'utf8'));
    child.kill(signal);
    const res = await exit;
    try {
      process.kill(toolPid, 'SIGKILL'); // the fake tool we started, if the build did not end it
    } catch {
      // already gone
    }
    assert.is(readlinkSync(join(imageDir, 'current')), good.version, 'current still points at the good version');
    const visible = readdirSync(imageDir).filter((n) => !n.startsWith('.'));
    assert.equal(visible.sort(), [good.version, 'current'], 'no new version folder');
    if (signal === 'SIGKILL') {
      assert.ok(readdirSync(imageDir).some((n) => n.startsWith('.build-')), 'a killed build leaves only hidden staging');
    } else {
      assert.is(res.code, 130, res.text);
      assert.match(res.text, /previous current version is untouched/);
      assert.equal(readdirSync(imageDir).filter((n) => n.startsWith('.')), [], 'staging and lock removed');
    }
    // The next build sweeps what a killed one left and publishes.
    const log = memoryLogger();
    const next = await buildImage(opts(out), { log, now: new Date('2026-01-01T00:10:00Z') });
    assert.is(readlinkSync(join(imageDir, 'current')), next.version);
    assert.equal(readdirSync(imageDir).filter((n) => n.startsWith('.')), []);
    if (signal === 'SIGKILL') assert.ok(log.lines.some((l) => l.includes('removed staging left by an interrupted build')));
  });
}

test('a build whose output pipes close (2>&1 | head) still finishes, publishes and cleans up', async () => {
  const out = join(work, 'out-pipe');
  const { child, exit } = cli(out, fakeBin({}));
  child.stdout.destroy();
  child.stderr.destroy();
  const res = await exit;
  assert.is(res.code, 0, `exit ${res.code} ${res.signal}`);
  const imageDir = join(out, 'fake-test-amd64');
  assert.ok(existsSync(join(imageDir, 'current', 'manifest.json')), 'published');
  assert.equal(readdirSync(imageDir).filter((n) => n.startsWith('.')), [], 'no staging or lock left');
});

test('a failed first build leaves no image folder behind', async () => {
  const out = join(work, 'out-fail-first');
  const { exit } = cli(out, fakeBin({ mksquashfs: 'echo "mksquashfs: no space left" >&2; exit 1' }));
  const res = await exit;
  assert.is(res.code, 1, res.text);
  assert.match(res.text, /no space left/);
  assert.equal(readdirSync(out), [], 'the output folder is as it was');
});

test('a second build while one runs is refused, naming the running pid', async () => {
  const out = join(work, 'out-lock');
  const marker = join(work, 'lock.pid');
  const { child, exit } = cli(out, hangingMksquashfs(marker));
  await waitFor(marker);
  try {
    await buildImage(opts(out), { log: memoryLogger() }).then(
      () => assert.unreachable('should be refused'),
      (err: Error) => assert.match(err.message, new RegExp(`another build .* is running \\(pid ${child.pid}\\)`)),
    );
  } finally {
    child.kill('SIGTERM');
    await exit;
    try {
      process.kill(Number(readFileSync(marker, 'utf8')), 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

test('--keep removes the oldest versions after a publish, never current', async () => {
  const out = join(work, 'out-keep');
  const built: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await buildImage(opts(out, { keep: 2 }), { log: memoryLogger(), now: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) });
    built.push(r.version);
  }
  const imageDir = join(out, 'fake-test-amd64');
  assert.equal(readdirSync(imageDir).filter((n) => !n.startsWith('.')).sort(), [...built.slice(2), 'current'].sort());
  assert.is(readlinkSync(join(imageDir, 'current')), built[3]);
});

test('--sign-key: manifest.json.sig is published with the version and verifies; the manifest carries --keep; a bad key fails first', async () => {
  const out = join(work, 'out-signed');
  const keys = join(work, 'keys');
  mkdirSync(keys);
  const k = generateKeys();
  writeFileSync(join(keys, 'diskless.key'), k.privatePem, { mode: 0o600 });
  writeFileSync(join(keys, 'diskless.pub'), k.publicPem);
  const r = await buildImage(opts(out, { keep: 2, signKey: join(keys, 'diskless.key') }), { log: memoryLogger() });
  const manifest = readFileSync(join(r.dir, 'manifest.json'));
  verifyBytes(manifest, readFileSync(join(r.dir, 'manifest.json.sig')), await loadTrustKey(join(keys, 'diskless.pub')));
  assert.is(JSON.parse(manifest.toString()).keep, 2);
  await buildImage(opts(join(work, 'out-badkey'), { signKey: join(keys, 'diskless.pub') }), { log: memoryLogger() }).then(
    () => assert.unreachable('should fail'),
    (err: Error) => assert.match(err.message, /diskless\.pub is not an Ed25519 private key/),
  );
  assert.not.ok(existsSync(join(work, 'out-badkey', 'fake-test-amd64')), 'nothing built');
});

test('a template with a wrong module name fails in the initrd step, naming the module', async () => {
  const dir = makeFakeTemplates({ initrd: { compression: 'gzip', modules: { required: ['squashfs', 'not_a_module'] } } });
  await buildImage({ ...opts(join(work, 'out-mod')), templatesDir: dir }, { log: memoryLogger() }).then(
    () => assert.unreachable('should fail'),
    (err: Error) => assert.match(err.message, /'not_a_module'/),
  );
  rmSync(dir, { recursive: true, force: true });
  writeFileSync(join(work, 'done'), '');
});

test.run();
