// The HTTP server's connection limits against real sockets on loopback: one address
// holding thousands of idle connections, a client that never finishes its request head,
// and one that stops reading a large artifact.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { startHttpServer, type HttpServer } from '../../../pxe/http/server.js';
import { httpLimits, DEFAULT_HTTP_LIMITS, type HttpLimits } from '../../../pxe/http/limits.js';
import { ImageStore } from '../../../pxe/images.js';
import { parseInventory } from '../../../cluster/inventory.js';
import { defaultTemplatesDir } from '../../../lib/paths.js';
import { makeImages } from '../../../tools/images.js';
import { sample } from '../../helpers/inventory.js';
import { needTool } from '../../helpers/need.js';

const img = makeImages({ rootBytes: 64 * 1024 * 1024 });
const inv = parseInventory(sample, 'cluster.yaml');
const kernel = `/images/${img.name}/${img.version}/vmlinuz`;

function serve(limits: Partial<HttpLimits> = {}): Promise<HttpServer> {
  return startHttpServer({
    images: new ImageStore(img.root),
    inventory: () => inv,
    templatesDir: defaultTemplatesDir(),
    ipxeDir: '/usr/lib/ipxe',
    servers: () => ['10.77.0.1:8080'],
    address: '127.0.0.1',
    port: 0,
    limits,
  });
}

function curl(args: string[]): Promise<{ code: number | null; out: Buffer; err: string }> {
  return new Promise((resolve) => {
    const c = spawn('curl', ['-sS', '--max-time', '60', ...args]);
    const out: Buffer[] = [];
    let err = '';
    c.stdout.on('data', (d: Buffer) => out.push(d));
    c.stderr.on('data', (d: Buffer) => (err += d));
    c.on('close', (code) => resolve({ code, out: Buffer.concat(out), err }));
  });
}

function open(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
    s.on('error', reject);
  });
}

/** Wait for `cond`, failing with `what` after a generous deadline (not a timing assertion). */
async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const [label, limits] of [
  ['default limits', {}],
  ['a total cap below the idle connections', { maxConnections: 200 }],
] as const) {
  test(`2,000 idle connections from 127.0.0.2 do not stop 127.0.0.3 fetching a kernel (${label})`, async () => {
    needTool('curl', 'curl');
    const srv = await serve(limits);
    const idle: Socket[] = [];
    try {
      const settled = await Promise.allSettled(Array.from({ length: 2000 }, () => open(srv.port, '127.0.0.2')));
      for (const s of settled) if (s.status === 'fulfilled') idle.push(s.value.on('error', () => {}));
      // Every one was accepted by the kernel; all but the per-client cap are then closed by the server.
      await until(() => srv.connections().open <= DEFAULT_HTTP_LIMITS.maxConnectionsPerClient, `the server to close the connections over the cap: ${JSON.stringify(srv.connections())}`);
      const r = await curl(['--interface', '127.0.0.3', `http://127.0.0.1:${srv.port}${kernel}`]);
      assert.is(r.code, 0, r.err);
      assert.is(createHash('sha256').update(r.out).digest('hex'), img.manifest.artifacts.kernel!.sha256);
      assert.ok(srv.connections().refused > 0, JSON.stringify(srv.connections()));
    } finally {
      for (const s of idle) s.destroy();
      await srv.close();
    }
  });
}

test('a client over the per-client cap is told why: 503 with Retry-After', async () => {
  needTool('curl', 'curl');
  const srv = await serve({ maxConnectionsPerClient: 2 });
  const held = [await open(srv.port, '127.0.0.4'), await open(srv.port, '127.0.0.4')];
  try {
    await until(() => srv.connections().open === 2, 'two held connections');
    const r = await curl(['--interface', '127.0.0.4', '-o', '/dev/null', '-D', '-', `http://127.0.0.1:${srv.port}${kernel}`]);
    assert.match(r.out.toString(), /^HTTP\/1\.1 503/);
    assert.match(r.out.toString(), /Retry-After: 5/i);
    const other = await curl(['--interface', '127.0.0.5', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${srv.port}${kernel}`]);
    assert.is(other.out.toString(), '200');
  } finally {
    for (const s of held) s.destroy();
    await srv.close();
  }
});

test('a request head that never ends gets 408 and is closed after the headers timeout', async () => {
  const srv = await serve({ headersTimeoutMs: 300, requestTimeoutMs: 300 });
  try {
    const s = await open(srv.port, '127.0.0.6');
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    s.write('GET /status HTTP/1.1\r\nHost: x\r\n');
    const silent = await open(srv.port, '127.0.0.6');
    silent.resume();
    const silentClosed = new Promise<void>((r) => silent.on('close', () => r()));
    await closed;
    assert.match(got, /^HTTP\/1\.1 408/);
    await silentClosed;
    assert.is(srv.connections().open, 0);
  } finally {
    await srv.close();
  }
});

test('a client that stops reading a large artifact is dropped after the idle timeout; one that reads is not', async () => {
  needTool('curl', 'curl');
  const srv = await serve({ idleTimeoutMs: 500 });
  try {
    const s = await open(srv.port, '127.0.0.7');
    s.on('error', () => {});
    let received = 0;
    s.on('data', (d: Buffer) => {
      received += d.length;
      s.pause(); // reads one chunk, then never again
    });
    s.write(`GET /images/${img.name}/${img.version}/root.squashfs HTTP/1.1\r\nHost: x\r\n\r\n`);
    await until(() => received > 0, 'the first bytes');
    await until(() => srv.connections().open === 0, 'the server to drop the stalled reader');
    assert.ok(received < 64 * 1024 * 1024, `${received}`);
    s.destroy();
    const r = await curl(['--interface', '127.0.0.8', `http://127.0.0.1:${srv.port}/images/${img.name}/${img.version}/root.squashfs`]);
    assert.is(r.code, 0, r.err);
    assert.is(createHash('sha256').update(r.out).digest('hex'), img.manifest.artifacts.root!.sha256);
  } finally {
    await srv.close();
  }
});

test('a download that lasts longer than the request and headers timeouts is not cut', async () => {
  needTool('curl', 'curl');
  const srv = await serve({ headersTimeoutMs: 200, requestTimeoutMs: 200 });
  try {
    // 8 MiB at 4 MB/s: about two seconds, ten times the timeouts.
    const r = await curl(['--limit-rate', '4M', '-r', '0-8388607', `http://127.0.0.1:${srv.port}/images/${img.name}/${img.version}/root.squashfs`]);
    assert.is(r.code, 0, r.err);
    assert.is(r.out.length, 8 * 1024 * 1024);
  } finally {
    await srv.close();
  }
});

test('limits are checked at start and name the bad value', () => {
  assert.equal(httpLimits(), DEFAULT_HTTP_LIMITS);
  assert.throws(() => httpLimits({ maxConnectionsPerClient: 0 }), /maxConnectionsPerClient = 0: give a whole number/);
  assert.throws(() => httpLimits({ headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 }), /headers timeout 20000 ms is longer than the request timeout 10000 ms/);
});

test.run();
