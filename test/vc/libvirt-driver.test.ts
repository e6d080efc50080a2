// The libvirt driver's command logic with a fake `virsh` first on PATH: it records each
// argv (and the XML file it was handed) and answers from canned files, so every
// operation's exact command line and every error path is checked without a daemon.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LibvirtDownError, LibvirtDriver } from '../../vc/drivers/libvirt.js';
import { DRIVERS, driverFor } from '../../vc/drivers/index.js';
import type { VmDef } from '../../vc/drivers/driver.js';
import { probeKvm } from '../../host/qemu.js';
import { parseList, parseNodeInfo, renderDomainXml, renderNetworkXml, virtTypeFromCapabilities } from '../../vc/drivers/libvirt-xml.js';
import { CommandError } from '../../lib/run.js';
import { needTool } from '../helpers/need.js';

const dir = mkdtempSync(join(tmpdir(), 'fake-virsh-'));
const bin = join(dir, 'bin');
const state = join(dir, 'state');
mkdirSync(bin);
// argv[4] is the subcommand (virsh -q -c URI CMD ...); out-CMD.N answers the Nth call, out-CMD any call.
writeFileSync(join(bin, 'virsh'), `#!/bin/sh
d="$FAKE_VIRSH_DIR"
{ for a in "$@"; do printf '%s\\037' "$a"; done; printf '\\n'; } >> "$d/argv"
cmd=$4
n=$(( $(cat "$d/count-$cmd" 2>/dev/null || echo 0) + 1 )); echo $n > "$d/count-$cmd"
case "$cmd" in define|net-define) cp "$5" "$d/last-$cmd.xml";; esac
if [ -f "$d/fail-$cmd" ]; then cat "$d/fail-$cmd" >&2; exit 1; fi
if [ -f "$d/out-$cmd.$n" ]; then cat "$d/out-$cmd.$n"; elif [ -f "$d/out-$cmd" ]; then cat "$d/out-$cmd"; fi
exit 0
`);
chmodSync(join(bin, 'virsh'), 0o755);
const realPath = process.env.PATH ?? '';
process.env.PATH = `${bin}:${realPath}`;
process.env.FAKE_VIRSH_DIR = state;

const V = ['virsh', '-q', '-c', 'qemu:///system'];
const DOWN = "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory\n";

function reset(files: Record<string, string> = {}): void {
  rmSync(state, { recursive: true, force: true });
  mkdirSync(state);
  for (const [f, text] of Object.entries(files)) writeFileSync(join(state, f), text);
}
const calls = (): string[][] =>
  existsSync(join(state, 'argv')) ? readFileSync(join(state, 'argv'), 'utf8').trimEnd().split('\n').map((l) => l.split('\x1f').slice(0, -1)) : [];
const argvs = () => calls().map((a) => ['virsh', ...a]);

const vm: VmDef = {
  domainName: 'vc1-0', vcpus: 1, memoryBytes: 256 * 1024 * 1024, kernel: '/i/vmlinuz', initrd: '/i/initrd.img',
  cmdline: 'console=ttyS0', rootImage: '/i/root.squashfs', scratch: { kind: 'disk', path: '/v/vc1-0.qcow2' },
  mac: '52:54:00:00:00:02', network: 'diskless-vc1', consoleLog: '/v/vc1-0.log',
};
const fakeClock = () => {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
};

test.after(() => {
  process.env.PATH = realPath;
  rmSync(dir, { recursive: true, force: true });
});

test('define: the rendered XML handed to virsh define in a file removed afterwards', async () => {
  reset();
  await new LibvirtDriver({ virtType: 'qemu' }).define(vm);
  const [call] = argvs();
  assert.equal(call!.slice(0, 5), [...V, 'define']);
  assert.match(call![5]!, /\/vc1-0\.xml$/);
  assert.not.ok(existsSync(call![5]!), 'the temporary XML file is gone');
  assert.is(readFileSync(join(state, 'last-define.xml'), 'utf8'), renderDomainXml(vm, 'qemu'));
  assert.is(calls().length, 1, 'the override needs no capabilities call');
});

test('the domain type comes from the capabilities once, then is remembered', async () => {
  reset({ 'out-capabilities': "<capabilities><guest><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>" });
  const d = new LibvirtDriver({ uri: 'qemu+tcp://h2/system' });
  await d.define(vm);
  await d.define(vm);
  assert.equal(argvs().map((a) => a[4]), ['capabilities', 'define', 'define']);
  assert.match(readFileSync(join(state, 'last-define.xml'), 'utf8'), "<domain type='kvm'>");
});

