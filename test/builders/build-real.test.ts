// The real thing: `build-image debian` with real mmdebstrap from Debian's archive,
// real mksquashfs/mkfs.erofs, then every artifact checked with independent tools.
// `build-image ubuntu` runs too when Ubuntu's archive answers: its root, after the firmware
// closure and trim, is under 250 MB, and a node with 1 GiB of RAM boots it to node-up.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBzImage } from '../../rootfs/kernel.js';
import { projectRoot } from '../../lib/paths.js';
import { buildImage as buildImageInto, builtDebian, DEBIAN } from '../helpers/built-image.js';
import { need } from '../helpers/need.js';
import { readCpio } from '../../builders/cpio.js';
import { modinfoFirmware } from '../../builders/elf.js';
import { bootNetwork } from '../../host/bridge.js';
import { createNetns, netnsAvailable } from '../../host/netns.js';
import { watchOutput } from '../../host/output.js';
import { qemuMissing, startNode } from '../../host/qemu.js';
import { radvdMissing, startRadvd } from '../../host/radvd.js';
import type { Manifest as StoreManifest } from '../../store/manifest.js';

const work = mkdtempSync(join(tmpdir(), 'diskless-real-'));
const out = join(work, 'images');
const buildImage = (args: string[]) => buildImageInto(args, out);

function hostProblem(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (mmdebstrap --mode=root, mknod, chown)';
  for (const [tool, pkg] of [['mmdebstrap', 'mmdebstrap'], ['mksquashfs', 'squashfs-tools'], ['mkfs.erofs', 'erofs-utils'], ['cpio', 'cpio'], ['zstd', 'zstd'], ['file', 'file']]) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (apt-get install ${pkg})`;
  }
  return undefined;
}

interface Manifest {
  kernelVersion: string;
  initrdModules: string[];
  initrdBuiltin: string[];
  rootFormat: string;
  firmware: NonNullable<StoreManifest['firmware']>;
  trimmed: NonNullable<StoreManifest['trimmed']>;
  bootstrap: { cached?: boolean };
  artifacts: Record<string, { file: string; size: number; sha256: string }>;
}

/** Check one version folder with tools that are not ours. */
function checkArtifacts(dir: string, format: 'squashfs' | 'erofs'): Manifest {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  // Every manifest hash matches sha256sum.
  for (const a of Object.values(m.artifacts)) {
    const sum = execFileSync('sha256sum', [join(dir, a.file)]).toString().split(' ')[0];
    assert.is(sum, a.sha256, `${a.file} sha256`);
    assert.is(Number(execFileSync('stat', ['-c', '%s', join(dir, a.file)]).toString()), a.size, `${a.file} size`);
    assert.is(execFileSync('stat', ['-c', '%a', join(dir, a.file)]).toString().trim(), '644', `${a.file} mode`);
  }
  // The kernel is a bzImage.
  assert.match(execFileSync('file', ['-b', join(dir, 'vmlinuz')]).toString(), /Linux kernel x86 boot executable bzImage/);
  assert.ok(isBzImage(readFileSync(join(dir, 'vmlinuz'))));
  // The initrd lists /init, busybox and the module files.
  const cpio = execFileSync('zstd', ['-dc', join(dir, 'initrd.img')], { maxBuffer: 512 * 1024 * 1024 });
  const names = execFileSync('cpio', ['-t', '--quiet'], { input: cpio, maxBuffer: 64 * 1024 * 1024 }).toString().split('\n');
  for (const n of ['init', 'bin/busybox', 'etc/root.sh', `lib/modules/${m.kernelVersion}/modules.dep`]) assert.ok(names.includes(n), `${n} in initrd`);
  // The root image's sha256, built into the initrd (read back with cpio), is the manifest's.
  const sums = execFileSync('cpio', ['-i', '--quiet', '--to-stdout', 'etc/diskless.sha256'], { input: cpio }).toString();
  assert.is(sums, `${m.artifacts.root!.sha256}  ${m.artifacts.root!.file}\n`, 'the root hash built into the initrd');
  // Each module the template requires is shipped, or built into this kernel (Ubuntu builds in squashfs).
  for (const mod of ['squashfs', 'overlay', 'loop', 'virtio_net', 'e1000', 'af_packet', format]) {
    const shipped = names.some((n) => n.endsWith(`/${mod}.ko`));
    assert.ok(shipped || m.initrdBuiltin.includes(mod), `${mod}: in the initrd or built in`);
    assert.is(shipped, m.initrdModules.includes(mod), `${mod}: manifest agrees with the initrd`);
  }
  for (const mod of m.initrdModules) assert.ok(names.some((n) => n.replace(/-/g, '_').endsWith(`/${mod}.ko`)), `${mod}.ko in initrd`);
  assert.not.ok(names.some((n) => /\.ko\.(zst|xz|gz)$/.test(n)), 'modules shipped uncompressed for busybox insmod');
  // The root image reads back.
  if (format === 'squashfs') {
    assert.match(execFileSync('unsquashfs', ['-s', join(dir, 'root.squashfs')]).toString(), /Found a valid SQUASHFS 4:0 superblock/);
    const list = execFileSync('unsquashfs', ['-l', '-d', '', join(dir, 'root.squashfs')], { maxBuffer: 256 * 1024 * 1024 }).toString();
    for (const p of ['/etc/diskless/writable', '/etc/machine-id', '/usr/lib/systemd/systemd', `/usr/lib/modules/${m.kernelVersion}/modules.dep`]) {
      assert.ok(list.includes(`${p}\n`), `${p} in root image`);
    }
  } else {
    execFileSync('fsck.erofs', [join(dir, 'root.erofs')]);
  }
  return m;
}

const NODE_UP = /diskless: node-up name=(\S+) addr=(\S+) image=(\S+) version=(\S+) root=(\S+) lower=(\S+) upper=(\S+)/;

/**
 * One node with 1 GiB of RAM PXE-boots `image` from `diskless serve` in a namespace of its own, to node-up.
 * no_timer_check: under TCG on a loaded host Ubuntu's kernel can find the IO-APIC timer too slow and panic.
 */
async function bootWith1GiB(images: string, image: string): Promise<void> {
  need(netnsAvailable() ?? qemuMissing() ?? radvdMissing());
  const ns = createNetns('ubuntu');
  try {
    const [tap] = bootNetwork(ns, '10.76.0.1/24', 1);
    startRadvd(ns, 'br0', join(work, 'radvd.conf'));
    writeFileSync(join(work, 'cluster.yaml'), `cluster: ubuntu\nnetwork:\n  subnet: 10.76.0.0/24\nservers: [10.76.0.1]\ndefaults: { image: ${image}, kernelArgs: no_timer_check }\nnodes:\n  - { name: u1, mac: "52:54:00:76:00:01", ip: 10.76.0.11 }\n`);
    const serve = watchOutput(ns.spawn(
      ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', join(work, 'cluster.yaml'), '--images', images, '--lease-file', join(work, 'leases.json')],
      { cwd: projectRoot() },
    ));
    await serve.waitFor(/serving cluster ubuntu/, 30_000, 'diskless serve');
    const started = Date.now();
    const node = watchOutput(startNode(ns, { tap: tap!, mac: '52:54:00:76:00:01', nic: 'virtio', memMb: 1024 }));
    const up = await node.waitFor(NODE_UP, 600_000, `${image} to come up with 1 GiB`);
    assert.equal([up[1], up[2], up[3], up[6], up[7]], ['u1', '10.76.0.11/24', image, 'squashfs,ro', 'tmpfs']);
    console.log(`ubuntu: node-up with 1 GiB of RAM in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await ns.destroy();
  }
}

