// The trim step: which locales stay (a table), which modules go with the folders the
// template names (and whatever needs them), and the step on a fixture root.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { localeKept, modulesToDrop } from '../../builders/trim.js';
import { parseModulesDep } from '../../builders/modules.js';
import { trim } from '../../builders/steps/trim.js';
import { TRIM_DEFAULTS } from '../../builders/weight.js';
import { memoryLogger } from '../../lib/log.js';
import type { BuildContext } from '../../builders/context.js';
import type { Template } from '../../builders/template.js';

const work = mkdtempSync(join(tmpdir(), 'diskless-trim-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

test('locales: C and POSIX always stay; a kept name keeps its language and territory', () => {
  const table: [string, string[], boolean][] = [
    ['C.utf8', [], true],
    ['C.UTF-8', [], true],
    ['POSIX', [], true],
    ['de', [], false],
    ['de', ['de_DE.UTF-8'], true], // the translations gettext falls back to
    ['de_DE.utf8', ['de_DE.UTF-8'], true],
    ['de_AT', ['de_DE'], false],
    ['de_AT', ['de'], true],
    ['sr@latin', ['sr'], true],
    ['en_GB', ['de'], false],
    ['locale.alias', [], true], // not a locale folder
  ];
  for (const [name, keep, kept] of table) assert.is(localeKept(name, keep), kept, `${name} with keep [${keep}]`);
});

test('trim.modules: the folders named, and every module that needs one of theirs', () => {
  const dep = parseModulesDep([
    'kernel/sound/core/snd.ko.zst: kernel/sound/soundcore.ko.zst',
    'kernel/sound/soundcore.ko.zst:',
    'kernel/sound/pci/hda/snd-hda-intel.ko.zst: kernel/sound/core/snd.ko.zst',
    'kernel/drivers/net/wireless/intel/iwlwifi/iwlwifi.ko.zst: kernel/net/wireless/cfg80211.ko.zst',
    'kernel/net/wireless/cfg80211.ko.zst:',
    'kernel/drivers/platform/x86/think-lmi.ko.zst: kernel/drivers/net/wireless/intel/iwlwifi/iwlwifi.ko.zst',
    'kernel/drivers/platform/x86/needs-lmi.ko.zst: kernel/drivers/platform/x86/think-lmi.ko.zst',
    'kernel/drivers/net/ethernet/intel/e1000/e1000.ko.zst:',
  ].join('\n'));
  const names = (folders: string[]) => modulesToDrop(dep, folders).map((m) => m.name);
  assert.equal(names(['kernel/drivers/net/wireless']), ['iwlwifi', 'needs_lmi', 'think_lmi']);
  assert.equal(names(['kernel/sound/pci/']), ['snd_hda_intel'], 'the sound core stays');
  assert.equal(names([]), []);
  assert.equal(names(['kernel/sound']), ['snd', 'snd_hda_intel', 'soundcore']);
});

function fixtureRoot(): string {
  const root = join(work, 'root');
  const put = (p: string, data = 'x'.repeat(100)) => {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), data);
  };
  for (const p of ['usr/share/doc/bash/copyright', 'usr/share/info/dir', 'usr/share/man/man1/ls.1.gz', 'usr/share/locale/de/LC_MESSAGES/x.mo',
    'usr/share/locale/fr/LC_MESSAGES/x.mo', 'usr/share/locale/locale.alias', 'usr/lib/locale/C.utf8/LC_CTYPE', 'usr/lib/locale/locale-archive',
    'var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease', 'var/lib/apt/lists/lock', 'boot/vmlinuz-6.1.0-test', 'boot/System.map-6.1.0-test',
    'boot/config-6.1.0-test']) put(p);
  mkdirSync(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
  symlinkSync('boot/vmlinuz-6.1.0-test', join(root, 'vmlinuz'));
  symlinkSync('boot/vmlinuz-6.1.0-old', join(root, 'vmlinuz.old')); // dangling already: not ours to judge, but harmless to drop
  return root;
}

test('the trim step: docs, man, locales but C and the kept, apt lists, and /boot kernel gone; sizes reported', async () => {
  const root = fixtureRoot();
  const template = { trim: { ...TRIM_DEFAULTS, keepLocales: ['de_DE.UTF-8'] }, file: '/t/template.yaml' } as unknown as Template;
  const ctx = { root, template, log: memoryLogger(), signal: new AbortController().signal } as unknown as BuildContext;
  const lines: string[] = [];
  const facts = { kernel: { version: '6.1.0-test', file: join(root, 'boot/vmlinuz-6.1.0-test') }, artifacts: { kernel: 'vmlinuz' } };
  const { trimmed } = await trim.run(ctx, facts, { note: (l) => lines.push(l), detail: () => {}, progress: () => {} });
  assert.equal(readdirSync(join(root, 'usr/share/doc')), []);
  assert.equal(readdirSync(join(root, 'usr/share/info')), []);
  assert.equal(readdirSync(join(root, 'usr/share/man')), []);
  assert.equal(readdirSync(join(root, 'usr/share/locale')).sort(), ['de', 'locale.alias']);
  assert.equal(readdirSync(join(root, 'usr/lib/locale')).sort(), ['C.utf8', 'locale-archive'], 'locale-archive stays while a locale is kept');
  assert.equal(readdirSync(join(root, 'var/lib/apt/lists')).sort(), ['lock', 'partial']);
  assert.equal(readdirSync(join(root, 'boot')), ['config-6.1.0-test']);
  assert.is(lstatSync(join(root, 'vmlinuz'), { throwIfNoEntry: false }), undefined, 'the dangling /vmlinuz link goes');
  assert.equal(trimmed.docs, { files: 2, bytes: 200 });
  assert.equal(trimmed.locales, { files: 1, bytes: 100 });
  assert.equal(trimmed.bootKernel, { files: 2, bytes: 200 });
  assert.equal(trimmed.modules, { files: 0, bytes: 0 });
  assert.match(lines.join('\n'), /left out 0\.0 MB: docs 0\.0 MB, man 0\.0 MB, locales 0\.0 MB, aptLists 0\.0 MB, bootKernel 0\.0 MB; kept modules/);
});

test('trim: false everywhere leaves the root alone', async () => {
  rmSync(join(work, 'root'), { recursive: true, force: true });
  const root = fixtureRoot();
  const off = { docs: false, man: false, locales: false, keepLocales: [], aptLists: false, bootKernel: false, modules: [] };
  const ctx = { root, template: { trim: off } as unknown as Template, log: memoryLogger() } as unknown as BuildContext;
  const facts = { kernel: { version: '6.1.0-test', file: join(root, 'boot/vmlinuz-6.1.0-test') }, artifacts: { kernel: 'vmlinuz' } };
  const { trimmed } = await trim.run(ctx, facts, { note: () => {}, detail: () => {}, progress: () => {} });
  assert.ok(Object.values(trimmed).every((f) => f.files === 0));
  assert.ok(existsSync(join(root, 'usr/share/doc/bash/copyright')) && existsSync(join(root, 'boot/vmlinuz-6.1.0-test')));
});

test.run();
