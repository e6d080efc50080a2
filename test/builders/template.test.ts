import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageNameFor, listTemplates, loadTemplate } from '../../builders/template.js';
import { ConfigError } from '../../lib/yamlfile.js';
import { defaultTemplatesDir, projectRoot } from '../../lib/paths.js';
import { missingPackages, mmdebstrapArgs, sourceLines } from '../../builders/bootstrappers/mmdebstrap.js';
import { readFileSync } from 'node:fs';

const shipped = defaultTemplatesDir();

function tplDir(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tpl-'));
  mkdirSync(join(dir, 'x'));
  writeFileSync(join(dir, 'x', 'template.yaml'), yaml);
  return dir;
}

async function problems(yaml: string): Promise<string[]> {
  const dir = tplDir(yaml);
  try {
    await loadTemplate(dir, 'x');
    assert.unreachable('should not load');
    return [];
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as ConfigError).problems;
  } finally {
    rmSync(dir, { recursive: true });
  }
}

const good = `name: x
bootstrap:
  method: mmdebstrap
  suite: bookworm
  sources:
    - uri: http://deb.debian.org/debian
      suites: [bookworm]
      components: [main]
kernel:
  package: linux-image-amd64
initrd:
  modules:
    required: [squashfs]
writable:
  - path: /etc
`;

test('every template in the templates folder loads and validates', async () => {
  const all = await listTemplates(shipped);
  assert.ok(all.length > 0, `no templates in ${shipped}`);
  for (const name of all) {
    const t = await loadTemplate(shipped, name);
    assert.match(t.hash, /^[0-9a-f]{64}$/, name);
    for (const v of Object.keys(t.variants)) assert.is((await loadTemplate(shipped, name, v)).variant, v);
  }
});

test('the templates folder holds distributions only: shared boot and VC templates live with their code', () => {
  const own = join(projectRoot(), 'templates');
  for (const e of readdirSync(own, { withFileTypes: true })) {
    assert.ok(e.isDirectory() && existsSync(join(own, e.name, 'template.yaml')), `${join(own, e.name)} is not a distribution (no template.yaml)`);
  }
  for (const f of ['linux.ipxe', 'xen-dom0.ipxe', 'grub.cfg', 'error.ipxe', 'bootstrap.grub.cfg']) assert.ok(existsSync(join(projectRoot(), 'pxe', 'templates', `${f}.mustache`)), f);
  for (const f of ['domain-qemu.xml', 'network.xml']) assert.ok(existsSync(join(projectRoot(), 'vc', 'templates', `${f}.mustache`)), f);
  assert.ok(existsSync(join(projectRoot(), 'builders', 'live', 'live.grub.cfg.mustache')));
});

test('the shipped templates are what they say: debian bookworm and ubuntu noble', async () => {
  const own = join(projectRoot(), 'templates'); // the project's own folder, whatever DISKLESS_TEMPLATES says
  const d = await loadTemplate(own, 'debian');
  assert.is(d.bootstrap.suite, 'bookworm');
  assert.is(d.kernel.package, 'linux-image-amd64');
  assert.ok(d.initrd.modules.required.includes('squashfs'));
  assert.match(d.hash, /^[0-9a-f]{64}$/);
  const u = await loadTemplate(own, 'ubuntu');
  assert.is(u.bootstrap.suite, 'noble');
  assert.match(u.bootstrap.keyring!, /keyring\/ubuntu-archive-keyring.gpg$/);
});

test('mmdebstrap command line comes from the template data', async () => {
  const d = await loadTemplate(shipped, 'debian');
  const argv = mmdebstrapArgs(d);
  assert.ok(argv.includes('--variant=minbase'));
  assert.ok(argv.some((a) => a.startsWith('--include=') && a.includes('linux-image-amd64') && a.includes('busybox-static')));
  assert.ok(argv.includes('--keyring=/usr/share/keyrings/debian-archive-keyring.gpg'));
  assert.not.ok(argv.some((a) => /allow-insecure|AllowUnauthenticated|--no-check/i.test(a)), 'signatures are never disabled');
  assert.equal(sourceLines(d), [
    'deb http://deb.debian.org/debian bookworm main',
    'deb http://deb.debian.org/debian bookworm-updates main',
    'deb http://deb.debian.org/debian-security bookworm-security main',
  ]);
});

