// The TFTP loss tests (test/pxe/tftp/loss.test.ts: busybox and atftp windowsize 8, 6 runs each
// at 0.5% loss each way) run again and again with a CPU hog beside them, outside CI: a test
// that passes 6 of 6 on an idle machine but not on a loaded one is not solid.
//   node --import tsx/esm bench/tftp-loss-stress.ts [--rounds=20] [--hogs=N]
// The hogs are busy-looping node processes, one per CPU unless --hogs says otherwise; they are
// ended by PID at the end. Exits 1 unless every round passed. Needs root (network namespaces).
import type { ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { run, start } from '../lib/run.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const ROUNDS = Number(flag('rounds') ?? 20);
const HOGS = Number(flag('hogs') ?? availableParallelism());
const projectDir = join(import.meta.dirname, '..');

const hogs: ChildProcess[] = [];
for (let i = 0; i < HOGS; i++) hogs.push(start([process.execPath, '-e', 'for (;;) {}'], { stdio: ['ignore', 'ignore', 'ignore'] }));
let passed = 0;
const failures: string[] = [];
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const t0 = performance.now();
    try {
      await run([process.execPath, '--import', 'tsx/esm', 'node_modules/uvu/bin.js', 'test', 'pxe/tftp/loss\\.test\\.ts$'], { cwd: projectDir, timeoutMs: 900_000 });
      passed++;
      console.log(`round ${round}/${ROUNDS}: pass (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    } catch (err) {
      failures.push(`round ${round}: ${(err as Error).message}`);
      console.log(`round ${round}/${ROUNDS}: FAIL (${((performance.now() - t0) / 1000).toFixed(0)} s)\n${(err as Error).message}`);
    }
  }
} finally {
  for (const h of hogs) if (h.pid !== undefined) process.kill(h.pid, 'SIGKILL');
}
console.log(`\nTFTP loss tests with ${HOGS} CPU hog(s) beside them: ${passed} of ${ROUNDS} rounds passed`);
if (failures.length) console.log(failures.join('\n\n'));
process.exit(passed === ROUNDS ? 0 : 1);
