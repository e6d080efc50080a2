// `diskless vc` run as a child process against a real libvirtd, for the tests that drive
// the command as an administrator would: one state dir, TCG, and VCs named from a tag.
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths.js';
import type { VcView } from '../../vc/ops/view.js';

export function vcCli(stateDir: string, tag: string) {
  const common = ['--state-dir', stateDir, '--virt', 'qemu'];
  function vc(args: string[]) {
    const res = spawnSync(process.execPath, ['--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'vc', ...args, ...common], { cwd: projectRoot(), encoding: 'utf8', timeout: 300_000 });
    return { code: res.status, stdout: res.stdout, out: `${res.stdout}${res.stderr}` };
  }
  function ok(args: string[]) {
    const r = vc(args);
    assert.is(r.code, 0, `vc ${args.join(' ')}:\n${r.out}`);
    return r;
  }
  const show = (name: string) => JSON.parse(ok(['show', name, '--json']).stdout) as VcView;
  return {
    common,
    vc,
    ok,
    show,
    states: (name: string) => show(name).vms.map((vm) => vm.state),
    virshNames: (what: 'list' | 'net-list') =>
      execFileSync('virsh', ['-q', '-c', 'qemu:///system', what, '--all', '--name'], { encoding: 'utf8' }).split('\n').map((s) => s.trim()).filter(Boolean),
    /** Domains and networks of this run only. */
    ours: (names: string[]) => names.filter((n) => n.startsWith(tag) || n.startsWith(`vc-${tag}`)),
    consoleOf: (f: string | null) => (f && existsSync(f) ? readFileSync(f, 'utf8') : ''),
  };
}
