// The firmware closure: .modinfo read from ELF modules (ours, and one gcc made), the
// closure over a firmware tree with links, globs and compressed files, and the step on
// a fixture root whose modules (plain, .gz, .xz, .zst) name firmware files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { elfSections, modinfoFirmware, NotElfError } from '../../builders/elf.js';
import { firmwareClosure, globRegExp, resolveFirmware, type FirmwareEntry } from '../../builders/firmware.js';
import { readFirmwareTree } from '../../builders/firmware-scan.js';
import { firmware, FIRMWARE_DROPPED } from '../../builders/steps/firmware.js';
import { memoryLogger } from '../../lib/log.js';
import type { BuildContext } from '../../builders/context.js';
import type { Template } from '../../builders/template.js';
import { fakeKo } from '../helpers/fake-ko.js';

const work = mkdtempSync(join(tmpdir(), 'diskless-fw-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

test('.modinfo firmware= lines from 64- and 32-bit, little- and big-endian modules', () => {
  const entries = ['license=GPL', 'firmware=e100/d101m_ucode.bin', 'description=x=y', 'firmware=rtl_nic/rtl8168*.fw'];
  for (const o of [{}, { class32: true }, { bigEndian: true }, { class32: true, bigEndian: true }]) {
    assert.equal(modinfoFirmware(fakeKo(entries, o)), ['e100/d101m_ucode.bin', 'rtl_nic/rtl8168*.fw'], JSON.stringify(o));
  }
  assert.equal(modinfoFirmware(fakeKo(['license=GPL'])), []);
  assert.throws(() => elfSections(Buffer.from('fake module\n'.repeat(10))), (e: Error) => e instanceof NotElfError);
  assert.throws(() => elfSections(fakeKo(['firmware=a']).subarray(0, 80)), /truncated ELF/);
});

test('a module gcc compiled: our .modinfo reading agrees with readelf', () => {
  const c = join(work, 'mod.c');
  writeFileSync(c, 'static const char a[] __attribute__((section(".modinfo"), used)) = "firmware=intel/ice/ddp/ice.pkg";\n' +
    'static const char b[] __attribute__((section(".modinfo"), used)) = "firmware=tigon/tg3.bin";\nint f(void) { return 1; }\n');
  execFileSync('gcc', ['-c', '-o', join(work, 'mod.ko'), c]);
  const ko = readFileSync(join(work, 'mod.ko'));
  const theirs = execFileSync('readelf', ['-p', '.modinfo', join(work, 'mod.ko')]).toString().match(/firmware=\S+/g)!.map((s) => s.slice(9));
  assert.equal(modinfoFirmware(ko).sort(), theirs.sort());
  assert.equal(theirs.sort(), ['intel/ice/ddp/ice.pkg', 'tigon/tg3.bin']);
});

test('globs: * and ? within a name, ** across folders, [..] classes', () => {
  const table: [string, string, boolean][] = [
    ['rtl_nic/rtl8168*.fw', 'rtl_nic/rtl8168g-2.fw', true],
    ['rtl_nic/rtl8168*.fw', 'rtl_nic/sub/rtl8168g.fw', false],
    ['intel/**', 'intel/ice/ddp/ice.pkg', true],
    ['intel/**/ice.pkg', 'intel/ice.pkg', true],
    ['qed/qed_init_values_zipped-8.?.0.0.bin', 'qed/qed_init_values_zipped-8.4.0.0.bin', true],
    ['amdgpu/navi1[02]_*.bin', 'amdgpu/navi12_me.bin', true],
    ['amdgpu/navi1[02]_*.bin', 'amdgpu/navi14_me.bin', false],
    ['a.b', 'axb', false],
  ];
  for (const [glob, path, hit] of table) assert.is(globRegExp(glob).test(path), hit, `${glob} ~ ${path}`);
});

const f = (size: number): FirmwareEntry => ({ kind: 'file', size });
const l = (target: string): FirmwareEntry => ({ kind: 'link', target });
const TREE = new Map<string, FirmwareEntry>([
  ['e100/d101m_ucode.bin', f(100)],
  ['tigon/tg3.bin', l('tg3_tso.bin')], // dangling inside its folder: the real one is one up
  ['tg3_tso.bin', f(10)],
  ['tigon/tg3_tso5.bin', l('../tg3_tso.bin')],
  ['rtl_nic/rtl8168g-2.fw.zst', f(20)],
  ['rtl_nic/rtl8168h-1.fw.zst', f(30)],
  ['rtl_nic/rtl8125a-3.fw.zst', f(40)],
  ['intel/ice/ddp/ice-1.3.36.0.pkg.xz', f(500)],
  ['intel/ice/ddp/ice.pkg.xz', l('ice-1.3.36.0.pkg.xz')],
  ['qcom', l('qcom-real')], // a folder link
  ['qcom-real/a630_gmu.bin', f(60)],
  ['qcom-real/other.bin', f(70)],
  ['abs.bin', l('/lib/firmware/e100/d101m_ucode.bin')],
  ['escape.bin', l('../../../etc/passwd')],
  ['outside.bin', l('/etc/shadow')],
  ['nvidia/gsp.bin', f(9000)],
  ['amdgpu/a.bin', f(800)],
  ['amdgpu/b.bin', f(900)],
]);

test('links are followed (file links, folder links, /lib/firmware/ targets) and never out of the folder', () => {
  assert.equal(resolveFirmware(TREE, 'tigon/tg3_tso5.bin'), ['tigon/tg3_tso5.bin', 'tg3_tso.bin']);
  assert.equal(resolveFirmware(TREE, 'tigon/tg3.bin'), undefined, 'its target does not exist');
  assert.equal(resolveFirmware(TREE, 'qcom/a630_gmu.bin'), ['qcom', 'qcom-real/a630_gmu.bin']);
  assert.equal(resolveFirmware(TREE, 'abs.bin'), ['abs.bin', 'e100/d101m_ucode.bin']);
  assert.equal(resolveFirmware(TREE, 'escape.bin'), undefined);
  assert.equal(resolveFirmware(TREE, 'outside.bin'), undefined);
  assert.equal(resolveFirmware(new Map([['a', l('b')], ['b', l('a')]]), 'a'), undefined, 'a link loop ends');
});

test('the closure: exactly the named files (plain, compressed, globbed, through links) plus the keep globs', () => {
  const named = ['e100/d101m_ucode.bin', 'tigon/tg3_tso5.bin', 'rtl_nic/rtl8168*.fw', 'intel/ice/ddp/ice.pkg', 'qcom/a630_gmu.bin', 'not/there.bin', 'none-*.bin'];
  const plan = firmwareClosure(TREE, named, ['amdgpu/*', 'nothing/**']);
  assert.equal(plan.keep, [
    'amdgpu/a.bin', 'amdgpu/b.bin', 'e100/d101m_ucode.bin', 'intel/ice/ddp/ice-1.3.36.0.pkg.xz', 'intel/ice/ddp/ice.pkg.xz', 'qcom', 'qcom-real/a630_gmu.bin',
    'rtl_nic/rtl8168g-2.fw.zst', 'rtl_nic/rtl8168h-1.fw.zst', 'tg3_tso.bin', 'tigon/tg3_tso5.bin',
  ]);
  assert.equal(plan.drop.map((d) => d.path), ['abs.bin', 'escape.bin', 'nvidia/gsp.bin', 'outside.bin', 'qcom-real/other.bin', 'rtl_nic/rtl8125a-3.fw.zst', 'tigon/tg3.bin']);
  assert.is(plan.drop.reduce((n, d) => n + d.size, 0), 9000 + 70 + 40);
  assert.equal(plan.missing, ['none-*.bin', 'not/there.bin']);
  assert.equal(plan.unusedKeep, ['nothing/**']);
  assert.equal(firmwareClosure(TREE, [], []).keep, [], 'nothing named, nothing kept');
});

/** A root with modules naming firmware (plain, gzip, xz, zstd) and a firmware folder. */
function fixtureRoot(name: string): string {
  const root = join(work, name);
  const kmod = join(root, 'usr/lib/modules/6.1.0-test');
  const put = (p: string, data: Buffer | string) => {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), data);
  };
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  symlinkSync('usr/lib', join(root, 'lib'));
  put('usr/lib/modules/6.1.0-test/kernel/e100.ko', fakeKo(['license=GPL', 'firmware=e100/d101m_ucode.bin']));
  put('usr/lib/modules/6.1.0-test/kernel/tg3.ko.gz', gzipSync(fakeKo(['firmware=tigon/tg3_tso5.bin'])));
  put('usr/lib/modules/6.1.0-test/kernel/r8169.ko.zst', fakeKo(['firmware=rtl_nic/rtl8168*.fw']));
  execFileSync('zstd', ['-q', '--rm', '-f', join(kmod, 'kernel/r8169.ko.zst'), '-o', join(kmod, 'kernel/r8169.ko.zst.tmp')]);
  execFileSync('mv', [join(kmod, 'kernel/r8169.ko.zst.tmp'), join(kmod, 'kernel/r8169.ko.zst')]);
  put('usr/lib/modules/6.1.0-test/kernel/ice.ko', fakeKo(['firmware=intel/ice/ddp/ice.pkg']));
  execFileSync('xz', ['-q', join(kmod, 'kernel/ice.ko')]);
  put('usr/lib/modules/6.1.0-test/kernel/virtio_net.ko', fakeKo(['license=GPL']));
  put('usr/lib/modules/6.1.0-test/modules.dep', 'kernel/e100.ko:\n');
  for (const [p, e] of TREE) {
    if (e.kind === 'file') put(`usr/lib/firmware/${p}`, Buffer.alloc(e.size, 1));
    else {
      mkdirSync(dirname(join(root, 'usr/lib/firmware', p)), { recursive: true });
      symlinkSync(e.target, join(root, 'usr/lib/firmware', p));
    }
  }
  return root;
}

