// `diskless serve` as a child process on loopback (HTTP only), against real requests:
// peer heartbeats stay out of the boot-event log unless --verbose, and nodes whose
// image is not here are warned about at load and at reload, and listed in /status.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stop, watchLines } from '../../host/output.js';
import { makeImages } from '../../tools/images.js';
import { projectRoot } from '../../lib/paths.js';

const node = (n: number, image?: string) =>
  `  - name: node0${n}\n    mac: 52:54:00:77:00:0${n}\n    ip: 10.77.0.1${n}\n${image ? `    image: ${image}\n` : ''}`;
// 127.0.0.2 is the "other" replica: the server listens on 0.0.0.0, so it answers there too.
const inventory = (nodes: string) => `cluster: lab
network:
  subnet: 10.77.0.0/24
servers: [127.0.0.1, 127.0.0.2]
defaults:
  image: debian-bookworm-amd64
nodes:
${nodes}`;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** GET from a chosen local address (a peer's, or a stranger's). */
function get(port: number, path: string, from = '127.0.0.1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, localAddress: from }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

interface Serve {
  child: ChildProcess;
  out: ReturnType<typeof watchLines>;
  port: number;
  file: string;
  dir: string;
  events: () => Record<string, unknown>[];
}

async function serve(nodes: string, extra: string[] = []): Promise<Serve> {
  const dir = mkdtempSync(join(tmpdir(), 'dl-serve-lo-'));
  const img = makeImages();
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, inventory(nodes));
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', file, '--images', img.root,
    '--no-dhcp', '--no-tftp', '--address', '127.0.0.1', '--http-port', String(port), '--sync-interval', '0', '--dead-after', '3',
    '--lease-file', join(dir, 'leases.json'), '--log-format', 'json', ...extra], { cwd: projectRoot() });
  const out = watchLines(child);
  await out.waitFor(/serving cluster lab as 127\.0\.0\.1/, 30_000, 'diskless serve to start');
  const events = () => out.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, out, port, file, dir, events };
}

async function end(s: Serve): Promise<void> {
  await stop(s.child);
  rmSync(s.dir, { recursive: true, force: true });
}

/** Until the boot script lists the peer: the heartbeat to 127.0.0.2 was answered (and logged, or not). */
async function peerHeard(s: Serve): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if ((await get(s.port, '/boot/52-54-00-77-00-01.ipxe')).body.includes(`http://127.0.0.2:${s.port}/`)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no heartbeat answered by 127.0.0.2; output:\n${s.out.lines.join('\n')}`);
}

const statusEvents = (s: Serve) => s.events().filter((e) => e.kind === 'http' && String(e.path).startsWith('/status'));

test('peer heartbeats are not boot events; a stranger asking /status is; with --verbose heartbeats are logged too', async () => {
  const s = await serve(node(1));
  try {
    await peerHeard(s);
    await get(s.port, '/boot/52-54-00-77-00-01.ipxe', '127.0.0.2'); // a peer's other requests are still logged
    await get(s.port, '/status', '127.0.0.3');
    await s.out.waitFor(/"client":"127\.0\.0\.3"/, 10_000, 'the stranger\'s /status event');
    await s.out.waitFor(/"client":"127\.0\.0\.2"/, 10_000, 'the peer\'s boot-script event');
    assert.equal(statusEvents(s).map((e) => e.client), ['127.0.0.3'], s.out.lines.join('\n'));
  } finally {
    await end(s);
  }
  const v = await serve(node(1), ['--verbose']);
  try {
    await peerHeard(v);
    await v.out.waitFor(/"kind":"http".*"path":"\/status".*|"path":"\/status".*"kind":"http"/, 10_000, 'a heartbeat event with --verbose');
    assert.ok(statusEvents(v).some((e) => e.client === '127.0.0.1'), v.out.lines.join('\n'));
  } finally {
    await end(v);
  }
});

test('a node whose image is not here: warned at load and at reload, listed in /status', async () => {
  const s = await serve(node(1) + node(2, 'ghost') + node(3, 'debian-bookworm-amd64/19990101-000000'));
  try {
    const warnings = () => s.events().filter((e) => e.kind === 'service' && String(e.message).startsWith('warning: image ')).map((e) => String(e.message));
    const atLoad = warnings();
    assert.is(atLoad.length, 2, atLoad.join('\n'));
    assert.match(atLoad.join('\n'), /image ghost of node node02 is not here: image 'ghost' has no current version/);
    assert.match(atLoad.join('\n'), /image debian-bookworm-amd64\/19990101-000000 of node node03 is not here/);
    assert.not.match(atLoad.join('\n'), /node01/);
    const st = JSON.parse((await get(s.port, '/status')).body) as { missing: Record<string, string> };
    assert.equal(st.missing, { node02: 'ghost', node03: 'debian-bookworm-amd64/19990101-000000' });

    writeFileSync(`${s.file}.new`, inventory(node(1) + node(2, 'ghost') + node(4, 'ghost')));
    renameSync(`${s.file}.new`, s.file);
    await s.out.waitFor(/image ghost of nodes node02, node04 is not here/, 10_000, 'the warning at reload');
    assert.match(s.out.lines.join('\n'), /inventory reloaded/);
    const after = JSON.parse((await get(s.port, '/status')).body) as { missing: Record<string, string> };
    assert.equal(after.missing, { node02: 'ghost', node04: 'ghost' });
  } finally {
    await end(s);
  }
});

test.run();
