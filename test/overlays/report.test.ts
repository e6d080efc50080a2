// The node-up line's secureboot field, read from the EFI variable SecureBoot (4 bytes of
// attributes, then the value) in a folder standing in for efivarfs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../lib/run.js';
import { projectRoot } from '../../lib/paths.js';

const REPORT = join(projectRoot(), 'overlays/base/rootfs/usr/lib/diskless/report');
const VAR = 'SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c';
const work = mkdtempSync(join(tmpdir(), 'report-'));

async function secureboot(value: number | undefined): Promise<string> {
  const dir = mkdtempSync(join(work, 'efivars-'));
  if (value !== undefined) writeFileSync(join(dir, VAR), Buffer.from([0x06, 0, 0, 0, value]));
  // bash: dash (the node's sh) stops at `. /etc/diskless/image`, which only the image has.
  const r = await run(['bash', REPORT], { env: { DISKLESS_EFIVARS: dir } });
  const m = /^diskless: node-up .* hypervisor=\S+ secureboot=(\S+)$/m.exec(r.stdout);
  assert.ok(m, `node-up line with secureboot last: ${r.stdout}`);
  return m![1]!;
}

test.after(() => rmSync(work, { recursive: true, force: true }));

test('secureboot=on when the variable says 1, off when 0 or absent (BIOS, no efivarfs)', async () => {
  assert.is(await secureboot(1), 'on');
  assert.is(await secureboot(0), 'off');
  assert.is(await secureboot(undefined), 'off');
});

test.run();
