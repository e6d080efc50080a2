// 0.5% packet loss each way on the veth pair (nftables numgen drop on both ends):
// busybox tftp and atftp must each succeed 6 times in 6. A 5 MB file keeps the
// run short; every loss costs one retransmit timeout (100 ms here; the veth round trip is well under 1 ms).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addLoss, createLink, netnsAvailable, type Link } from '../../../host/netns.js';
import { startInNetns, type NsServer } from '../../../tools/tftp/netns.js';
import { randomFile } from '../../../tools/randomfile.js';
import { need, needTool } from '../../helpers/need.js';

const SIZE = 5 * 1024 * 1024; // octets
const LOSS = 5; // per mille, each direction
const RUNS = 6;
const work = mkdtempSync(join(tmpdir(), 'tftp-loss-'));
const root = join(work, 'root');
let link: Link | undefined;
let server: NsServer | undefined;
let sha = '';

const skip = netnsAvailable() ?? (spawnSync('sh', ['-c', 'command -v nft']).status !== 0 ? 'nft is not installed (apt-get install nftables)' : undefined);
const missing = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0;

test.before(async () => {
  if (skip) return;
  mkdirSync(root);
  sha = randomFile(join(root, 'five.bin'), SIZE);
  link = createLink({ serverCidr: '10.77.1.1/24', clientCidr: '10.77.1.2/24' });
  addLoss(link.server, link.serverIf, LOSS);
  addLoss(link.client, link.clientIf, LOSS);
  // Short timeouts keep the test fast (100 ms doubling to 800 ms, 12 tries); the server's last wait before it
  // gives up is a 6 s silence whatever these are, so atftp's own 5 s timer fires first (see window-loss.test.ts).
  server = await startInNetns(link.server, { root, address: link.serverIp, port: 69, timeoutMs: 100, retries: 12 });
});

test.after(async () => {
  await link?.destroy();
  rmSync(work, { recursive: true, force: true });
});

const clients = [
  { name: 'busybox tftp -b 1468', tool: 'busybox', pkg: 'busybox-static', argv: (out: string) => ['busybox', 'tftp', '-g', '-b', '1468', '-r', 'five.bin', '-l', out, '10.77.1.1', '69'] },
  { name: 'atftp windowsize 8 blksize 1468', tool: 'atftp', pkg: 'atftp', argv: (out: string) => ['atftp', '--option', 'windowsize 8', '--option', 'blksize 1468', '-g', '-r', 'five.bin', '-l', out, '10.77.1.1', '69'] },
];

for (const c of clients) {
  test(`loss 0.5% each way: ${c.name}, 5 MB file, ${RUNS} of ${RUNS} succeed`, () => {
    need(skip);
    needTool(c.tool, c.pkg);
    let ok = 0;
    const failures: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const out = join(work, `out-${c.tool}-${i}`);
      const t0 = Date.now();
      const r = link!.client.exec(c.argv(out), { timeoutMs: 120_000, allowFail: true });
      const got = r.code === 0 ? createHash('sha256').update(readFileSync(out)).digest('hex') : '';
      if (got === sha) ok++;
      else failures.push(`run ${i}: exit ${r.code} ${r.stderr.trim().slice(-300)}`);
      rmSync(out, { force: true });
      console.log(`  ${c.name} run ${i}: ${Date.now() - t0} ms`);
    }
    assert.is(ok, RUNS, failures.join('\n'));
  });
}

test.run();