test('on this machine, kvm also needs VT-x/AMD-V in the CPU flags (a nested host offers /dev/kvm without it)', async () => {
  reset({ 'out-capabilities': "<capabilities><guest><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>" });
  assert.is(await new LibvirtDriver().virtType(), probeKvm().hardwareVirt ? 'kvm' : 'qemu');
});

test('each domain operation is one virsh command', async () => {
  reset({ 'out-domstate': 'paused\n\n' });
  const d = new LibvirtDriver({ uri: 'qemu+tcp://h2/system' });
  await d.start('vc1-0');
  await d.destroy('vc1-0');
  await d.undefine('vc1-0');
  await d.suspend('vc1-0');
  await d.resume('vc1-0');
  await d.save('vc1-0', '/v/vc1-0.save');
  await d.restore('/v/vc1-0.save', { paused: true });
  await d.restore('/v/vc1-0.save');
  assert.is(await d.state('vc1-0'), 'paused');
  const U = ['virsh', '-q', '-c', 'qemu+tcp://h2/system'];
  assert.equal(argvs(), [
    [...U, 'start', 'vc1-0'],
    [...U, 'destroy', 'vc1-0'],
    [...U, 'undefine', 'vc1-0'],
    [...U, 'suspend', 'vc1-0'],
    [...U, 'resume', 'vc1-0'],
    [...U, 'save', 'vc1-0', '/v/vc1-0.save'],
    [...U, 'restore', '/v/vc1-0.save', '--paused'],
    [...U, 'restore', '/v/vc1-0.save'],
    [...U, 'domstate', 'vc1-0'],
  ]);
});

test('networks: define then start, destroy then undefine, list by name', async () => {
  reset({ 'out-net-list': 'default\ndiskless-vc1\n\n' });
  const d = new LibvirtDriver();
  const net = { name: 'diskless-vc1', bridge: 'dlvc1' };
  await d.defineNetwork(net);
  await d.destroyNetwork('diskless-vc1');
  assert.equal(await d.listNetworks(), ['default', 'diskless-vc1']);
  const a = argvs();
  assert.equal(a[0]!.slice(0, 5), [...V, 'net-define']);
  assert.equal(a.slice(1), [
    [...V, 'net-start', 'diskless-vc1'],
    [...V, 'net-destroy', 'diskless-vc1'],
    [...V, 'net-undefine', 'diskless-vc1'],
    [...V, 'net-list', '--all', '--name'],
  ]);
  assert.is(readFileSync(join(state, 'last-net-define.xml'), 'utf8'), renderNetworkXml(net));
});

test('list and node info are parsed from what virsh prints', async () => {
  reset({
    'out-list': ' 3    vc1-0   running\n -    vc1-1   shut off\n 5    vc1-2   paused\n\n',
    'out-nodeinfo': 'CPU model:           x86_64\nCPU(s):              4\nCPU frequency:       2596 MHz\nMemory size:         11626268 KiB\n\n',
  });
  const d = new LibvirtDriver();
  assert.equal(await d.list(), [
    { name: 'vc1-0', state: 'running' },
    { name: 'vc1-1', state: 'shut off' },
    { name: 'vc1-2', state: 'paused' },
  ]);
  assert.equal(await d.nodeInfo(), { cores: 4, memoryBytes: 11626268 * 1024 });
  assert.equal(argvs(), [[...V, 'list', '--all'], [...V, 'nodeinfo']]);
});

test('shutdown: ACPI, then polls the state until the domain is off', async () => {
  reset({ 'out-domstate.1': 'running\n', 'out-domstate.2': 'in shutdown\n', 'out-domstate': 'shut off\n' });
  assert.is(await new LibvirtDriver({ ...fakeClock() }).shutdown('vc1-0', 10_000), 'shutdown');
  assert.equal(argvs(), [[...V, 'shutdown', 'vc1-0', '--mode', 'acpi'], ...Array(3).fill([...V, 'domstate', 'vc1-0'])]);
});

test('shutdown: powered off when the timeout passes', async () => {
  reset({ 'out-domstate': 'running\n' });
  assert.is(await new LibvirtDriver({ ...fakeClock() }).shutdown('vc1-0', 1000), 'destroyed');
  const a = argvs();
  assert.equal(a[a.length - 1], [...V, 'destroy', 'vc1-0']);
  assert.is(a.filter((c) => c[4] === 'domstate').length, 5, 'polled every 250 ms for 1 s');
});

