// `diskless vc` argument handling: bad arguments exit 2 naming the flag, before the
// state dir or libvirt is touched; --help teaches with examples.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths.js';

const work = mkdtempSync(join(tmpdir(), 'diskless-vccli-'));
const stateDir = join(work, 'state');

function vc(args: string[]) {
  const argv = ['--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'vc', ...args];
  const res = spawnSync(process.execPath, argv, { cwd: projectRoot(), encoding: 'utf8' });
  return { code: res.status, out: `${res.stdout}${res.stderr}`, stdout: res.stdout };
}

test('vc --help lists every verb, with examples and how to start libvirtd', () => {
  const r = vc(['--help']);
  assert.is(r.code, 0);
  for (const s of ['vc create [name]', 'vc start <name>', 'vc stop <name>', 'vc save <name>', 'vc restore <name>', 'vc destroy <name>', 'vc list', 'vc show <name>',
    '--state-dir', '--connect', '--virt', 'Examples:', 'vc save lab && diskless vc restore lab', 'libvirtd -d']) assert.match(r.out, s);
});

test('vc create --help shows the flags of the issue and declared files', () => {
  const r = vc(['create', '--help']);
  assert.is(r.code, 0);
  for (const s of ['--image', '--nodes', '--vcpus', '--memory', '--network', '--placement', '--cores', '--scratch', '--images', '--start', '--gateway', '-f, --file', 'vc create -f vc.yaml']) assert.match(r.out, s);
});

test('no verb, or a verb without its NAME: exit 2', () => {
  for (const args of [[], ['stop'], ['show'], ['create']]) {
    const r = vc([...args, '--state-dir', stateDir]);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.out}`);
    assert.match(r.out, /--help/);
  }
  assert.match(vc(['create', '--state-dir', stateDir]).out, /name the VC .*or declare it with -f vc\.yaml/);
});

test('a bad choice names the flag and its choices', () => {
  const r = vc(['create', 'lab', '--image', 'deb', '--nodes', '3', '--placement', 'diagonal', '--state-dir', stateDir]);
  assert.is(r.code, 2);
  assert.match(r.out, /placement/);
  assert.match(r.out, /block/);
  assert.match(r.out, /cyclic/);
  const v = vc(['start', 'lab', '--virt', 'xen', '--state-dir', stateDir]);
  assert.is(v.code, 2);
  assert.match(v.out, /virt/);
});

test('bad values name each flag, exit 2, and leave no state dir behind', () => {
  const r = vc(['create', 'Lab_1', '--image', 'deb', '--nodes', '0', '--memory', '3X', '--scratch', 'tape', '--network', '10.0.0.1/24', '--state-dir', stateDir]);
  assert.is(r.code, 2);
  for (const s of ['NAME:', '--nodes:', '--memory:', '--scratch:', '--network: 10.0.0.1/24 has host bits set']) assert.match(r.out, s);
  assert.match(r.out, /diskless vc create --help/);
  const small = vc(['create', 'lab', '--image', 'deb', '--nodes', '20', '--network', '10.9.0.0/28', '--state-dir', stateDir]);
  assert.is(small.code, 2);
  assert.match(small.out, /--network: 10\.9\.0\.0\/28 has 16 addresses; 20 VMs need 23/);
  assert.not.ok(existsSync(stateDir), 'nothing made');
});

test('-f takes the whole VC: NAME or VC flags beside it are refused', () => {
  const r = vc(['create', '-f', 'vc.yaml', '--nodes', '3', '--state-dir', stateDir]);
  assert.is(r.code, 2);
  assert.match(r.out, /-f declares the whole VC/);
});

test('a bad vc.yaml names the file, line and key', () => {
  const file = join(work, 'vc.yaml');
  writeFileSync(file, 'name: lab\nimage: deb\nnodes: 3\nmemory: lots\n');
  const r = vc(['create', '-f', file, '--state-dir', stateDir]);
  assert.is(r.code, 1);
  assert.match(r.out, `${file}:4`);
  assert.match(r.out, /memory/);
});

test('show of an unknown VC says so; list of none is an empty JSON array', () => {
  const r = vc(['show', 'nosuch', '--state-dir', stateDir]);
  assert.is(r.code, 1);
  assert.match(r.out, /no VC named nosuch; there are none/);
  const l = vc(['list', '--json', '--state-dir', stateDir]);
  assert.is(l.code, 0);
  assert.equal(JSON.parse(l.stdout), []);
});

test('stop --timeout must be seconds', () => {
  const r = vc(['stop', 'lab', '--timeout', '-3', '--state-dir', stateDir]);
  assert.is(r.code, 2);
  assert.match(r.out, /--timeout -3/);
});

test.run();