const reason = hostProblem();
if (reason) {
  test('real build-image', () => need(reason));
} else {
  test('build-image debian: real bootstrap, every artifact checked', () => {
    // The run's one plain debian build (test/helpers/built-image.ts), with a fresh cache.
    const text = builtDebian(out).log;
    const done = ['bootstrap', 'customize', 'kernel', 'trim', 'firmware', 'root-image', 'initrd', 'manifest', 'publish'].map((step) => {
      const at = text.search(new RegExp(`\\] ${step}: done in [\\d.]+s`));
      assert.ok(at >= 0, `${step} progress line`);
      return at;
    });
    assert.equal(done, [...done].sort((a, b) => a - b), 'the steps in order: the initrd after the root image');
    // Progress read from mmdebstrap's apt and dpkg lines: the count at the end, and in the heartbeats (off a TTY).
    const counted = /bootstrap: (\d+) packages installed \((\d+) announced\), [\d.]+ MB downloaded/.exec(text);
    assert.ok(counted, 'the bootstrap says its package count');
    assert.ok(Number(counted[1]) > 50 && counted[1] === counted[2], counted[0]);
    assert.match(text, new RegExp(`\\] bootstrap: still running \\([\\d.]+s\\): \\d+/${counted[2]} packages, [\\d.]+ MB downloaded`), 'a heartbeat with packages done of the total');
    const imageDir = join(out, DEBIAN);
    const dir = join(imageDir, readlinkSync(join(imageDir, 'current')));
    const m = checkArtifacts(dir, 'squashfs');
    assert.is(m.bootstrap.cached, false);
    // The firmware closure ran, and kept every file a module names: e1000 and virtio name none.
    const modules = readCpio(execFileSync('zstd', ['-dc', join(dir, 'initrd.img')], { maxBuffer: 512 * 1024 * 1024 })).filter((e) => e.name.endsWith('.ko'));
    const named = Object.fromEntries(modules.map((e) => [e.name.split('/').pop()!.slice(0, -3), modinfoFirmware(e.data)]));
    for (const mod of ['e1000', 'virtio_net', 'virtio_pci']) assert.equal(named[mod], [], `${mod} names no firmware`);
    assert.is(m.firmware.mode, 'closure');
    assert.is(m.firmware.before.files, m.firmware.kept.files + m.firmware.dropped.files);
    assert.ok(m.trimmed.bootKernel!.bytes > 1e6, `/boot's kernel copy left out: ${JSON.stringify(m.trimmed)}`);
    assert.ok(m.trimmed.docs!.files > 0 && m.trimmed.man!.files > 0, 'docs and man pages left out');
    console.log(`debian: firmware ${JSON.stringify(m.firmware)}; trimmed ${JSON.stringify(m.trimmed)}; root ${(m.artifacts.root!.size / 1e6).toFixed(1)} MB`);
  });

  test('build-image debian --format erofs: cached bootstrap, EROFS root', () => {
    const text = buildImage(['debian', '--format', 'erofs', '--name', 'debian-erofs']);
    assert.match(text, /reusing the cached bootstrap/);
    const imageDir = join(out, 'debian-erofs');
    const m = checkArtifacts(join(imageDir, readlinkSync(join(imageDir, 'current'))), 'erofs');
    assert.is(m.bootstrap.cached, true);
    assert.is(m.rootFormat, 'erofs');
  });

  test('a rebuild whose template differs only in comments (from --templates DIR) reuses the bootstrap and the root image', () => {
    const imageDir = join(out, 'debian-bookworm-amd64');
    const before = readlinkSync(join(imageDir, 'current'));
    const templates = join(work, 'templates');
    cpSync(join(projectRoot(), 'templates'), templates, { recursive: true });
    const yaml = join(templates, 'debian', 'template.yaml');
    writeFileSync(yaml, `# a comment added by the test\n${readFileSync(yaml, 'utf8').replace(/\n/, '   # and one at the end of a line\n')}`);
    const text = buildImage(['debian', '--templates', templates]);
    assert.ok(text.includes(`from ${join(templates, 'debian')} (`), 'the build line names the templates folder used');
    assert.match(text, /reusing the cached bootstrap/);
    assert.match(text, /inputs unchanged: reusing/);
    const after = readlinkSync(join(imageDir, 'current'));
    assert.is.not(after, before);
    const a = JSON.parse(readFileSync(join(imageDir, before, 'manifest.json'), 'utf8')) as Manifest;
    const b = checkArtifacts(join(imageDir, after), 'squashfs');
    assert.is(b.artifacts.initrd!.sha256, a.artifacts.initrd!.sha256, 'byte-identical initrd');
    assert.is(b.artifacts.root!.sha256, a.artifacts.root!.sha256);
  });

  test('build-image ubuntu (when the Ubuntu archive answers)', async () => {
    const url = 'http://archive.ubuntu.com/ubuntu/dists/noble/Release';
    const answered = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(8000) }).then((r) => r.ok, () => false);
    if (!answered) {
      console.log(`SKIP: build-image ubuntu: ${url} did not answer from this machine`);
      return;
    }
    const text = buildImage(['ubuntu']);
    const imageDir = join(out, 'ubuntu-noble-amd64');
    const m = checkArtifacts(join(imageDir, readlinkSync(join(imageDir, 'current'))), 'squashfs');
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    console.log(`ubuntu: ${/\/lib\/firmware: .*/.exec(text)?.[0]}`);
    console.log(`ubuntu: ${/left out .*/.exec(text)?.[0]}`);
    const leftOut = m.firmware.dropped.bytes + Object.values(m.trimmed).reduce((n, t) => n + t.bytes, 0);
    console.log(`ubuntu: root image ${mb(m.artifacts.root!.size)} after the closure and trim, which left out ${mb(leftOut)} of files`);
    assert.is(m.firmware.mode, 'closure');
    assert.ok(m.firmware.named > 0 && m.firmware.kept.files > 0, 'the modules name firmware, and the closure keeps it');
    assert.ok(m.firmware.dropped.bytes > 400e6, `the firmware no module names is dropped: ${JSON.stringify(m.firmware)}`);
    assert.ok(m.artifacts.firmwareDropped, 'the dropped files are listed');
    assert.ok(m.artifacts.root!.size < 250e6, `root image ${mb(m.artifacts.root!.size)} is under 250 MB`);
    await bootWith1GiB(out, 'ubuntu-noble-amd64');
  });
}

test.after(() => {
  if (existsSync(work)) rmSync(work, { recursive: true, force: true });
});

test.run();
