// Bad input gets a clear error and nothing is created or lost: no record, no
// domain, no network, no file; and a VC that exists is left as it was.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createVcOp } from '../../../vc/ops/create.js';
import { listVcs } from '../../../vc/record.js';
import { GiB } from '../../../vc/size.js';
import { rejects, setup } from './setup.js';

const lab = { name: 'lab', image: 'deb', nodes: 3, memory: '256M', scratch: 'disk:16M' };

async function nothingMade(t: ReturnType<typeof setup>, keep: string[] = []) {
  assert.equal((await listVcs(t.store)).map((e) => e.key), keep.map((k) => `vc/${k}`));
  assert.equal([...t.driver.networks.keys()], keep.map((k) => `vc-${k}`));
  assert.ok([...t.driver.domains.keys()].every((d) => keep.some((k) => d.startsWith(`${k}-`))), 'no domain of the refused VC');
  assert.not.ok(t.driver.calls.some((c) => /^(define|net-define) /.test(c) && !keep.some((k) => c.includes(k))), t.driver.calls.join(', '));
}

test('an unknown image lists the ones there are', async () => {
  const t = setup();
  await rejects(createVcOp(t.ctx, t.input({ ...lab, image: 'ubuntu' })), new RegExp(`unknown image 'ubuntu' in ${t.images.root}; there are: deb`));
  await rejects(createVcOp(t.ctx, t.input({ ...lab, image: 'deb/19990101-000000' })), new RegExp(`image 'deb' has no version 19990101-000000 .*it has: ${t.images.version}`));
  await nothingMade(t);
});

test('a name in use is refused and the VC that has it is untouched', async () => {
  const t = setup();
  await createVcOp(t.ctx, t.input(lab, true));
  t.driver.calls = [];
  await rejects(createVcOp(t.ctx, t.input({ ...lab, nodes: 1 })), /a VC named lab exists already: pick another name, or remove it with diskless vc destroy lab/);
  assert.equal(t.driver.calls, [], 'not even a look at libvirt');
  assert.equal([...t.driver.domains.values()].map((d) => d.state), ['running', 'running', 'running']);
  await nothingMade(t, ['lab']);
});

test('a CIDR too small for N names the size to use', async () => {
  const t = setup();
  await rejects(createVcOp(t.ctx, t.input({ ...lab, nodes: 14, network: '10.9.0.0/28' })), /--network: 10\.9\.0\.0\/28 has 16 addresses; 14 VMs need 17 .*use a \/27 or larger/);
  await nothingMade(t);
});

test('strict asking for more cores than are free names the host, the need and what it has', async () => {
  const t = setup();
  await createVcOp(t.ctx, t.input({ ...lab, name: 'pin', nodes: 1, vcpus: 2, cores: 'strict' }));
  await rejects(createVcOp(t.ctx, t.input({ ...lab, vcpus: 1, cores: 'strict' })), /cannot place VC lab: --cores strict needs 3 dedicated cores \(3 VMs × 1 vCPU\), and host h1 has 4 cores, 2 pinned by other VMs: 2 free/);
  await nothingMade(t, ['pin']);
});

test('memory above the host less the reserve is refused with the numbers', async () => {
  const t = setup();
  t.driver.node = { cores: 4, memoryBytes: 2 * GiB };
  await rejects(createVcOp(t.ctx, t.input({ ...lab, memory: '512M' })), /--memory 512 MiB needs 1\.5 GiB \(3 VMs × 512 MiB\), and host h1 has 2 GiB of memory, less 1 GiB kept for the host: 1 GiB free/);
  await nothingMade(t);
});

test('libvirt not running: says how to start it, makes nothing', async () => {
  const t = setup();
  t.driver.down = true;
  await rejects(createVcOp(t.ctx, t.input(lab)), /libvirt is not running .*Start it as root with: virtlogd -d; libvirtd -d/);
  t.driver.down = false;
  await nothingMade(t);
  assert.not.ok(existsSync(join(t.stateDir, 'vms')));
});

test('a bad flag is a ConfigError naming it, before anything', async () => {
  const t = setup();
  await rejects(createVcOp(t.ctx, t.input({ ...lab, memory: 'lots' })), /--memory: 'lots' is not a size like 512M/);
  await nothingMade(t);
});

test('an images folder QEMU cannot reach (mkdtemp 0700) is named with the fix', async () => {
  const t = setup();
  chmodSync(t.images.root, 0o700);
  await rejects(createVcOp(t.ctx, t.input(lab)), new RegExp(`${t.images.root} is not searchable by QEMU's user \\(mode 700\\).*chmod o\\+x ${t.images.root}`));
  await nothingMade(t);
});

test.run();