test('repeatable operations treat "already so" as done', async () => {
  const d = new LibvirtDriver();
  reset({ 'fail-destroy': "error: Failed to destroy domain 'vc1-0'\nerror: Requested operation is not valid: domain is not running\n" });
  await d.destroy('vc1-0');
  reset({ 'fail-undefine': "error: failed to get domain 'vc1-0'\n" });
  await d.undefine('vc1-0');
  reset({ 'fail-start': "error: Domain 'vc1-0' is already active\n" });
  await d.start('vc1-0');
  reset({ 'fail-net-destroy': "error: failed to get network 'n'\nerror: Network not found: no network with matching name 'n'\n", 'fail-net-undefine': "error: failed to get network 'n'\n" });
  await d.destroyNetwork('n');
  reset({ 'fail-domstate': "error: failed to get domain 'vc1-0'\n" });
  assert.is(await d.state('vc1-0'), undefined);
});

test('other failures carry the command line and virsh\'s words', async () => {
  reset({ 'fail-suspend': "error: Failed to suspend domain 'vc1-0'\nerror: internal error: something broke\n" });
  try {
    await new LibvirtDriver().suspend('vc1-0');
    assert.unreachable('suspend should have failed');
  } catch (err) {
    assert.instance(err, CommandError);
    assert.match((err as Error).message, 'virsh -q -c qemu:///system suspend vc1-0');
    assert.match((err as Error).message, 'something broke');
  }
});

test('libvirtd not running: a LibvirtDownError that says how to start it', async () => {
  for (const cmd of ['list', 'define']) {
    reset({ [`fail-${cmd}`]: DOWN });
    const d = new LibvirtDriver({ virtType: 'qemu' });
    const err = await (cmd === 'list' ? d.list() : d.define(vm)).then(() => undefined, (e: unknown) => e);
    assert.instance(err, LibvirtDownError);
    assert.match((err as Error).message, 'libvirt is not running (virsh could not connect to qemu:///system)');
    assert.match((err as Error).message, 'Start it as root with: virtlogd -d; libvirtd -d');
  }
});

test('the real virsh, on a socket where no daemon listens, gives the same error', async () => {
  needTool('virsh', 'libvirt-clients');
  process.env.PATH = realPath;
  try {
    const uri = `qemu:///system?socket=${join(dir, 'no-such.sock')}`;
    const err = await new LibvirtDriver({ uri }).list().then(() => undefined, (e: unknown) => e);
    assert.instance(err, LibvirtDownError);
    assert.match((err as Error).message, 'virtlogd -d; libvirtd -d');
  } finally {
    process.env.PATH = `${bin}:${realPath}`;
  }
});

test('no virsh at all: the package to install', async () => {
  process.env.PATH = join(dir, 'empty');
  try {
    const err = await new LibvirtDriver().list().then(() => undefined, (e: unknown) => e);
    assert.match((err as Error).message, 'apt-get install libvirt-clients');
  } finally {
    process.env.PATH = `${bin}:${realPath}`;
  }
});

test('parsers: odd lines ignored, unknown states named, kvm only for x86_64 guests', () => {
  assert.equal(parseList(' 7    a   crashed\n -    b   some new state\n\n'), [{ name: 'a', state: 'crashed' }, { name: 'b', state: 'unknown' }]);
  assert.throws(() => parseNodeInfo('CPU model: x86_64\n'), /no CPU count or memory size/);
  assert.is(virtTypeFromCapabilities("<guest><arch name='i686'><domain type='kvm'/></arch></guest><guest><arch name='x86_64'><domain type='qemu'/></arch></guest>"), 'qemu');
  assert.is(virtTypeFromCapabilities("<guest><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest>"), 'kvm');
  // A nested host offers kvm without VT-x/AMD-V: TCG there.
  assert.is(virtTypeFromCapabilities("<guest><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest>", false), 'qemu');
});

test('DRIVERS: libvirt registered, unknown names refused with the list', () => {
  assert.ok(Object.keys(DRIVERS).includes('libvirt'));
  assert.instance(driverFor('libvirt'), LibvirtDriver);
  assert.throws(() => driverFor('vmware'), /unknown VC driver 'vmware': one of libvirt/);
});

test.run();
