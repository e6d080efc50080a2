// Every route the HTTP server serves is in the README's list of HTTP paths, and every
// path listed there is a route. The table below must name every route kind (tsc
// fails otherwise), so a new route cannot go undocumented.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { route, type Route } from '../../../pxe/http/routes.js';
import { projectRoot } from '../../../lib/paths.js';

const DOCUMENTED: Record<Exclude<Route['kind'], 'not-found'>, { readme: string[]; example: string[] }> = {
  'boot-script': { readme: ['/boot/<mac>.ipxe', '/boot/<mac>.grub.cfg'], example: ['/boot/52-54-00-77-00-01.ipxe', '/boot/52-54-00-77-00-01.grub.cfg'] },
  artifact: { readme: ['/images/<name>/<version|current>/<file>'], example: ['/images/a/v1/vmlinuz', '/images/a/current/manifest.json'] },
  'artifact-sha256': { readme: ['/images/<name>/<version|current>/<file>.sha256'], example: ['/images/a/v1/root.squashfs.sha256'] },
  'ipxe-binary': { readme: ['/ipxe/<binary>'], example: ['/ipxe/undionly.kpxe'] },
  status: { readme: ['/status'], example: ['/status'] },
  inventory: { readme: ['/inventory'], example: ['/inventory'] },
  'inventory-sig': { readme: ['/inventory.sig'], example: ['/inventory.sig'] },
  metrics: { readme: ['/metrics'], example: ['/metrics'] },
  report: { readme: ['/report/<mac>/<what>'], example: ['/report/52-54-00-77-00-01/up', '/report/52:54:00:77:00:01/sha256?msg=refused'] },
  cluster: { readme: ['/cluster'], example: ['/cluster', '/cluster?local=1', '/cluster?nodes=0'] },
  page: { readme: ['/', '/page/<file>'], example: ['/', '/page/page.js'] },
  events: { readme: ['/events'], example: ['/events'] },
};

/** The paths at the head of each item of the README's "HTTP paths:" list (or in its paragraph, unlisted). */
function readmePaths(): string[] {
  const text = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
  const start = text.indexOf('HTTP paths:');
  assert.ok(start >= 0, 'README has an "HTTP paths:" list');
  const section = text.slice(start).split('\n\n')[0]!;
  const items = section.split('\n').filter((l) => l.startsWith('- ')).map((l) => l.split(':')[0]!);
  return (items.length ? items : [section]).flatMap((l) => [...l.matchAll(/`(\/[^`]*)`/g)].map((m) => m[1]!));
}

const EXAMPLE: Record<string, string> = { '<mac>': '52-54-00-77-00-01', '<name>': 'a', '<version|current>': 'v1', '<version>': 'v1', '<file>': 'vmlinuz', '<binary>': 'ipxe.efi', '<what>': 'init' };

test('every route kind is in the README, and its examples route to it', () => {
  const listed = readmePaths();
  for (const [kind, d] of Object.entries(DOCUMENTED)) {
    for (const p of d.readme) assert.ok(listed.includes(p), `${kind}: README's HTTP paths do not list \`${p}\` (listed: ${listed.join(', ')})`);
    for (const e of d.example) assert.is(route(e).kind, kind, e);
  }
});

test('every path the README lists is a route', () => {
  for (const p of readmePaths()) {
    const concrete = p.replace(/<[^>]+>/g, (ph) => {
      assert.ok(EXAMPLE[ph], `no example for ${ph} in ${p}`);
      return EXAMPLE[ph]!;
    });
    assert.is.not(route(concrete).kind, 'not-found', `${p} (as ${concrete})`);
  }
});

test.run();