function ctxFor(root: string, fw: Template['firmware']): BuildContext {
  const outDir = join(root, '..', `${root.split('/').pop()}-out`);
  mkdirSync(outDir, { recursive: true });
  const template = { firmware: fw, file: '/t/template.yaml' } as Template;
  return { root, outDir, staging: join(root, '..', `${root.split('/').pop()}-staging`), template, log: memoryLogger(), signal: new AbortController().signal } as unknown as BuildContext;
}

const noted = () => {
  const lines: string[] = [];
  return { lines, note: (x: string) => lines.push(x), detail: (x: string) => lines.push(x), progress: () => {} };
};

test('the firmware step on a fixture root: exactly the files the modules name plus keep, links kept, list and totals', async () => {
  const root = fixtureRoot('closure');
  const ctx = ctxFor(root, { mode: 'closure', keep: ['amdgpu/a.bin'] });
  const report = noted();
  const made = await firmware.run(ctx, {} as never, report);
  const left = [...(await readFirmwareTree(join(root, 'usr/lib/firmware'))).keys()].sort();
  assert.equal(left, ['amdgpu/a.bin', 'e100/d101m_ucode.bin', 'intel/ice/ddp/ice-1.3.36.0.pkg.xz', 'intel/ice/ddp/ice.pkg.xz', 'rtl_nic/rtl8168g-2.fw.zst', 'rtl_nic/rtl8168h-1.fw.zst', 'tg3_tso.bin', 'tigon/tg3_tso5.bin']);
  assert.not.ok(existsSync(join(root, 'usr/lib/firmware/nvidia')), 'emptied folders go');
  assert.ok(existsSync(join(root, 'usr/lib/firmware/intel/ice/ddp/ice.pkg.xz')), 'the link still resolves');
  const s = made.firmware;
  assert.equal([s.mode, s.modules, s.named], ['closure', 5, 4]);
  assert.equal(s.kept, { files: 8, bytes: 800 + 100 + 500 + 20 + 30 + 10 });
  assert.equal(s.dropped, { files: 10, bytes: 9000 + 900 + 70 + 60 + 40, list: FIRMWARE_DROPPED });
  assert.equal(made.artifacts, { firmwareDropped: FIRMWARE_DROPPED });
  const list = readFileSync(join(ctx.outDir, FIRMWARE_DROPPED), 'utf8').trim().split('\n');
  assert.ok(list.includes('nvidia/gsp.bin') && list.includes('qcom') && list.length === 10, list.join(','));
  assert.match(report.lines.join('\n'), /\/lib\/firmware: 18 files, 0\.0 MB -> 8 files/);
  assert.not.ok(existsSync(ctx.staging + '/modinfo'), 'the scratch folder is removed');
});

