// The report endpoint: parsed as a table (pure), then the real HTTP server on loopback
// fed malformed and hostile reports (it answers each with a clear 4xx and goes on), and
// the initrd's own `report` and `fetch` (overlays/initrd/root.sh, run by busybox sh with
// its wget) reaching it: a refused root image arrives as a sha256 failure with its message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHttpServer, type HttpServer } from '../../../pxe/http/server.js';
import { ImageStore } from '../../../pxe/images.js';
import { parseInventory } from '../../../cluster/inventory.js';
import { defaultTemplatesDir, projectRoot } from '../../../lib/paths.js';
import { EventLog, type BootEvent } from '../../../pxe/events.js';
import { parseReport, MAX_MESSAGE } from '../../../pxe/status/report.js';
import { StatusModel } from '../../../pxe/status/model.js';
import { makeImages } from '../../../tools/images.js';
import { sample } from '../../helpers/inventory.js';
import { needTool } from '../../helpers/need.js';

const MAC = '52:54:00:77:00:01';

test('parseReport: a MAC in any spelling and a known report; everything else refused with the usage', () => {
  assert.equal(parseReport(['52-54-00-77-00-01', 'up'], ''), { mac: MAC, what: 'up', message: undefined });
  assert.equal(parseReport([MAC, 'sha256'], 'msg=refused%20it&x=1'), { mac: MAC, what: 'sha256', message: 'refused it' });
  assert.equal(parseReport([MAC, 'retry'], 'msg=a%0Ab%1B%5B31mc'), { mac: MAC, what: 'retry', message: 'a b [31mc' }, 'control characters become spaces');
  assert.equal(parseReport([MAC, 'init'], 'msg=%20%0a'), { mac: MAC, what: 'init', message: undefined });
  assert.is((parseReport([MAC, 'fetch'], `msg=${'é'.repeat(1000)}`) as { message: string }).message.length, MAX_MESSAGE);
  assert.equal(parseReport([MAC, 'fetch'], 'msg=%ZZ%'), { mac: MAC, what: 'fetch', message: '%ZZ%' }, 'bad percent-encoding is kept as text');
  for (const [parts, why] of [
    [[], /reports are \/report\/<mac>\/<init\|up\|sha256\|fetch\|retry>/],
    [[MAC], /reports are/],
    [[MAC, 'up', 'more'], /reports are/],
    [['not-a-mac', 'up'], /"not-a-mac" is not a MAC address/],
    [[MAC, 'down'], /no report "down"/],
    [[MAC, '__proto__'], /no report "__proto__"/],
  ] as const) {
    const r = parseReport(parts, '');
    assert.ok('error' in r, JSON.stringify(parts));
    assert.match((r as { error: string }).error, why);
  }
});

const img = makeImages({ rootBytes: 256 * 1024 });
const inv = parseInventory(sample, 'cluster.yaml');
const events: BootEvent[] = [];
const log = new EventLog({ format: 'json', write: () => undefined });
const model = new StatusModel(() => inv.nodes);
model.attach(log);
log.subscribe((e) => events.push(e));
let srv: HttpServer;
let host = '';

function get(path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: srv.port, path, method }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test.before(async () => {
  srv = await startHttpServer({
    images: new ImageStore(img.root), inventory: () => inv, templatesDir: defaultTemplatesDir(), ipxeDir: '/usr/lib/ipxe',
    servers: () => [], address: '127.0.0.1', port: 0, onEvent: (e) => log.emit(e),
  });
  host = `127.0.0.1:${srv.port}`;
});
test.after(() => srv.close());

const reports = () => events.filter((e) => e.kind === 'report');

