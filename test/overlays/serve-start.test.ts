// The service layer's serve-start: a replica booted from a signed image (the public
// key laid in by build-image --sign-key) serves with --trust; one without the key, as before.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultOverlaysDir } from '../../lib/paths.js';

const script = join(defaultOverlaysDir(), 'service/rootfs/usr/lib/diskless/serve-start');
const work = mkdtempSync(join(tmpdir(), 'dl-serve-start-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

function start(trust: boolean): string {
  const cmdline = join(work, 'cmdline');
  writeFileSync(cmdline, 'console=ttyS0 diskless.servers=10.77.0.1,10.77.0.2 quiet\n');
  const key = join(work, 'trust.pub');
  if (trust) writeFileSync(key, 'public key\n');
  else rmSync(key, { force: true });
  const r = spawnSync('sh', [script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, DISKLESS_CMDLINE: cmdline, DISKLESS_COMMAND: 'echo serve-argv:', DISKLESS_STATE: join(work, 'state'), DISKLESS_TRUST: key },
  });
  assert.is(r.status, 0, r.stderr);
  return /serve-argv: (.*)/.exec(r.stdout)?.[1] ?? '';
}

test('with the key in the layer, a joining replica serves with --trust', () => {
  const argv = start(true);
  assert.match(argv, `serve --join 10.77.0.1,10.77.0.2 --inventory ${join(work, 'state')}/cluster.yaml`);
  assert.match(argv, `--trust ${join(work, 'trust.pub')}`);
});

test('without it, as before: no --trust', () => {
  const argv = start(false);
  assert.match(argv, 'serve --join 10.77.0.1,10.77.0.2');
  assert.not.match(argv, '--trust');
});

test.run();
