// `diskless status` against three real `diskless serve` replicas, each in its own
// network namespace on one bridge, and a "node" namespace whose MAC is in the
// inventory. The node reports as a real one does: the initrd's root.sh `report` and the
// image's report-up script, run by busybox with its wget. Every replica then shows the
// node up; a sha256 failure shows red (in words, when piped) with its message; --json
// passes the schema; one replica SIGKILLed is shown dead within --dead-after; --watch
// redraws.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubTopology } from '../../host/bridge.js';
import { netnsAvailable, type Netns } from '../../host/netns.js';
import { ip } from '../../host/ip.js';
import { watchOutput } from '../../host/output.js';
import { makeImages } from '../../tools/images.js';
import { projectRoot } from '../../lib/paths.js';
import { ClusterViewSchema, type ClusterView } from '../../pxe/status/schema.js';
import { FileStore } from '../../vc/store/file.js';
import { need, needTool } from '../helpers/need.js';

const IPS = ['10.77.0.1', '10.77.0.2', '10.77.0.3'];
const NODE_IP = '10.77.0.11';
const MAC = '52:54:00:77:00:01';
const DEAD_AFTER = 4; // seconds
const inventory = `cluster: trio
version: 1
network:
  subnet: 10.77.0.0/24
  pool: { start: 10.77.0.100, end: 10.77.0.199 }
servers: [${IPS.join(', ')}]
defaults: { image: debian-bookworm-amd64 }
nodes:
  - { name: node01, mac: "${MAC}", ip: ${NODE_IP} }
  - { name: node02, mac: "52:54:00:77:00:02", ip: 10.77.0.12 }
`;
const CLI = join(projectRoot(), 'cli/diskless.ts');

/** `diskless ARGS` in namespace `ns`, awaited without blocking this process. */
function diskless(ns: Netns, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const c = ns.spawn(['node', '--import', 'tsx/esm', CLI, ...args], { cwd: projectRoot() });
  let out = '';
  let err = '';
  c.stdout!.on('data', (d) => (out += d));
  c.stderr!.on('data', (d) => (err += d));
  return new Promise((r) => c.on('close', (code) => r({ code, out, err })));
}

