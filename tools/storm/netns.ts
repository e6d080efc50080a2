// Namespace plumbing for the storm test and bench/storm.ts: a hub namespace with a
// bridge, one namespace per server joined to it by a veth, line watchers, and the
// storm runner (run.ts) started inside the hub.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createNetns, type Netns } from '../../helpers/netns.js';
import { projectRoot } from '../../../lib/paths.js';
import type { StormResult } from '../../../pxe/storm/storm.js';
import type { RunConfig } from './run.js';

export const nodeMac = (i: number) => `52:54:00:77:${(1 + (i >> 8)).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

/** A hub namespace with bridge br0 (holding `hubCidr`), and one namespace per replica joined to it by a veth. */
export function topology(ips: string[], hubCidr: string): { hub: Netns; replicas: Netns[]; destroy(): Promise<void> } {
  const hub = createNetns('hub');
  const replicas: Netns[] = [];
  const destroy = async () => {
    for (const ns of replicas) await ns.destroy();
    await hub.destroy();
  };
  try {
    hub.exec(['ip', 'link', 'add', 'br0', 'type', 'bridge']);
    hub.exec(['ip', 'addr', 'add', hubCidr, 'dev', 'br0']);
    hub.exec(['ip', 'link', 'set', 'br0', 'up']);
    ips.forEach((addr, i) => {
      const ns = createNetns(`r${i}`);
      replicas.push(ns);
      const r = spawnSync('ip', ['link', 'add', `port${i}`, 'netns', hub.name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`veth: ${r.stderr}`);
      hub.exec(['ip', 'link', 'set', `port${i}`, 'master', 'br0']);
      hub.exec(['ip', 'link', 'set', `port${i}`, 'up']);
      ns.exec(['ip', 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      ns.exec(['ip', 'link', 'set', 'eth0', 'up']);
    });
    return { hub, replicas, destroy };
  } catch (err) {
    void destroy();
    throw err;
  }
}

/** Lines of a child's stdout, with a way to wait for one. */
export function watch(child: ChildProcess) {
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  let buf = '';
  let err = '';
  let exited = false;
  const failers: Array<(e: Error) => void> = [];
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const l of parts) {
      lines.push(l);
      for (const w of [...waiters]) if (w.re.test(l)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(l));
    }
  });
  child.once('exit', (code, sig) => {
    exited = true;
    for (const f of failers) f(new Error(`process exited ${code ?? sig}; stderr:\n${err}\nstdout:\n${lines.slice(-20).join('\n')}`));
  });
  return {
    lines,
    stderr: () => err,
    waitFor(re: RegExp, ms: number, what: string): Promise<string> {
      const seen = lines.find((l) => re.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out (${ms} ms) waiting for ${what}; stderr:\n${err}\nstdout:\n${lines.slice(-20).join('\n')}`)), ms);
        const fail = (e: Error) => (clearTimeout(timer), reject(new Error(`${what}: ${e.message}`)));
        if (exited) return fail(new Error('process had exited'));
        failers.push(fail);
        waiters.push({ re, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      });
    },
  };
}

/** Start the storm runner in `ns`; resolves with its watcher once its DHCP socket is bound. */
export async function startStorm(ns: Netns, cfg: RunConfig) {
  const child = ns.spawn([process.execPath, '--import', 'tsx/esm', join(projectRoot(), 'test/pxe/storm/run.ts'), JSON.stringify(cfg)], { cwd: projectRoot() });
  const w = watch(child);
  await w.waitFor(/^READY$/, 30_000, 'the storm runner');
  return {
    child,
    w,
    result: async (ms: number) => JSON.parse((await w.waitFor(/^RESULT /, ms, 'the storm to finish')).slice(7)) as StormResult,
  };
}

