// Loading the lease file after a crash or a bad edit: an empty or corrupt file is moved
// aside whole, with a loud warning, and the table starts empty; a good one loads.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { LeaseTable, loadLeases, saveLeases } from '../../../pxe/dhcp/leases.js';
import { memoryLogger } from '../../../lib/log.js';

const NOW = Date.parse('2026-12-01T20:00:00.123Z');

for (const [what, text, why] of [
  ['empty', '', /it is empty/],
  ['cut short', '{"version":1,"leases":[{"ip":"10.77.0.50","mac":"52:54', /not valid JSON/],
  ['not a lease file', '{"hello":1}\n', /no leases list/],
  ['null', 'null', /no leases list/],
] as const) {
  test(`a lease file that is ${what} is moved aside with a warning, and the table starts empty`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-leases-'));
    const file = join(dir, 'leases.json');
    writeFileSync(file, text);
    const log = memoryLogger();
    const t = await loadLeases(file, { log, now: () => NOW });
    assert.is(t.size, 0);
    assert.not.ok(existsSync(file), 'moved, not left to fail again');
    const aside = join(dir, 'leases.json.corrupt-2026-12-01T20-00-00-123Z');
    assert.equal(readdirSync(dir), ['leases.json.corrupt-2026-12-01T20-00-00-123Z']);
    assert.is(readFileSync(aside, 'utf8'), text, 'kept whole for a look');
    const line = log.lines.find((l) => l.includes('LEASE FILE UNREADABLE'));
    assert.ok(line, log.lines.join('\n'));
    assert.match(line!, why);
    assert.ok(line!.includes(aside), line);
  });
}

test('a good lease file loads and stays; a temp file a killed write left is swept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-leases-'));
  const file = join(dir, 'leases.json');
  const t = new LeaseTable();
  t.put({ ip: '10.77.0.50', mac: '52:54:00:00:00:50', state: 'bound', expires: NOW + 60_000 });
  await saveLeases(file, t, NOW);
  // A write cut short by a kill left its temp file; loading sweeps it.
  const dead = spawnSync('true').pid!;
  writeFileSync(join(dir, `.leases.json.${dead}.0badc0de.tmp`), '{"version":1,"lea');
  const log = memoryLogger();
  const back = await loadLeases(file, { log });
  assert.is(back.size, 1);
  assert.equal(readdirSync(dir), ['leases.json']);
  assert.equal(log.lines, []);
});

test.run();