async function view(ns: Netns, replica: string, extra: string[] = []): Promise<ClusterView> {
  const r = await diskless(ns, ['status', '--replica', replica, '--json', ...extra]);
  assert.is(r.code, 0, r.err);
  return ClusterViewSchema.parse(JSON.parse(r.out));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('three replicas: the node reports up to all, a failure shows with its message, a killed replica is shown dead within --dead-after', async () => {
  need(netnsAvailable());
  needTool('busybox', 'busybox-static');
  const work = mkdtempSync(join(tmpdir(), 'dl-status-'));
  const img = makeImages({ rootBytes: 200_000 });
  const topo = hubTopology([...IPS, NODE_IP].map((a) => `${a}/24`));
  const node = topo.replicas[3]!;
  try {
    node.exec(ip.mac('eth0', MAC));
    const bin = join(work, 'bin');
    mkdirSync(bin);
    assert.is(spawnSync('busybox', ['--install', '-s', bin]).status, 0);
    const dirs = IPS.map((_, i) => {
      const d = join(work, `r${i}`);
      mkdirSync(join(d, 'images'), { recursive: true });
      writeFileSync(join(d, 'cluster.yaml'), inventory);
      return d;
    });
    cpSync(img.root, join(dirs[0]!, 'images'), { recursive: true, verbatimSymlinks: true });
    // Replica 0's host also has a virtual cluster in its state store.
    await new FileStore({ dir: join(dirs[0]!, 'vc') }).put('vc/lab', { spec: { name: 'lab' }, phase: 'ready', vms: [{ domain: 'lab-1', host: 'h1', desired: 'running' }] });
    const children = topo.replicas.slice(0, 3).map((ns, i) =>
      ns.spawn(
        ['node', '--import', 'tsx/esm', CLI, 'serve', '-i', join(dirs[i]!, 'cluster.yaml'), '--images', join(dirs[i]!, 'images'), '--no-dhcp', '--no-tftp',
          '--address', IPS[i]!, '--sync-interval', '1', '--dead-after', String(DEAD_AFTER), '--lease-file', join(dirs[i]!, 'leases.json'), '--vc-state', join(dirs[i]!, 'vc')],
        { cwd: projectRoot() },
      ),
    );
    const outs = children.map((c) => watchOutput(c));
    await Promise.all(outs.map((o, i) => o.waitFor(/serving cluster trio/, 60_000, `replica ${i}`)));
    // From the first replica, or from another that already has it: sync takes any peer that holds it.
    await Promise.all([1, 2].map((i) => outs[i]!.waitFor(/pulled from 10\.77\.0\.\d+, every artifact verified/, 60_000, `replica ${i} pulling the image`)));

    // The node: the initrd reports init, the image's report-up reports up, each to every replica.
    const servers = IPS.join(',');
    const initrd = node.exec(['busybox', 'sh', '-c', `PATH=${bin}; say() { :; }; . ${join(projectRoot(), 'overlays/initrd/root.sh')}; MAC=$(cat /sys/class/net/eth0/address); parse_cmdline diskless.servers=${servers}; report init`]);
    assert.is(initrd.code, 0, initrd.stderr);
    writeFileSync(join(work, 'cmdline'), `console=ttyS0 diskless.image=${img.name}/${img.version} diskless.servers=${servers} quiet\n`);
    const up = node.exec(['env', `DISKLESS_CMDLINE=${join(work, 'cmdline')}`, join(projectRoot(), 'overlays/base/rootfs/usr/lib/diskless/report-up')]);
    assert.is(up.code, 0, up.stderr);

    for (const r of IPS) {
      const v = await view(node, r);
      const n1 = v.nodes.find((n) => n.name === 'node01')!;
      assert.is(n1.phase, 'up', `${r}: ${JSON.stringify(n1)}`);
      assert.equal(n1.boot!.phases.map((p) => p.phase), ['init', 'up']);
      assert.is(v.nodes.find((n) => n.name === 'node02')!.phase, 'unknown');
      assert.is(v.replica, r);
    }
    const first = await view(node, IPS[0]!);
    assert.equal(first.replicas.map((r) => [r.address, r.live, r.self]), [[IPS[0], true, true], [IPS[1], true, false], [IPS[2], true, false]]);
    assert.ok(Math.abs(first.replicas.reduce((s, r) => s + r.poolShare, 0) - 1) < 1e-9, 'the pool is shared out whole');
    assert.equal(first.images.map((i) => [i.name, i.version, i.current, i.replicas.sort()]), [[img.name, img.version, true, [...IPS]]]);
    assert.ok(first.images[0]!.size! > 200_000);
    assert.equal(first.vcs, [{ name: 'lab', state: 'ready', vms: [{ name: 'lab-1', host: 'h1', state: 'running' }] }]);
    assert.is((await view(node, IPS[1]!)).vcs, undefined, 'no VC store on that host');

    // A refused root image, reported by the initrd: failing, with the message, in plain text when piped.
    const msg = `sha256 mismatch for http://${IPS[1]}/images/${img.name}/${img.version}/root.squashfs: refused`;
    node.exec(['busybox', 'sh', '-c', `PATH=${bin}; . ${join(projectRoot(), 'overlays/initrd/root.sh')}; MAC=$(cat /sys/class/net/eth0/address); SERVERS=${IPS[0]}; report sha256 "${msg}"`]);
    const text = await diskless(node, ['status', '--replica', IPS[0]!]);
    assert.is(text.code, 0, text.err);
    assert.not.match(text.out, /\x1b/, 'piped: no escape codes');
    assert.match(text.out, new RegExp(`\\nnode01\\s+${NODE_IP.replace(/\./g, '\\.')}\\s+\\S+\\s+kernel\\+initrd \\(failing\\).*sha256: ${msg.replace(/[./]/g, '\\$&')}\\n`));
    assert.match(text.out, /\n10\.77\.0\.3\s+live/);

    // SIGKILL replica 2: a view made --dead-after seconds after the kill shows it dead.
    process.kill(children[2]!.pid!, 'SIGKILL');
    const killedAt = Date.now();
    let dead: ClusterView | undefined;
    while (!dead && Date.now() - killedAt < 30_000) {
      const v = await view(node, IPS[0]!, ['--dead-after', String(DEAD_AFTER)]);
      const r2 = v.replicas.find((r) => r.address === IPS[2])!;
      const at = Date.parse(v.generatedAt);
      if (!r2.live) dead = v;
      else assert.ok(at - killedAt < DEAD_AFTER * 1000, `a view made ${at - killedAt} ms after the kill still shows ${IPS[2]} live (--dead-after ${DEAD_AFTER})`);
      if (!dead) await sleep(250);
    }
    assert.ok(dead, `${IPS[2]} never shown dead`);
    console.log(`replica shown dead in a view made ${Date.parse(dead.generatedAt) - killedAt} ms after its SIGKILL (--dead-after ${DEAD_AFTER} s)`);
    // The replica's own count (serve --dead-after) agrees soon after, and the text says so.
    let counted = false;
    while (!counted && Date.now() - killedAt < 30_000) {
      counted = !(await view(node, IPS[1]!)).replicas.find((r) => r.address === IPS[2])!.live;
      if (!counted) await sleep(250);
    }
    assert.ok(counted, 'replica 1 counts replica 2 dead');
    assert.match((await diskless(node, ['status', '--replica', IPS[1]!])).out, /\n10\.77\.0\.3\s+dead/);
    // Replica 1 merges the live peers' node views: the failure replica 0 heard is the freshest.
    const merged = (await view(node, IPS[1]!)).nodes.find((n) => n.name === 'node01')!;
    assert.equal([merged.phase, merged.failed, merged.seenBy, merged.failures.at(-1)?.message], ['kernel', true, IPS[0], msg]);

    // --watch, piped: one whole frame after another.
    const w = node.spawn(['node', '--import', 'tsx/esm', CLI, 'status', '--replica', IPS[0]!, '--watch', '--interval', '0.5'], { cwd: projectRoot() });
    const wo = watchOutput(w);
    await wo.waitFor(/cluster trio[\s\S]*IMAGES[\s\S]*cluster trio[\s\S]*IMAGES/, 60_000, 'two frames of --watch');
    process.kill(w.pid!, 'SIGTERM');
  } finally {
    await topo.destroy();
    rmSync(work, { recursive: true, force: true });
    rmSync(img.root, { recursive: true, force: true });
  }
});

test('bad flags and an unreachable replica are named, with the fix', async () => {
  const run = (args: string[]) => spawnSync('node', ['--import', 'tsx/esm', CLI, 'status', ...args], { cwd: projectRoot(), encoding: 'utf8' });
  const bad = run(['--replica', 'http://x/']);
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--replica http:\/\/x\/: give HOST or HOST:PORT/);
  const none = run(['--replica', '127.0.0.1:1']);
  assert.is(none.status, 1);
  assert.match(none.stderr, /cannot get the cluster view from 127\.0\.0\.1:1: .*is diskless serve running there/);
  const schema = run(['--schema']);
  assert.is(schema.status, 0);
  assert.ok(JSON.parse(schema.stdout).properties.nodes);
});

test.run();
