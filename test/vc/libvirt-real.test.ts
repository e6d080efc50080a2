// The libvirt driver against the real libvirtd, started here (virtlogd -d; libvirtd -d)
// and stopped by PID at the end when this file started it. One small TCG guest on an
// isolated network (no forward, no host address: nothing leaves the machine): a real
// Debian kernel and a BusyBox initrd that counts on the serial console (test/vc/guest.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startLibvirtd, type LibvirtDaemons } from '../../vc/daemon.js';
import { LibvirtDriver } from '../../vc/drivers/libvirt.js';
import { probeKvm } from '../../host/qemu.js';
import type { VmDef } from '../../vc/drivers/driver.js';
import { createScratch, removeScratch, scratchBase } from '../../vc/disks.js';
import { needTool } from '../helpers/need.js';
import { consoleLogger } from '../../lib/log.js';
import { guestInitrd, guestKernel, lastTick } from './guest.js';

needTool('virsh', 'libvirt-clients');
needTool('libvirtd', 'libvirt-daemon-system');
needTool('qemu-img', 'qemu-utils');
needTool('qemu-system-x86_64', 'qemu-system-x86');
needTool('dpkg-deb', 'dpkg');

const tag = `dltest${process.pid}`;
const net = { name: `${tag}-net`, bridge: `dlt${process.pid % 1000000}` };
// libvirt runs QEMU as libvirt-qemu: every folder on the way to the files must be searchable.
const work = mkdtempSync('/var/tmp/diskless-vc-');
chmodSync(work, 0o755);
const rootImage = join(work, 'root.img');
writeFileSync(rootImage, randomBytes(1024 * 1024));
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const rootSha = sha(rootImage);
const scratch = join(work, `${tag}-0.qcow2`);
const vm: VmDef = {
  domainName: `${tag}-0`,
  vcpus: 1,
  memoryBytes: 256 * 1024 * 1024,
  pinnedCores: [0],
  kernel: guestKernel(work),
  initrd: guestInitrd(work),
  cmdline: `console=ttyS0 panic=-1 diskless.vc=${tag} ip=10.99.0.2::10.99.0.1:255.255.255.0:${tag}-0`,
  rootImage,
  scratch: { kind: 'disk', path: scratch },
  mac: '52:54:00:99:00:02',
  network: net.name,
  consoleLog: join(work, `${tag}-0.console.log`),
};
const saveFile = join(work, `${tag}-0.save`);
const driver = new LibvirtDriver({ virtType: 'qemu' });
let daemons: LibvirtDaemons | undefined;
const kvmBefore = existsSync('/dev/kvm') ? statSync('/dev/kvm') : undefined;

