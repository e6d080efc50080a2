// A new replica with nothing local takes the inventory from the first replica that
// answers; a bad inventory from a peer is never written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { joinCluster } from '../../pxe/replica/join.js';
import { memoryLogger } from '../../lib/log.js';
import { sample } from '../helpers/inventory.js';

const work = mkdtempSync(join(tmpdir(), 'dl-join-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

async function peer(body: string, status = 200): Promise<{ host: string; close(): Promise<void> }> {
  const srv = http.createServer((req, res) => {
    res.writeHead(req.url === '/inventory' ? status : 404, { 'content-type': 'text/yaml' });
    res.end(req.url === '/inventory' ? body : 'no');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { host: `127.0.0.1:${(srv.address() as AddressInfo).port}`, close: () => new Promise((r) => srv.close(() => r())) };
}

test('the inventory comes from the first replica that answers; dead and broken ones are skipped and logged', async () => {
  const broken = await peer('cluster: [unterminated\n');
  const good = await peer(sample);
  const dead = await peer('', 500);
  const log = memoryLogger();
  const file = join(work, 'state', 'cluster.yaml');
  try {
    const r = await joinCluster({ peers: [dead.host, broken.host, good.host], inventoryFile: file, log });
    assert.is(r.from, good.host);
    assert.is(r.inventory.cluster, 'lab');
    assert.is(readFileSync(file, 'utf8'), sample, 'written as served');
  } finally {
    await Promise.all([broken.close(), good.close(), dead.close()]);
  }
});

test('with no good replica: retries with a logged reason, then gives up naming each; nothing is written', async () => {
  const broken = await peer('cluster: lab\nnetwork: {subnet: 10.0.0.0/24}\nservers: []\n');
  const log = memoryLogger();
  const file = join(work, 'none', 'cluster.yaml');
  try {
    await joinCluster({ peers: [broken.host, '127.0.0.1:1'], inventoryFile: file, log, timeoutMs: 1500 }).then(
      () => assert.unreachable('should give up'),
      (err: Error) => {
        assert.match(err.message, /no replica gave its inventory within \d+ s/);
        assert.match(err.message, `http://${broken.host}/inventory:`);
        assert.match(err.message, 'servers');
        assert.match(err.message, 'http://127.0.0.1:1/inventory:');
      },
    );
    assert.ok(log.lines.some((l) => /join: no inventory yet \(round 1/.test(l)), log.lines.join('\n'));
    assert.not.ok(existsSync(file));
  } finally {
    await broken.close();
  }
});

test.run();
