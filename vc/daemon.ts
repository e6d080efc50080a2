// A libvirtd for hosts without systemd (tests, the demo): start virtlogd and libvirtd
// only when they are not running already, learn their PIDs from their pid files, and
// stop only what was started here, by PID.
import { existsSync, readFileSync } from 'node:fs';
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
  const stop = async () => {
    for (const d of [...started].reverse()) await stopPid(d.name, d.pid, w);
    started.length = 0;
  };
  try {
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
