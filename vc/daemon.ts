// A libvirtd for hosts without systemd (tests, the demo): start virtlogd and libvirtd
// only when they are not running already, learn their PIDs from their pid files, and
// stop only what was started here, by PID.
// Without udev, /dev/kvm stays root:root 0600; libvirt (QEMU runs as libvirt-qemu:kvm)
// then finds KVM in its capability cache but unusable, and probes QEMU again on every
// call (4 s to 50 s each, measured). So the device gets udev's rule: group kvm, 0660.
import { chmodSync, chownSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../lib/run.js';
import { isAlive } from '../lib/pid.js';
import type { Logger } from '../lib/log.js';

/** In start order; stopped in the reverse order. */
export const LIBVIRT_DAEMONS = ['virtlogd', 'libvirtd'] as const;
export type LibvirtDaemon = (typeof LIBVIRT_DAEMONS)[number];

export interface DaemonOptions {
  /** Where the daemons (run as root) write their pid files and sockets. */
  runDir?: string;
  /** The KVM device to open to group kvm (as udev's rule does); false leaves it alone. */
  kvmDevice?: string | false;
  log?: Logger;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface LibvirtDaemons {
  /** The daemons started by this call, with their PIDs; empty when both were running. */
  started: { name: LibvirtDaemon; pid: number }[];
  /** Stop (SIGTERM, then SIGKILL after the timeout) what this call started, nothing else. */
  stop(): Promise<void>;
}

export const KVM_GROUP = 'kvm';
export const KVM_MODE = 0o660;

function groupId(name: string, groupFile = '/etc/group'): number | undefined {
  const line = readFileSync(groupFile, 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  const gid = line?.split(':')[2];
  return gid ? Number(gid) : undefined;
}

/**
 * Give `dev` the group kvm and mode 0660 when it lacks them (udev's rule for /dev/kvm);
 * returns how to put it back, or undefined when nothing was changed.
 */
export function openKvmToGroup(dev = '/dev/kvm', groupFile = '/etc/group'): (() => void) | undefined {
  if (!existsSync(dev)) return undefined;
  const gid = groupId(KVM_GROUP, groupFile);
  const st = statSync(dev);
  const mode = st.mode & 0o7777;
  if (gid === undefined || (st.gid === gid && (mode & KVM_MODE) === KVM_MODE)) return undefined;
  chownSync(dev, st.uid, gid);
  chmodSync(dev, mode | KVM_MODE);
  return () => {
    chownSync(dev, st.uid, st.gid);
    chmodSync(dev, mode);
  };
}

const POLL_MS = 50;

/** Alive and not a zombie (daemons are reparented to PID 1, which may reap late). */
function running(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The PID in `<runDir>/<name>.pid` when that process is alive and is `name`. */
export function runningPid(name: string, runDir = '/run'): number | undefined {
  const file = join(runDir, `${name}.pid`);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!running(pid)) return undefined;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitFor<T>(what: string, probe: () => T | undefined, o: Required<Pick<DaemonOptions, 'timeoutMs' | 'sleep'>>): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) throw new Error(`${what} did not happen within ${o.timeoutMs} ms`);
    await o.sleep(POLL_MS);
  }
}

export async function startLibvirtd(o: DaemonOptions = {}): Promise<LibvirtDaemons> {
  const runDir = o.runDir ?? '/run';
  const w = { timeoutMs: o.timeoutMs ?? 20_000, sleep: o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))) };
  const started: LibvirtDaemons['started'] = [];
  let restoreKvm: (() => void) | undefined;
  const stop = async () => {
    for (const d of [...started].reverse()) await stopPid(d.name, d.pid, w);
    started.length = 0;
    restoreKvm?.();
    restoreKvm = undefined;
  };
  try {
    const kvm = o.kvmDevice ?? '/dev/kvm';
    if (kvm && runningPid('libvirtd', runDir) === undefined) {
      restoreKvm = openKvmToGroup(kvm);
      if (restoreKvm) o.log?.info(`${kvm}: group ${KVM_GROUP}, mode 0660 (as udev would), so libvirt can use it`);
    }
    for (const name of LIBVIRT_DAEMONS) {
      if (runningPid(name, runDir) !== undefined) continue;
      await run([name, '-d'], { log: o.log });
      const pid = await waitFor(`${name} writing ${runDir}/${name}.pid`, () => runningPid(name, runDir), w);
      started.push({ name, pid });
      o.log?.debug(`started ${name} (pid ${pid})`);
    }
    const sock = join(runDir, 'libvirt', 'libvirt-sock');
    await waitFor(`libvirtd opening ${sock}`, () => (existsSync(sock) ? true : undefined), w);
  } catch (err) {
    await stop();
    throw err;
  }
  return { started, stop };
}

async function stopPid(name: string, pid: number, w: { timeoutMs: number; sleep: (ms: number) => Promise<void> }): Promise<void> {
  const gone = () => (running(pid) ? undefined : true);
  if (gone()) return;
  process.kill(pid, 'SIGTERM');
  try {
    await waitFor(`${name} (pid ${pid}) exiting`, gone, w);
  } catch {
    if (running(pid)) process.kill(pid, 'SIGKILL');
    await waitFor(`${name} (pid ${pid}) exiting after SIGKILL`, gone, w);
  }
}
