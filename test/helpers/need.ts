// A test that cannot run here fails, it does not skip: scripts/install-deps.sh installs
// every tool the tests need, and the tests run as root. Only a cause outside the project
// may print "SKIP: <reason>", and CI fails even that unless scripts/allowed-skips.mjs lists it.
import { spawnSync } from 'node:child_process';

/** Throw, naming the problem, when there is one (a reason from netnsAvailable(), qemuMissing(), …). */
export function need(problem: string | undefined): void {
  if (problem) throw new Error(`cannot run here: ${problem}. scripts/install-deps.sh installs every tool the tests need; run them as root.`);
}

/** Throw unless `tool` is on PATH; `pkg` is the Debian package that has it. */
export function needTool(tool: string, pkg: string): void {
  need(spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0 ? undefined : `${tool} is not installed (apt-get install ${pkg})`);
}
