// Real clients (tftp-hpa, busybox, atftp) fetch a 100 MB random file from our server
// across a veth pair between two network namespaces; the sha256 must match. At
// blksize 512 and 1468 the block number rolls over past 65535.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLink, netnsAvailable, type Link } from '../../../host/netns.js';
import { startInNetns, type NsServer } from '../../../tools/tftp/netns.js';
import { randomFile } from '../../../tools/randomfile.js';
import { need, needTool } from '../../helpers/need.js';

const SIZE = 100 * 1024 * 1024; // octets
const work = mkdtempSync(join(tmpdir(), 'tftp-interop-'));
const root = join(work, 'root');
let link: Link | undefined;
let server: NsServer | undefined;
let sha = '';

const missing = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0;

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

const skip = netnsAvailable();

test.before(async () => {
  if (skip) return;
  spawnSync('mkdir', ['-p', root]);
  sha = randomFile(join(root, 'big.bin'), SIZE);
  link = createLink({ serverCidr: '10.77.0.1/24', clientCidr: '10.77.0.2/24' });
  server = await startInNetns(link.server, { root, address: link.serverIp, port: 69 });
});

test.after(async () => {
  await link?.destroy();
  rmSync(work, { recursive: true, force: true });
});

const cases: { name: string; tool: string; pkg: string; argv: (out: string) => string[]; blksize: number; windowsize: number }[] = [
  { name: 'tftp-hpa, blksize 512 (rolls over 3 times)', tool: 'tftp', pkg: 'tftp-hpa', argv: (out) => ['tftp', '-m', 'binary', '10.77.0.1', '69', '-c', 'get', 'big.bin', out], blksize: 512, windowsize: 1 },
  { name: 'busybox tftp -b 1468 (rolls over)', tool: 'busybox', pkg: 'busybox-static', argv: (out) => ['busybox', 'tftp', '-g', '-b', '1468', '-r', 'big.bin', '-l', out, '10.77.0.1', '69'], blksize: 1468, windowsize: 1 },
  { name: 'busybox tftp -b 65464', tool: 'busybox', pkg: 'busybox-static', argv: (out) => ['busybox', 'tftp', '-g', '-b', '65464', '-r', 'big.bin', '-l', out, '10.77.0.1', '69'], blksize: 65464, windowsize: 1 },
  {
    name: 'atftp windowsize 8, blksize 1468 (rolls over)',
    tool: 'atftp',
    pkg: 'atftp',
    argv: (out) => ['atftp', '--option', 'windowsize 8', '--option', 'blksize 1468', '-g', '-r', 'big.bin', '-l', out, '10.77.0.1', '69'],
    blksize: 1468,
    windowsize: 8,
  },
];

for (const c of cases) {
  test(`interop: ${c.name} fetches 100 MB with the right sha256`, async () => {
    need(skip);
    needTool(c.tool, c.pkg);
    const out = join(work, `out-${c.tool}-${c.blksize}`);
    const before = server!.events.length;
    link!.client.exec(c.argv(out), { timeoutMs: 180_000 });
    assert.is(sha256(out), sha, 'sha256 of the fetched file');
    rmSync(out);
    const e = await server!.waitEvent((x) => server!.events.indexOf(x) >= before && x.file === 'big.bin');
    assert.is(e.status, 'done', JSON.stringify(e));
    assert.is(e.bytes, SIZE);
    assert.is(e.blksize, c.blksize);
    assert.is(e.windowsize, c.windowsize);
  });
}

test.run();
