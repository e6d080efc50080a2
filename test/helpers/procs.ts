// Which processes run, from /proc: to check that a cancelled command left none behind.
import { readdirSync, readFileSync } from 'node:fs';

/** True while `pid` runs (a zombie waiting for its reaper has ended). */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Running processes (not this one) whose command line contains `text`, e.g. a test's own temp folder. */
export function processesNaming(text: string): { pid: number; argv: string[] }[] {
  const found: { pid: number; argv: string[] }[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue; // ended while we looked
    }
    if (argv.some((a) => a.includes(text)) && alive(pid)) found.push({ pid, argv });
  }
  return found;
}