test('a good minimal template loads with defaults filled in', async () => {
  const dir = tplDir(good);
  try {
    const t = await loadTemplate(dir, 'x');
    assert.is(t.arch, 'amd64');
    assert.is(t.initrd.compression, 'zstd');
    assert.is(t.rootImage.format, 'squashfs');
    assert.equal(t.writable, [{ path: '/etc', mode: 'overlay' }]);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('unknown distro: the error lists the templates there are', async () => {
  try {
    await loadTemplate(shipped, 'gentoo');
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /unknown distribution 'gentoo'/);
    assert.ok((err as Error).message.includes(`Available templates: ${(await listTemplates(shipped)).join(', ')}.`), (err as Error).message);
  }
});

test('a wrong value names the file, the line and the key', async () => {
  const p = await problems(good.replace('method: mmdebstrap', 'method: yum'));
  assert.is(p.length, 1);
  assert.match(p[0]!, /template\.yaml:3: bootstrap\.method: /);
});

test('a missing key is reported at its parent, with the key path', async () => {
  const p = await problems(good.replace('kernel:\n  package: linux-image-amd64\n', 'kernel:\n  cmdline: quiet\n'));
  assert.ok(p.some((x) => /template\.yaml:\d+: kernel\.package: /.test(x)), p.join('\n'));
});

test('unknown keys and bad list items are errors with their line', async () => {
  const p = await problems(good.replace('writable:\n  - path: /etc\n', 'writable:\n  - path: etc\npackges: [vim]\n'));
  assert.ok(p.some((x) => /template\.yaml:15: writable\[0\]\.path: must be an absolute path/.test(x)), p.join('\n'));
  assert.ok(p.some((x) => /template\.yaml:16: packges: unknown key/.test(x)), p.join('\n'));
});

test('broken YAML names the line', async () => {
  const p = await problems('name: x\nbootstrap: [unclosed\n');
  assert.ok(p.some((x) => /template\.yaml:\d+:/.test(x)), p.join('\n'));
});

test('a keyring that is not there is named', async () => {
  const p = await problems(good.replace('  suite: bookworm\n', '  suite: bookworm\n  keyring: keys/missing.gpg\n'));
  assert.ok(p.some((x) => /bootstrap\.keyring: file .*keys\/missing\.gpg does not exist/.test(x)), p.join('\n'));
});

test('mmdebstrap without sources is refused', async () => {
  const p = await problems(good.replace(/  sources:\n(    .*\n)+/, ''));
  assert.ok(p.some((x) => /bootstrap\.sources: mmdebstrap needs at least one source/.test(x)), p.join('\n'));
});

test('image name: the template name (not the folder), the suite, the arch, the variant', async () => {
  const rows: Array<[folder: string, name: string, suite: string, variant: string | undefined, image: string]> = [
    ['debian', 'debian', 'bookworm', undefined, 'debian-bookworm-amd64'],
    ['trixie', 'debian', 'trixie', undefined, 'debian-trixie-amd64'],
    ['my-lab', 'ubuntu', 'noble', undefined, 'ubuntu-noble-amd64'],
    ['debian', 'debian', 'bookworm', 'xen-dom0', 'debian-bookworm-amd64-xen-dom0'],
  ];
  for (const [folder, name, suite, variant, image] of rows) {
    const dir = mkdtempSync(join(tmpdir(), 'tpl-'));
    try {
      mkdirSync(join(dir, folder));
      const yaml = good.replace('name: x', `name: ${name}`).replace(/bookworm/g, suite) +
        'variants:\n  xen-dom0:\n    packages: [xen-system-amd64]\n';
      writeFileSync(join(dir, folder, 'template.yaml'), yaml);
      assert.is(imageNameFor(await loadTemplate(dir, folder, variant)), image, `${folder} name: ${name}`);
    } finally {
      rmSync(dir, { recursive: true });
    }
  }
  const p = await problems(good.replace('name: x', 'name: Debian_12'));
  assert.ok(p.some((x) => /template\.yaml:\d+: name: must be the distribution/.test(x)), p.join('\n'));
});

test('the template hash is the parsed data: comments, quoting and key order change nothing; a value or another file does', async () => {
  const hashOf = async (yaml: string, extra?: [string, string]) => {
    const dir = tplDir(yaml);
    try {
      if (extra) writeFileSync(join(dir, 'x', extra[0]), extra[1]);
      return (await loadTemplate(dir, 'x')).hash;
    } finally {
      rmSync(dir, { recursive: true });
    }
  };
  const base = await hashOf(good);
  assert.is(await hashOf(`# a new comment\n${good.replace('kernel:', 'kernel:   # the kernel package')}`), base);
  assert.is(await hashOf(good.replace('package: linux-image-amd64', 'package: "linux-image-amd64"')), base);
  assert.is(await hashOf(good.replace('name: x\n', '') + 'name: x\n'), base, 'key order');
  assert.is.not(await hashOf(good.replace('package: linux-image-amd64', 'package: linux-image-cloud-amd64')), base);
  assert.is.not(await hashOf(good, ['extra.conf', 'x=1\n']), base, 'a file beside template.yaml counts');
});

test("a package the suite lacks is named with the template, the suite and the fix (real apt output)", () => {
  const out = readFileSync(join(projectRoot(), 'test/fixtures/apt/unable-to-locate.txt'), 'utf8');
  const t = { file: 'templates/trixie/template.yaml', variant: 'xen-dom0', bootstrap: { suite: 'trixie' } } as Parameters<typeof missingPackages>[1];
  const msg = missingPackages(out, t)!;
  assert.match(msg, /^templates\/trixie\/template\.yaml: xen-hypervisor-4\.99-amd64, xen-utils-4\.99 are not in trixie \(packages of the base template or of variant xen-dom0\)/);
  assert.match(msg, /unversioned metapackage/);
  assert.is(missingPackages('E: Package \'vim\' has no installation candidate', t)!.includes('vim is not in trixie'), true);
  assert.is(missingPackages('E: some other failure', t), undefined);
});

test('the shipped variants name no versioned package', async () => {
  const own = join(projectRoot(), 'templates');
  for (const name of await listTemplates(own)) {
    const t = await loadTemplate(own, name);
    for (const [v, variant] of Object.entries(t.variants)) {
      for (const p of variant.packages) assert.not.match(p, /-\d+\.\d+/, `${name} variant ${v}: ${p} names a version`);
    }
  }
});

test.run();
