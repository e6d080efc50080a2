// The initrd's root fetch, without a VM: /etc/root.sh run by busybox sh (its own wget,
// sha256sum, awk on PATH), fetching from two HTTP "replicas" on loopback. With an image
// named, the root must match the sha256 built into the initrd; diskless.root= and
// diskless.sha256= are ignored and said so. The real boot: test/e2e/boot.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths.js';
import { needTool } from '../helpers/need.js';

const rootSh = join(projectRoot(), 'overlays/initrd/root.sh');
const work = mkdtempSync(join(tmpdir(), 'initrd-root-'));
const bin = join(work, 'bin');
const sums = join(work, 'diskless.sha256');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const GOOD = Buffer.alloc(64 * 1024, 'good root ');
const BAD = Buffer.alloc(GOOD.length, 'evil root '); // other bytes, same size
const IMAGE = 'deb/20260101-000000';
writeFileSync(sums, `${sha(GOOD)}  root.squashfs\n`);

/** An HTTP "replica" on loopback serving `files` under /images/IMAGE/, recording every path asked for. */
async function replica(files: Record<string, Buffer>): Promise<{ server: Server; host: string; asked: string[] }> {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(req.url ?? '');
    const name = req.url?.startsWith(`/images/${IMAGE}/`) ? req.url.slice(`/images/${IMAGE}/`.length) : '';
    const body = files[name];
    res.writeHead(body ? 200 : 404).end(body ?? 'not found\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, host: `127.0.0.1:${(server.address() as AddressInfo).port}`, asked };
}

/** Run `script` in busybox sh with busybox's applets first on PATH, root.sh sourced, say/fail as in /init (fail exits). */
function sh(script: string): Promise<{ status: number | null; out: string }> {
  const prelude = `PATH=${bin}; SUMS=${sums}; say() { echo "diskless: $*"; }; fail() { say "ERROR: $*"; exit 3; }; . ${rootSh}; `;
  const child = spawn('busybox', ['sh', '-c', prelude + script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((r) => child.on('exit', (status) => (clearTimeout(timer), r({ status, out: out.trim() }))));
}

test.before(() => {
  needTool('busybox', 'busybox-static');
  mkdirSync(bin);
  const res = spawnSync('busybox', ['--install', '-s', bin], { encoding: 'utf8' });
  assert.is(res.status, 0, res.stderr);
});
test.after(() => rmSync(work, { recursive: true, force: true }));

const FORGED = 'diskless.root=http://10.6.6.6/evil.squashfs diskless.sha256=' + sha(BAD);

test('with an image named, diskless.root= and diskless.sha256= are ignored, said so, and the root comes from the replicas', async () => {
  const r = await sh(`parse_cmdline diskless.image=${IMAGE} diskless.servers=10.0.0.1,10.0.0.2:8080 ${FORGED}; root_sources root.squashfs; echo "urls=$ROOT_URLS"; echo "want=$(want_sha256 root.squashfs)"`);
  assert.is(r.status, 0, r.out);
  const lines = r.out.split('\n');
  assert.match(lines[0]!, /^diskless: ignoring diskless\.root=http:\/\/10\.6\.6\.6\/evil\.squashfs diskless\.sha256=[0-9a-f]{64}: diskless\.image=deb\/20260101-000000 is named/);
  assert.is(lines[1], `urls=http://10.0.0.1/images/${IMAGE}/root.squashfs,http://10.0.0.2:8080/images/${IMAGE}/root.squashfs,`);
  assert.is(lines[2], `want=${sha(GOOD)}`, 'the hash built in, not the command line one');
});

test('without an image, diskless.root= and diskless.sha256= are used as given, quietly', async () => {
  const r = await sh(`parse_cmdline ${FORGED}; root_sources root.squashfs; echo "urls=$ROOT_URLS"; echo "want=$(want_sha256 root.squashfs)"`);
  assert.equal(r, { status: 0, out: `urls=http://10.6.6.6/evil.squashfs\nwant=${sha(BAD)}` });
  const none = await sh(`parse_cmdline diskless.image=${IMAGE} diskless.servers=10.0.0.1; root_sources root.squashfs; echo "urls=$ROOT_URLS"`);
  assert.equal(none, { status: 0, out: `urls=http://10.0.0.1/images/${IMAGE}/root.squashfs,` }, 'nothing to ignore, nothing said');
});

test('a replica serving other bytes (and a .sha256 that matches them) is refused; the next one is taken', async () => {
  const evil = await replica({ 'root.squashfs': BAD, 'root.squashfs.sha256': Buffer.from(`${sha(BAD)}  root.squashfs\n`) });
  const good = await replica({ 'root.squashfs': GOOD });
  try {
    const dest = join(work, 'root.squashfs');
    const r = await sh(`parse_cmdline diskless.image=${IMAGE} diskless.servers=${evil.host},${good.host} ${FORGED}; root_sources root.squashfs; fetch "root image" root.squashfs "$ROOT_URLS" ${dest}`);
    assert.is(r.status, 0, r.out);
    assert.match(r.out, `diskless: sha256 mismatch for http://${evil.host}/images/${IMAGE}/root.squashfs: refused, it is ${sha(BAD)}, not the ${sha(GOOD)} built into this initrd`);
    assert.match(r.out, `diskless: fetching root image from http://${good.host}/images/${IMAGE}/root.squashfs`);
    assert.ok(readFileSync(dest).equals(GOOD), 'the good root landed');
    assert.equal(evil.asked, [`/images/${IMAGE}/root.squashfs`], 'no .sha256 asked for, no diskless.root= URL tried');
    assert.equal(good.asked, [`/images/${IMAGE}/root.squashfs`]);
  } finally {
    evil.server.close();
    good.server.close();
  }
});

test('when every replica serves other bytes, nothing is kept and the round fails naming the URLs', async () => {
  const evil = await replica({ 'root.squashfs': BAD });
  try {
    const dest = join(work, 'bad.squashfs');
    const r = await sh(`parse_cmdline diskless.image=${IMAGE} diskless.servers=${evil.host},${evil.host}; root_sources root.squashfs; fetch "root image" root.squashfs "$ROOT_URLS" ${dest}`);
    assert.is(r.status, 3, r.out);
    assert.is(r.out.split('\n').filter((l) => l.includes('sha256 mismatch')).length, 2);
    assert.match(r.out, /diskless: ERROR: could not get a good root image from: http:\/\/127\.0\.0\.1:\d+\/images\//);
    assert.not.ok(existsSync(dest));
  } finally {
    evil.server.close();
  }
});

test('a layer with no sha256 built in (e.g. added by kernelArgs) is never fetched', async () => {
  const evil = await replica({ 'evil.squashfs': BAD });
  try {
    const r = await sh(`parse_cmdline diskless.image=${IMAGE} diskless.servers=${evil.host} diskless.layers=evil.squashfs; fetch layer "$LAYERS" "$(image_urls "$LAYERS")" ${join(work, 'evil.squashfs')}`);
    assert.is(r.status, 3, r.out);
    assert.match(r.out, `diskless: ERROR: this initrd has no sha256 for evil.squashfs (in ${sums})`);
    assert.equal(evil.asked, []);
  } finally {
    evil.server.close();
  }
});

test('without an image, diskless.sha256= still checks a diskless.root= download', async () => {
  const good = await replica({ 'root.squashfs': GOOD });
  try {
    const url = `http://${good.host}/images/${IMAGE}/root.squashfs`;
    const ok = await sh(`parse_cmdline diskless.root=${url} diskless.sha256=${sha(GOOD)}; fetch "root image" root.squashfs "$ROOT_URLS" ${join(work, 'r1')}`);
    assert.is(ok.status, 0, ok.out);
    const bad = await sh(`parse_cmdline diskless.root=${url} diskless.sha256=${sha(BAD)}; fetch "root image" root.squashfs "$ROOT_URLS" ${join(work, 'r2')}`);
    assert.is(bad.status, 3, bad.out);
    assert.match(bad.out, `refused, it is ${sha(GOOD)}, not the ${sha(BAD)} of diskless.sha256=`);
  } finally {
    good.server.close();
  }
});

test.run();
