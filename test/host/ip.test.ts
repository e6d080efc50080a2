// The iproute2 and nftables text the host code runs, built by pure functions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ip, lossRules } from '../../host/ip.js';
import { radvdArgv, radvdConf } from '../../host/radvd.js';

test('namespace commands', () => {
  assert.equal(ip.netnsAdd('dl-1-1-srv'), ['ip', 'netns', 'add', 'dl-1-1-srv']);
  assert.equal(ip.netnsDel('dl-1-1-srv'), ['ip', 'netns', 'del', 'dl-1-1-srv']);
  assert.equal(ip.netnsExec('dl-1-1-srv', ['ip', 'link', 'set', 'lo', 'up']), ['ip', 'netns', 'exec', 'dl-1-1-srv', 'ip', 'link', 'set', 'lo', 'up']);
});

test('a veth pair is made with each end already in its namespace', () => {
  assert.equal(ip.veth({ name: 'hub0', netns: 'H' }, { name: 'eth0', netns: 'R' }), [
    'ip', 'link', 'add', 'hub0', 'netns', 'H', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', 'R',
  ]);
});

test('bridge, tap, address, up, master, MAC', () => {
  assert.equal(ip.bridge('br0'), ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
  assert.equal(ip.tap('tap0'), ['ip', 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap']);
  assert.equal(ip.addr('10.77.0.1/24', 'br0'), ['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'br0']);
  assert.equal(ip.flush('eth0'), ['ip', 'addr', 'flush', 'dev', 'eth0']);
  assert.equal(ip.up('tap0'), ['ip', 'link', 'set', 'tap0', 'up']);
  assert.equal(ip.master('tap0', 'br0'), ['ip', 'link', 'set', 'tap0', 'master', 'br0']);
  assert.equal(ip.mac('dlc1', '52:54:00:00:00:01'), ['ip', 'link', 'set', 'dlc1', 'address', '52:54:00:00:00:01']);
});

test('loss rules drop N per mille on the egress hook, or on ingress as the fallback', () => {
  const egress = lossRules('dls3', 5, 'egress');
  assert.ok(egress.includes('chain egress { type filter hook egress device "dls3" priority 0; numgen random mod 1000 < 5 drop; }'), egress);
  assert.ok(egress.startsWith('table netdev dlloss {'));
  const ingress = lossRules('dls3', 5, 'ingress');
  assert.ok(ingress.includes('chain ingress { type filter hook ingress device "dls3"'), ingress);
  assert.not.ok(ingress.includes('egress'));
});

test('radvd: advertises on the bridge with router lifetime 0, runs in the foreground', () => {
  const conf = radvdConf('br0');
  assert.ok(conf.startsWith('interface br0 {'));
  assert.ok(conf.includes('AdvDefaultLifetime 0;'));
  assert.ok(conf.includes('prefix fd77::/64 { AdvOnLink on; AdvAutonomous on; };'));
  assert.equal(radvdArgv('/w/radvd.conf'), ['radvd', '--nodaemon', '--config', '/w/radvd.conf', '--pidfile', '/w/radvd.conf.pid', '--logmethod', 'stderr']);
});

test.run();