test('the server: bad reports get a 400 or 404 naming the fix, none becomes an event, and it keeps serving', async () => {
  events.length = 0;
  const bad: [string, number, RegExp][] = [
    ['/report/zz/up', 400, /"zz" is not a MAC address/],
    [`/report/${MAC}/bogus`, 400, /no report "bogus"/],
    [`/report/${MAC}`, 400, /reports are \/report\/<mac>/],
    [`/report/${MAC}/up/x`, 400, /reports are/],
    ['/report/52:54:00:ff:ff:ff/up', 404, /no node with MAC 52:54:00:ff:ff:ff in the inventory/],
    ['/report/%E0%A4%A/up', 404, /bad percent-encoding/],
    [`/report/../report/${MAC}/up`, 404, /dot segments/],
    [`/report/${'a'.repeat(5000)}/up`, 400, /is not a MAC address/],
  ];
  for (const [path, status, body] of bad) {
    const r = await get(path);
    assert.is(r.status, status, path);
    assert.match(r.body, body, path);
  }
  assert.is((await get(`/report/${MAC}/up`, 'HEAD')).status, 200);
  assert.is((await get(`/report/${MAC}/up`, 'POST')).status, 405);
  assert.is(reports().length, 0, JSON.stringify(reports()));
  assert.is((await get('/status')).status, 200, 'still serving');
});

test('a good report is one event naming the node, its message cut and made one line; the model shows it', async () => {
  events.length = 0;
  const long = `line one\nline two\u0007 ${'x'.repeat(2000)}`;
  const r = await get(`/report/52-54-00-77-00-01/fetch?msg=${encodeURIComponent(long)}`);
  assert.is(r.status, 200);
  const [e] = reports();
  assert.ok(e && e.kind === 'report');
  assert.is(e.node, 'node01');
  assert.is(e.mac, MAC);
  assert.is(e.what, 'fetch');
  assert.is(e.message!.length, MAX_MESSAGE);
  assert.not.match(e.message!, /[\n\u0007]/);
  const v = model.nodeViews(Date.now()).find((n) => n.name === 'node01')!;
  assert.is(v.failures.at(-1)!.kind, 'fetch');
  assert.is(v.failed, true);
});

/** busybox sh with its applets first on PATH and root.sh sourced (say/fail as in /init; fail exits 3). */
function initrdSh(bin: string, sums: string, script: string): Promise<{ status: number | null; out: string }> {
  const prelude = `PATH=${bin}; SUMS=${sums}; say() { echo "diskless: $*"; }; fail() { say "ERROR: $*"; exit 3; }; . ${join(projectRoot(), 'overlays/initrd/root.sh')}; `;
  const child = spawn('busybox', ['sh', '-c', prelude + script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((r) => child.on('exit', (status) => (clearTimeout(timer), r({ status, out: out.trim() }))));
}

test("the initrd's report and fetch reach the endpoint: init, a refused root image (sha256, then retry) with the message, to every replica listed", async () => {
  needTool('busybox', 'busybox-static');
  const work = mkdtempSync(join(tmpdir(), 'status-report-'));
  try {
    const bin = join(work, 'bin');
    mkdirSync(bin);
    assert.is(spawnSync('busybox', ['--install', '-s', bin]).status, 0);
    const sums = join(work, 'diskless.sha256');
    const wrong = createHash('sha256').update('another root').digest('hex');
    writeFileSync(sums, `${wrong}  root.squashfs\n`);
    events.length = 0;
    // A second replica that is not there (nothing listens on port 1): the report to it fails quietly.
    const cmdline = `diskless.image=${img.name}/${img.version} diskless.servers=${host},127.0.0.1:1`;
    const r = await initrdSh(bin, sums, `MAC=${MAC}; parse_cmdline ${cmdline}; report init; echo reported; root_sources root.squashfs; fetch "root image" root.squashfs "$ROOT_URLS" ${join(work, 'root')}`);
    assert.is(r.status, 3, r.out);
    assert.match(r.out, /reported/);
    const got = reports().map((e) => (e.kind === 'report' ? [e.what, e.message] : []));
    assert.equal(got[0], ['init', undefined]);
    assert.is(got[1]![0], 'sha256');
    assert.match(String(got[1]![1]), new RegExp(`^sha256 mismatch for http://${host}/images/${img.name}/${img.version}/root\\.squashfs: refused, it is [0-9a-f]{64}, not the ${wrong} built into this initrd$`));
    assert.is(got[2]![0], 'fetch', 'the replica that is not there');
    assert.match(String(got[2]![1]), /^no root\.squashfs from http:\/\/127\.0\.0\.1:1\//);
    assert.equal(got[3]![0], 'retry');
    const v = model.nodeViews(Date.now()).find((n) => n.name === 'node01')!;
    assert.is(v.failed, true);
    assert.equal(v.failures.slice(-3).map((f) => f.kind), ['sha256', 'fetch', 'retry']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test.run();
