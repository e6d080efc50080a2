// vc/daemon.ts without touching the host's libvirt: a run folder of its own whose pid
// files name stand-in processes called virtlogd and libvirtd (copies of sleep).
// Starting the real daemons, and stopping them by PID, is in libvirt-real.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVM_MODE, openKvmToGroup, runningPid, startLibvirtd } from '../../vc/daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'vc-daemon-'));
const runDir = join(dir, 'run');
mkdirSync(join(runDir, 'libvirt'), { recursive: true });
const children: ChildProcess[] = [];

function standIn(name: string): number {
  const exe = join(dir, name);
  if (!existsSync(exe)) copyFileSync('/bin/sleep', exe);
  const child = spawn(exe, ['300'], { stdio: 'ignore' });
  children.push(child);
  writeFileSync(join(runDir, `${name}.pid`), String(child.pid));
  return child.pid!;
}

test.after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('runningPid: only a live process with the daemon\'s name counts', () => {
  assert.is(runningPid('virtlogd', runDir), undefined, 'no pid file');
  writeFileSync(join(runDir, 'virtlogd.pid'), String(process.pid));
  assert.is(runningPid('virtlogd', runDir), undefined, 'a live process of another name');
  writeFileSync(join(runDir, 'virtlogd.pid'), '999999999');
  assert.is(runningPid('virtlogd', runDir), undefined, 'a dead pid');
  const pid = standIn('virtlogd');
  assert.is(runningPid('virtlogd', runDir), pid);
});

test('daemons already running are neither started nor stopped', async () => {
  const logd = standIn('virtlogd');
  const lvd = standIn('libvirtd');
  writeFileSync(join(runDir, 'libvirt', 'libvirt-sock'), '');
  const d = await startLibvirtd({ runDir, timeoutMs: 2000, kvmDevice: false });
  assert.equal(d.started, []);
  await d.stop();
  assert.is(runningPid('virtlogd', runDir), logd);
  assert.is(runningPid('libvirtd', runDir), lvd);
});

test('the KVM device gets group kvm and 0660 as udev would, and is put back', () => {
  const dev = join(dir, 'kvm');
  const groups = join(dir, 'group');
  writeFileSync(dev, '', { mode: 0o600 });
  writeFileSync(groups, 'root:x:0:\nkvm:x:4242:\n');
  const restore = openKvmToGroup(dev, groups);
  assert.ok(restore, 'changed');
  assert.is(statSync(dev).gid, 4242);
  assert.is(statSync(dev).mode & 0o777, KVM_MODE);
  assert.is(openKvmToGroup(dev, groups), undefined, 'already so: nothing to change');
  restore!();
  assert.is(statSync(dev).gid, 0);
  assert.is(statSync(dev).mode & 0o777, 0o600);
  assert.is(openKvmToGroup(join(dir, 'no-kvm'), groups), undefined, 'no device, nothing to do');
});

test.run();
