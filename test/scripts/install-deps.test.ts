// scripts/install-deps.sh checks Node.js before anything else: a node too old for
// yargs (Debian 12's 18.20.4) stops it with the fix named, and nothing is installed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths.js';

function withFakes(nodeVersion: string | undefined) {
  const bin = mkdtempSync(join(tmpdir(), 'dl-deps-'));
  const calls = join(bin, 'calls');
  const fake = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  if (nodeVersion) fake('node', `echo ${nodeVersion}`);
  for (const tool of ['apt-get', 'sudo', 'service', 'tee']) fake(tool, `echo ${tool} "$@" >> ${calls}`);
  // Only the fakes and the shell's basics: a real node or apt-get on PATH must not be found.
  for (const tool of ['sort', 'head', 'printf', 'id', 'chmod', 'rm']) {
    const real = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (real.startsWith('/')) fake(tool, `exec ${real} "$@"`);
  }
  const r = spawnSync('/bin/bash', [join(projectRoot(), 'scripts/install-deps.sh')], { env: { PATH: bin, HOME: bin }, encoding: 'utf8' });
  const installed = existsSync(calls);
  rmSync(bin, { recursive: true, force: true });
  return { code: r.status, err: r.stderr, installed };
}

test('node 18.20.4 (Debian 12): stops first, naming the version needed and how to get it', () => {
  const r = withFakes('18.20.4');
  assert.is(r.code, 1);
  assert.match(r.err, /needs Node\.js >= 20\.19\.0/);
  assert.match(r.err, /is 18\.20\.4/);
  assert.match(r.err, /NodeSource|nvm/);
  assert.not.ok(r.installed, 'nothing installed before the check');
});

test('no node at all: the same message', () => {
  const r = withFakes(undefined);
  assert.is(r.code, 1);
  assert.match(r.err, /no node on PATH/);
  assert.not.ok(r.installed);
});

test('node 20.19.0 passes the check and goes on to apt-get', () => {
  const r = withFakes('20.19.0');
  assert.ok(r.installed, `apt-get should run after the check: ${r.err}`);
});

test.run();