test('firmware: all keeps every file; none keeps only the keep globs', async () => {
  const all = fixtureRoot('all');
  const a = await firmware.run(ctxFor(all, { mode: 'all', keep: [] }), {} as never, noted());
  assert.is((await readFirmwareTree(join(all, 'usr/lib/firmware'))).size, TREE.size);
  assert.equal(a.firmware.dropped, { files: 0, bytes: 0 });
  assert.equal(a.artifacts, {});
  const none = fixtureRoot('none');
  const n = await firmware.run(ctxFor(none, { mode: 'none', keep: ['e100/*'] }), {} as never, noted());
  assert.equal([...(await readFirmwareTree(join(none, 'usr/lib/firmware'))).keys()], ['e100/d101m_ucode.bin']);
  assert.is(n.firmware.modules, 0, 'none reads no module');
});

test('a module that is not ELF is named, with the way out', async () => {
  const root = fixtureRoot('broken');
  writeFileSync(join(root, 'usr/lib/modules/6.1.0-test/kernel/bad.ko'), 'fake module\n');
  await firmware.run(ctxFor(root, { mode: 'closure', keep: [] }), {} as never, noted()).then(
    () => assert.unreachable(),
    (err: Error) => assert.match(err.message, /\/usr\/lib\/modules\/6\.1\.0-test\/kernel\/bad\.ko: cannot read its \.modinfo: not an ELF file .*firmware: all/),
  );
});

test.run();
