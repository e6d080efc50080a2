// The live medium's pure parts: boot-menu entries from the inventory and the checksum
// list the initrd verifies with busybox. The medium itself boots in test/e2e/live.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { liveEntries, writeSums } from '../../builders/live/iso.js';
import { makeServiceLayer, missingNodeRuntime, nodeFailsInImage } from '../../builders/live/service-layer.js';
import { projectRoot } from '../../lib/paths.js';
import { parseInventory } from '../../cluster/inventory.js';
import { needTool } from '../helpers/need.js';

const work = mkdtempSync(join(tmpdir(), 'live-unit-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

test('one boot entry per replica, each with the prefix of its own subnet', () => {
  const inv = parseInventory('cluster: c\nnetwork:\n  subnet: 10.1.0.0/24\nsubnets:\n  - subnet: 10.2.0.0/16\nservers: [10.1.0.1, 10.2.3.4]\n', 'c.yaml');
  assert.equal(liveEntries(inv, 'c.yaml'), [{ address: '10.1.0.1', prefix: 24 }, { address: '10.2.3.4', prefix: 16 }]);
});

test('a replica outside every subnet is an error naming the file, key and fix', () => {
  const inv = parseInventory('cluster: c\nnetwork:\n  subnet: 10.1.0.0/24\nservers: [10.9.0.1]\n', 'c.yaml');
  assert.throws(() => liveEntries(inv, 'c.yaml'), /c\.yaml: servers: 10\.9\.0\.1 is in no network.*add its subnet/);
});

test('the service layer needs libstdc++ in the image for its node binary: found through /lib symlinks, or named with the fix', async () => {
  const root = join(work, 'root');
  mkdirSync(join(root, 'usr/lib/x86_64-linux-gnu'), { recursive: true });
  assert.match((await missingNodeRuntime(root, 'templates/x/template.yaml'))!, /needs libstdc\+\+\.so\.6 .*add libstdc\+\+6 .* to packages: in templates\/x\/template\.yaml/);
  writeFileSync(join(root, 'usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30'), '');
  symlinkSync('usr/lib', join(root, 'lib'));
  assert.is(await missingNodeRuntime(root, 't.yaml'), undefined);
});

test("the shipped node must run on the image's glibc: it does on this host's own root; an image without the loader is named", async () => {
  assert.is(await nodeFailsInImage('/', process.execPath, 't.yaml'), undefined);
  const root = join(work, 'no-loader');
  mkdirSync(join(root, 'usr/lib/x86_64-linux-gnu'), { recursive: true });
  assert.match((await nodeFailsInImage(root, process.execPath, 't.yaml'))!, /needs \/lib64\/ld-linux-x86-64\.so\.2 in the image/);
  // A loader that runs but libraries that are not glibc's: the failure is explained, not a crash.
  mkdirSync(join(root, 'lib64'));
  copyFileSync(realpathSync('/lib64/ld-linux-x86-64.so.2'), join(root, 'lib64/ld-linux-x86-64.so.2'));
  writeFileSync(join(root, 'usr/lib/x86_64-linux-gnu/libc.so.6'), 'not a library');
  assert.match((await nodeFailsInImage(root, process.execPath, 't.yaml'))!, /does not run on the image's libraries: .*Build on a host whose glibc/);
});

test("the service layer lays the Secure Boot chain's host files in at their own paths, and names the ones this host lacks", async () => {
  const host = mkdtempSync(join(tmpdir(), 'dl-chain-'));
  writeFileSync(join(host, 'shimx64.efi.signed'), 'shim bytes');
  symlinkSync('shimx64.efi.signed', join(host, 'shim-link'));
  const dir = join(work, 'layer');
  const r = await makeServiceLayer({
    dir, appRoot: projectRoot(), nodeBinary: process.execPath, ipxeDir: '/usr/lib/ipxe',
    overlay: join(projectRoot(), 'overlays/service/rootfs'), view: {},
    chainFiles: [join(host, 'shim-link'), join(host, 'missing.efi')],
  });
  assert.is(readFileSync(join(dir, host, 'shim-link'), 'utf8'), 'shim bytes', 'the file itself, at the path the replica looks for');
  assert.equal(r.chainMissing, [join(host, 'missing.efi')]);
  rmSync(host, { recursive: true });
});

test('SHA256SUMS covers every file below the bundle and busybox sha256sum -c accepts it; a changed byte fails it', () => {
  const dir = join(work, 'bundle');
  mkdirSync(join(dir, 'images/x/v1'), { recursive: true });
  writeFileSync(join(dir, 'cluster.yaml'), 'cluster: c\n');
  writeFileSync(join(dir, 'images/x/v1/root.squashfs'), Buffer.alloc(70_000, 7));
  return writeSums(dir).then((n) => {
    assert.is(n, 2);
    const lines = readFileSync(join(dir, 'SHA256SUMS'), 'utf8').trim().split('\n');
    assert.equal(lines.map((l) => l.split('  ')[1]), ['cluster.yaml', 'images/x/v1/root.squashfs']);
    needTool('busybox', 'busybox-static');
    assert.is(spawnSync('busybox', ['sha256sum', '-c', '-s', 'SHA256SUMS'], { cwd: dir }).status, 0, 'busybox accepts the list');
    writeFileSync(join(dir, 'cluster.yaml'), 'cluster: d\n');
    assert.is.not(spawnSync('busybox', ['sha256sum', '-c', '-s', 'SHA256SUMS'], { cwd: dir }).status, 0, 'busybox rejects a changed file');
  });
});

test.run();
