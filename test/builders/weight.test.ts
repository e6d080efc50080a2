// Template keys firmware: and trim:: defaults, the short form, and errors that name the line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TemplateSchema } from '../../builders/template.js';
import { parseYaml, ConfigError } from '../../lib/yamlfile.js';
import { defaultTemplatesDir } from '../../lib/paths.js';
import { loadTemplate } from '../../builders/template.js';

const base = 'name: x\nbootstrap: {method: tarball, suite: s}\nkernel: {package: k}\ninitrd: {modules: {required: [a]}}\nwritable: [{path: /etc}]\n';
const parse = (extra: string) => parseYaml(base + extra, 't.yaml', TemplateSchema);
const problems = (extra: string): string[] => {
  try {
    parse(extra);
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as ConfigError).problems;
  }
  return assert.unreachable('should not parse') as never;
};

test('defaults: the firmware closure, and every kind of trim on', () => {
  const t = parse('');
  assert.equal(t.firmware, { mode: 'closure', keep: [] });
  assert.equal(t.trim, { docs: true, man: true, locales: true, keepLocales: [], aptLists: true, bootKernel: true, modules: [] });
});

test('firmware: the short form is the mode; the long form adds keep globs', () => {
  assert.equal(parse('firmware: all\n').firmware, { mode: 'all', keep: [] });
  assert.equal(parse('firmware: {keep: [intel/ice/ddp/*.pkg]}\n').firmware, { mode: 'closure', keep: ['intel/ice/ddp/*.pkg'] });
  assert.equal(parse('trim: {docs: false, keepLocales: [de, pt_BR, en_US.UTF-8]}\n').trim.keepLocales, ['de', 'pt_BR', 'en_US.UTF-8']);
});

test('bad values name the line and the key', () => {
  assert.equal(problems('firmware: everything\n'), ['t.yaml:6: firmware.mode: must be one of closure, all, none']);
  const keep = problems('firmware:\n  mode: none\n  keep: [/lib/firmware/x, a/../b]\n');
  assert.is(keep.length, 2);
  assert.match(keep[0]!, /^t\.yaml:8: firmware\.keep\[0\]: must be a path or glob inside \/lib\/firmware/);
  assert.match(problems('trim:\n  keepLocales: ["bad locale"]\n')[0]!, /^t\.yaml:7: trim\.keepLocales\[0\]: must be a locale name/);
  assert.match(problems('trim:\n  modules: [/lib/modules/x]\n')[0]!, /^t\.yaml:7: trim\.modules\[0\]: must be a folder under \/lib\/modules/);
  assert.equal(problems('trim: {mam: false}\n'), ['t.yaml:6: trim.mam: unknown key (check its spelling)']);
});

test('the shipped templates: Ubuntu runs the closure and leaves out the modules a diskless node never uses', async () => {
  const u = await loadTemplate(defaultTemplatesDir(), 'ubuntu');
  assert.is(u.firmware.mode, 'closure');
  assert.ok(u.trim.modules.includes('kernel/drivers/net/wireless'));
  assert.not.ok(u.trim.modules.some((m) => /net\/ethernet|gpu|infiniband/.test(m)), 'NICs and GPUs stay');
  const d = await loadTemplate(defaultTemplatesDir(), 'debian');
  assert.is(d.firmware.mode, 'closure');
});

test.run();
