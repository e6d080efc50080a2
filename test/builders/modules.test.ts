import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  filterModulesAlias, moduleName, parseModulesBuiltin, parseModulesDep, renderModulesDep, resolveModules, MissingModulesError,
} from '../../builders/modules.js';

// test/fixtures/modules/ is cut from Debian bookworm's 6.1 kernel (see README there).
const fx = (f: string) => readFileSync(join(import.meta.dirname, '../fixtures/modules', f), 'utf8');
const dep = parseModulesDep(fx('modules.dep'));
const builtin = parseModulesBuiltin(fx('modules.builtin'));

test('module names: - and _ are the same, compression suffixes dropped', () => {
  assert.is(moduleName('kernel/drivers/net/virtio_net.ko'), 'virtio_net');
  assert.is(moduleName('kernel/fs/nls/nls-utf8.ko.zst'), 'nls_utf8');
  assert.is(moduleName('af-packet'), 'af_packet');
});

test('closure pulls every dependency, dependencies before dependants', () => {
  const plan = resolveModules(dep, builtin, ['virtio_net', 'erofs']);
  const names = plan.modules.map((m) => m.name);
  for (const n of ['virtio_net', 'net_failover', 'failover', 'virtio_ring', 'virtio', 'erofs', 'libcrc32c']) {
    assert.ok(names.includes(n), `${n} in closure`);
  }
  assert.ok(names.indexOf('failover') < names.indexOf('net_failover'));
  assert.ok(names.indexOf('net_failover') < names.indexOf('virtio_net'));
  assert.ok(names.indexOf('libcrc32c') < names.indexOf('erofs'));
  assert.is(new Set(names).size, names.length, 'no module twice');
});

test('shared dependencies appear once; a deep chain is ordered', () => {
  const plan = resolveModules(dep, builtin, ['ixgbe', 'igb']);
  const names = plan.modules.map((m) => m.name);
  assert.is(names.filter((n) => n === 'dca').length, 1);
  assert.ok(names.indexOf('libphy') < names.indexOf('mdio_devres'));
  assert.ok(names.indexOf('mdio_devres') < names.indexOf('ixgbe'));
});

test('built-in modules are accepted and shipped as nothing', () => {
  const plan = resolveModules(dep, builtin, ['unix', 'af_packet']);
  assert.equal(plan.builtin, ['af_packet', 'unix']);
  assert.is(plan.modules.length, 0);
});

test('a missing required module is an error naming it; a missing optional one is reported', () => {
  try {
    resolveModules(dep, builtin, ['squashfs', 'no_such_nic']);
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, MissingModulesError);
    assert.match((err as Error).message, "'no_such_nic'");
  }
  const plan = resolveModules(dep, builtin, ['squashfs'], ['no_such_nic', 'tg3']);
  assert.equal(plan.missingOptional, ['no_such_nic']);
  assert.ok(plan.modules.some((m) => m.name === 'libphy'));
});

test('a dependency cycle is reported, not looped on', () => {
  const cyc = parseModulesDep('a.ko: b.ko\nb.ko: a.ko\n');
  assert.throws(() => resolveModules(cyc, new Set(), ['a']), /cycle: a -> b -> a/);
});

test('malformed modules.dep names the line', () => {
  assert.throws(() => parseModulesDep('kernel/a.ko:\nkernel/b.ko kernel/c.ko\n'), /line 2/);
});

test('the initrd modules.dep lists only shipped modules with their full closure', () => {
  const plan = resolveModules(dep, builtin, ['virtio_net']);
  const text = renderModulesDep(plan.modules, (m) => m.path);
  const line = text.split('\n').find((l) => l.startsWith('kernel/drivers/net/virtio_net.ko:'))!;
  for (const d of ['net_failover.ko', 'failover.ko', 'virtio_ring.ko', 'virtio.ko']) assert.match(line, d);
  assert.not.match(text, 'ixgbe');
  const parsed = parseModulesDep(text);
  assert.is(parsed.size, plan.modules.length);
});

test('modules.alias is filtered to shipped modules', () => {
  const out = filterModulesAlias('alias pci:v00001AF4d00001000* virtio_net\nalias pci:v00008086d0000100E* e1000\n# comment\n', new Set(['virtio_net']));
  assert.is(out, 'alias pci:v00001AF4d00001000* virtio_net\n');
});

test.run();
