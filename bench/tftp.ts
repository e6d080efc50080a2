// TFTP throughput: the same real client and the same file against our server,
// tftpd-hpa, and atftpd (windowsize), across a veth pair between two namespaces.
//   node --import tsx/esm bench/tftp.ts [sizeMB]
// Writes bench/results/tftp.json. Needs root, busybox, atftp, tftpd-hpa; atftpd is
// fetched with `apt-get download atftpd` into a temp dir when not installed.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLink, netnsAvailable } from '../test/helpers/netns.js';
import { startInNetns } from '../test/pxe/tftp/netns-server.js';
import { randomFile } from '../test/pxe/tftp/helpers.js';

const SIZE = Number(process.argv[2] ?? 64) * 1024 * 1024;
const SERVER_IP = '10.77.9.1';
const PORTS = { ours: 69, 'tftpd-hpa': 6969, atftpd: 7070 } as const; // uint16
type ServerName = keyof typeof PORTS;

const why = netnsAvailable();
if (why) {
  console.log(`cannot run: ${why}`);
  process.exit(1);
}

function atftpdBinary(work: string): string | undefined {
  if (existsSync('/usr/sbin/atftpd')) return '/usr/sbin/atftpd';
  const dir = join(work, 'atftpd-pkg');
  mkdirSync(dir);
  const dl = spawnSync('apt-get', ['download', 'atftpd'], { cwd: dir, encoding: 'utf8' });
  const deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
  if (dl.status !== 0 || !deb) return undefined;
  spawnSync('dpkg-deb', ['-x', join(dir, deb), join(dir, 'x')]);
  const bin = join(dir, 'x/usr/sbin/atftpd');
  return existsSync(bin) ? bin : undefined;
}

interface Case {
  client: string;
  blksize: number;
  windowsize: number;
  argv: (port: number, out: string) => string[];
  servers: ServerName[];
}

const busybox = (b: number): Case => ({
  client: 'busybox tftp',
  blksize: b,
  windowsize: 1,
  argv: (port, out) => ['busybox', 'tftp', '-g', '-b', String(b), '-r', 'bench.bin', '-l', out, SERVER_IP, String(port)],
  servers: ['ours', 'tftpd-hpa'],
});
const atftp = (b: number, w: number): Case => ({
  client: 'atftp',
  blksize: b,
  windowsize: w,
  argv: (port, out) => ['atftp', '--option', `blksize ${b}`, ...(w > 1 ? ['--option', `windowsize ${w}`] : []), '-g', '-r', 'bench.bin', '-l', out, SERVER_IP, String(port)],
  servers: ['ours', 'tftpd-hpa', 'atftpd'],
});
const cases: Case[] = [busybox(512), busybox(1468), busybox(8192), busybox(65464), atftp(1468, 1), atftp(1468, 8), atftp(1468, 16), atftp(8192, 8)];

const work = mkdtempSync(join(tmpdir(), 'tftp-bench-'));
chmodSync(work, 0o755);
const root = join(work, 'root');
mkdirSync(root, { mode: 0o755 });
const sha = randomFile(join(root, 'bench.bin'), SIZE);
chmodSync(join(root, 'bench.bin'), 0o644);
const link = createLink({ serverCidr: `${SERVER_IP}/24`, clientCidr: '10.77.9.2/24' });

interface Row {
  client: string;
  blksize: number;
  windowsize: number;
  server: ServerName;
  mbps: number | null;
  seconds: number | null;
  error?: string;
}
const rows: Row[] = [];
try {
  await startInNetns(link.server, { root, address: SERVER_IP, port: PORTS.ours });
  link.server.spawn(['/usr/sbin/in.tftpd', '-L', '-s', '-a', `${SERVER_IP}:${PORTS['tftpd-hpa']}`, '-u', 'nobody', root]);
  const atftpd = atftpdBinary(work);
  if (atftpd) {
    link.server.spawn([atftpd, '--daemon', '--no-fork', '--port', String(PORTS.atftpd), '--bind-address', SERVER_IP, '--user', 'nobody', '--group', 'nogroup', '--logfile', '/dev/null', root]);
  }
  await new Promise((r) => setTimeout(r, 1000));
  for (const c of cases) {
    for (const server of c.servers) {
      if (server === 'atftpd' && !atftpd) continue;
      const out = join(work, 'out.bin');
      const t0 = performance.now();
      const r = link.client.exec(c.argv(PORTS[server], out), { timeoutMs: 600_000, allowFail: true });
      const seconds = (performance.now() - t0) / 1000;
      let error: string | undefined;
      if (r.code !== 0) error = `exit ${r.code}: ${r.stderr.trim().slice(-200)}`;
      else if (statSync(out).size !== SIZE || createHash('sha256').update(readFileSync(out)).digest('hex') !== sha) error = 'wrong content';
      rmSync(out, { force: true });
      rows.push({ client: c.client, blksize: c.blksize, windowsize: c.windowsize, server, seconds: error ? null : seconds, mbps: error ? null : SIZE / 1e6 / seconds, ...(error ? { error } : {}) });
      console.error(`${c.client} blksize ${c.blksize} windowsize ${c.windowsize} ${server}: ${error ?? `${(SIZE / 1e6 / seconds).toFixed(1)} MB/s`}`);
    }
  }
} finally {
  await link.destroy();
  rmSync(work, { recursive: true, force: true });
}

const fmt = (n: number | null | undefined) => (n == null ? '—' : n.toFixed(1));
const lines = ['| client | blksize | windowsize | ours MB/s | tftpd-hpa MB/s | ours/tftpd-hpa | atftpd MB/s | ours/atftpd |', '|---|---|---|---|---|---|---|---|'];
const summary = [];
for (const c of cases) {
  const get = (s: ServerName) => rows.find((r) => r.client === c.client && r.blksize === c.blksize && r.windowsize === c.windowsize && r.server === s)?.mbps;
  const ours = get('ours');
  const hpa = get('tftpd-hpa');
  const at = get('atftpd');
  const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? a / b : null);
  summary.push({ client: c.client, blksize: c.blksize, windowsize: c.windowsize, ours, tftpdHpa: hpa, atftpd: at, ratioHpa: ratio(ours, hpa), ratioAtftpd: ratio(ours, at) });
  lines.push(`| ${c.client} | ${c.blksize} | ${c.windowsize} | ${fmt(ours)} | ${fmt(hpa)} | ${fmt(ratio(ours, hpa))}x | ${c.servers.includes('atftpd') ? fmt(at) : 'n/a'} | ${c.servers.includes('atftpd') ? `${fmt(ratio(ours, at))}x` : 'n/a'} |`);
}
console.log(`TFTP throughput, ${SIZE / 1024 / 1024} MiB file over veth between namespaces (1 run each)\n`);
console.log(lines.join('\n'));
const resultsDir = join(import.meta.dirname, 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'tftp.json'), `${JSON.stringify({ date: new Date().toISOString(), fileBytes: SIZE, rows, summary }, null, 2)}\n`);