const isRunning = (pid: number) => existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const serialLog = () => (existsSync(vm.consoleLog) ? readFileSync(vm.consoleLog, 'utf8') : '');
async function until<T>(what: string, ms: number, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms; console:\n${serialLog().slice(-2000)}`);
    await sleep(250);
  }
}

test.before(async () => {
  daemons = await startLibvirtd({ timeoutMs: 30_000, log: consoleLogger() });
});

let stopped = false;
// After a failure half-way: take away what is ours, then stop what this file started.
test.after(async () => {
  try {
    if (!stopped) {
      await driver.destroy(vm.domainName).catch(() => {});
      await driver.undefine(vm.domainName).catch(() => {});
      await driver.destroyNetwork(net.name).catch(() => {});
    }
  } finally {
    await daemons?.stop();
    rmSync(work, { recursive: true, force: true });
  }
});

test('libvirtd answers; node info and the domain type come from the host', async () => {
  const node = await driver.nodeInfo();
  assert.ok(node.cores >= 1, `cores ${node.cores}`);
  assert.ok(node.memoryBytes > 256 * 1024 * 1024, `memory ${node.memoryBytes}`);
  // kvm where libvirt offers it (a /dev/kvm) and the CPU shows VT-x/AMD-V; this machine's /dev/kvm has neither flag.
  const offered = /<domain type='kvm'/.test(execFileSync('virsh', ['-c', 'qemu:///system', 'capabilities'], { encoding: 'utf8' }));
  assert.is(await new LibvirtDriver().virtType(), offered && probeKvm().hardwareVirt ? 'kvm' : 'qemu');
  assert.is(await driver.virtType(), 'qemu', 'the override wins');
});

test('an isolated network: a bridge with no forward and no host address', async () => {
  await driver.defineNetwork(net);
  await driver.defineNetwork(net); // repeatable
  assert.ok((await driver.listNetworks()).includes(net.name));
  const xml = await driver.virsh(['net-dumpxml', net.name]);
  assert.match(xml, `<bridge name='${net.bridge}'`);
  assert.not.match(xml, '<forward');
  assert.not.match(xml, '<ip');
  const addrs = execFileSync('ip', ['-o', 'addr', 'show', 'dev', net.bridge], { encoding: 'utf8' });
  assert.not.match(addrs, /inet6? /, 'the host has no address on the VC bridge');
});

test('define: the root disk read-only and shareable, the scratch an overlay', async () => {
  const base = await scratchBase(join(work, 'bases'), 64 * 1024 * 1024);
  await createScratch(base, scratch);
  await driver.define(vm);
  await driver.define(vm); // repeatable: the UUID comes from the name
  assert.is(await driver.state(vm.domainName), 'shut off');
  const xml = await driver.virsh(['dumpxml', vm.domainName]);
  const root = /<disk[^>]*>(?:(?!<\/disk>)[\s\S])*root\.img(?:(?!<\/disk>)[\s\S])*<\/disk>/.exec(xml)?.[0] ?? '';
  assert.match(root, '<readonly/>');
  assert.match(root, '<shareable/>');
  assert.match(root, "<target dev='vda' bus='virtio'/>");
  assert.match(root, '<serial>root</serial>');
  assert.match(xml, `<source file='${scratch}'`);
  assert.match(xml, "<domain type='qemu'");
  assert.not.match(xml, '<graphics');
});

test('start: the guest runs and counts on the serial console log', async () => {
  await driver.start(vm.domainName);
  await driver.start(vm.domainName); // repeatable
  assert.is(await driver.state(vm.domainName), 'running');
  assert.ok((await driver.list()).some((d) => d.name === vm.domainName && d.state === 'running'));
  await until('the guest counting to 2', 120_000, () => lastTick(serialLog()) >= 2);
  assert.match(serialLog(), `diskless.vc=${tag}`);
  assert.match(await driver.virsh(['vcpupin', vm.domainName]), /^\s*0\s+0\s*$/m, 'vCPU 0 pinned to core 0');
});

test('suspend, save to a file, restore paused, resume: the counter continues', async () => {
  await driver.suspend(vm.domainName);
  assert.is(await driver.state(vm.domainName), 'paused');
  const before = lastTick(serialLog());
  await driver.save(vm.domainName, saveFile);
  assert.ok(statSync(saveFile).size > 1024 * 1024, 'a save file with the memory');
  assert.is(await driver.state(vm.domainName), 'shut off');
  await driver.restore(saveFile, { paused: true });
  assert.is(await driver.state(vm.domainName), 'paused');
  await driver.resume(vm.domainName);
  assert.is(await driver.state(vm.domainName), 'running');
  await until('the counter passing its saved value', 60_000, () => lastTick(serialLog()) >= before + 2);
  assert.is(serialLog().match(/vc-guest up/g)?.length, 1, 'the guest did not boot again');
});

test('shutdown: ACPI ignored by the guest, powered off after the timeout', async () => {
  const t0 = Date.now();
  assert.is(await driver.shutdown(vm.domainName, 2000), 'destroyed');
  assert.ok(Date.now() - t0 >= 2000);
  assert.is(await driver.state(vm.domainName), 'shut off');
  assert.is(await driver.shutdown(vm.domainName, 2000), 'shutdown', 'a stopped domain is already down');
});

test('undefine and destroy the network: nothing of ours is left', async () => {
  await driver.undefine(vm.domainName);
  await driver.undefine(vm.domainName); // repeatable
  await driver.destroy(vm.domainName);
  assert.is(await driver.state(vm.domainName), undefined);
  await driver.destroyNetwork(net.name);
  await driver.destroyNetwork(net.name);
  await removeScratch(scratch);
  assert.not.ok(existsSync(scratch));
  assert.not.ok((await driver.list()).some((d) => d.name.startsWith(tag)));
  assert.not.ok((await driver.listNetworks()).some((n) => n.startsWith(tag)));
  assert.not.ok(existsSync(`/sys/class/net/${net.bridge}`), 'the bridge is gone');
  assert.is(sha(rootImage), rootSha, 'the shared root image is unchanged');
});

test('stop: the daemons this file started are gone, by PID, and /dev/kvm is as it was', async () => {
  const pids = daemons!.started.map((d) => d.pid);
  await daemons!.stop();
  stopped = true;
  for (const pid of pids) assert.not.ok(isRunning(pid), `pid ${pid} still runs`);
  if (kvmBefore) {
    const now = statSync('/dev/kvm');
    assert.equal([now.gid, now.mode], [kvmBefore.gid, kvmBefore.mode]);
  }
});

test.run();
