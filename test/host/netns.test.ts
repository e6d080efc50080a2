// Namespaces, veth links, bridges and taps made for real (needs root): what they
// set up is there, a failing command names itself, and destroy() removes it all
// and ends what was started inside.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLink, createNetns, netnsAvailable } from '../../host/netns.js';
import { bootNetwork, hubTopology } from '../../host/bridge.js';
import { watchOutput } from '../../host/output.js';
import { runSync } from '../../lib/run.js';
import { need } from '../helpers/need.js';

const skip = netnsAvailable();
const namespaces = () => runSync(['ip', 'netns', 'list']).stdout;

test('a link: two namespaces, the server address on one end, the other end up; destroy removes both', async () => {
  need(skip);
  const link = createLink({ serverCidr: '10.79.0.1/24', clientCidr: '10.79.0.2/24', clientMac: '02:00:00:79:00:02' });
  try {
    assert.is(link.serverIp, '10.79.0.1');
    assert.match(link.server.exec(['ip', '-o', 'addr', 'show', 'dev', link.serverIf]).stdout, /inet 10\.79\.0\.1\/24/);
    assert.match(link.client.exec(['ip', '-o', 'link', 'show', 'dev', link.clientIf]).stdout, /link\/ether 02:00:00:79:00:02/);
    assert.is(link.client.exec(['busybox', 'ping', '-c', '1', '-W', '2', '10.79.0.1'], { allowFail: true }).code, 0);
    assert.ok(namespaces().includes(link.server.name));
  } finally {
    await link.destroy();
  }
  assert.not.ok(namespaces().includes(link.server.name));
  assert.not.ok(namespaces().includes(link.client.name));
});

test('exec: a failing command throws with its command line and stderr; allowFail returns the code', async () => {
  need(skip);
  const ns = createNetns('t');
  try {
    assert.throws(() => ns.exec(['ip', 'link', 'set', 'nosuchdev', 'up']), (e: Error) => e.message.includes(`ip netns exec ${ns.name} ip link set nosuchdev up`) && /nosuchdev/i.test(e.message.split('stderr')[1] ?? ''));
    assert.is(ns.exec(['sh', '-c', 'exit 7'], { allowFail: true }).code, 7);
    assert.is(ns.exec(['cat'], { input: 'in' }).stdout, 'in');
  } finally {
    await ns.destroy();
  }
});

test('spawn: runs inside the namespace; destroy ends it by PID', async () => {
  need(skip);
  const ns = createNetns('t');
  const child = ns.spawn(['sh', '-c', 'ip -o link show; echo started; sleep 60']);
  const out = watchOutput(child);
  await out.waitFor(/started/, 5000, 'the child');
  assert.not.match(out.log(), /eth0|br0|dls/, 'only the namespace\'s own loopback is visible');
  assert.match(out.log(), /lo:/);
  const exited = new Promise((r) => child.once('exit', r));
  await ns.destroy();
  await exited;
  assert.ok(child.exitCode !== null || child.signalCode !== null);
  assert.is(ns.children.size, 0);
});

test('boot network: br0 holds the server address, taps tap0..n-1 are on it', async () => {
  need(skip);
  const ns = createNetns('t');
  try {
    assert.equal(bootNetwork(ns, '10.79.1.1/24', 2), ['tap0', 'tap1']);
    assert.match(ns.exec(['ip', '-o', 'addr', 'show', 'dev', 'br0']).stdout, /inet 10\.79\.1\.1\/24/);
    for (const tap of ['tap0', 'tap1']) assert.match(ns.exec(['ip', '-o', 'link', 'show', 'dev', tap]).stdout, /master br0/);
  } finally {
    await ns.destroy();
  }
});

test('hub: replicas reach each other and the bridge address through br0', async () => {
  need(skip);
  const topo = hubTopology(['10.79.2.1/24', '10.79.2.2/24'], '10.79.2.100/24');
  try {
    assert.is(topo.replicas.length, 2);
    const ping = (i: number, to: string) => topo.replicas[i]!.exec(['busybox', 'ping', '-c', '1', '-W', '2', to], { allowFail: true }).code;
    assert.is(ping(0, '10.79.2.2'), 0);
    assert.is(ping(1, '10.79.2.100'), 0);
  } finally {
    await topo.destroy();
  }
  assert.not.ok(namespaces().includes(topo.hub.name));
});

test.run();
