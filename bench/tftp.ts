// TFTP throughput: the same real client and the same file against our server,
// tftpd-hpa, and atftpd (windowsize), across a veth pair between two namespaces; for
// 512-octet lock-step also against bench/tftp-floor-server.ts, the least Node can do per block.
//   node --import tsx/esm bench/tftp.ts [sizeMB] [--runs=3] [--cases=busybox/512,atftp/1468/8] [--no-pin] [--no-save] [--cpu-prof=DIR]
// Each case runs `runs` rounds; in every round each server fetches once, in an order
// that rotates between rounds, so drift in the machine spreads over all servers. The
// table gives the median of the rounds (and the best); ratios compare medians.
// Every server runs pinned to CPU 0 and every client to CPU 1 (unless --no-pin), as on two
// machines: otherwise the scheduler sometimes puts both ends of a lock-step ping-pong on one
// CPU and sometimes not, and that alone moves a run by 2x either way.
// Writes bench/results/tftp.json unless --no-save or --cases is given. Needs root,
// busybox, atftp, tftpd-hpa; atftpd is fetched with `apt-get download atftpd` into a
// temp dir when not installed.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLink, netnsAvailable } from '../host/netns.js';
import { startInNetns } from '../tools/tftp/netns.js';
import { randomFile } from '../tools/randomfile.js';
import { median } from './median.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const SIZE = Number(args.find((a) => !a.startsWith('--')) ?? 64) * 1024 * 1024;
const RUNS = Number(flag('runs') ?? 3);
const only = flag('cases')?.split(',');
const save = !args.includes('--no-save') && only === undefined;
const cpuProf = flag('cpu-prof'); // our server writes a V8 CPU profile there when it exits
const pinned = !args.includes('--no-pin') && availableParallelism() >= 2;
const serverCpu = pinned ? ['taskset', '-c', '0'] : [];
const clientCpu = pinned ? ['taskset', '-c', '1'] : [];
const SERVER_IP = '10.77.9.1';
const PORTS = { ours: 69, 'tftpd-hpa': 6969, atftpd: 7070, 'node-floor': 7171 } as const; // uint16
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
  key: string;
  client: string;
  blksize: number;
  windowsize: number;
  argv: (port: number, out: string) => string[];
  servers: ServerName[];
}

const busybox = (b: number): Case => ({
  key: `busybox/${b}`,
  client: 'busybox tftp',
  blksize: b,
  windowsize: 1,
  argv: (port, out) => ['busybox', 'tftp', '-g', '-b', String(b), '-r', 'bench.bin', '-l', out, SERVER_IP, String(port)],
  // The floor sender only speaks 512-octet lock-step (no options).
  servers: b === 512 ? ['ours', 'tftpd-hpa', 'node-floor'] : ['ours', 'tftpd-hpa'],
});
const atftp = (b: number, w: number): Case => ({
  key: `atftp/${b}/${w}`,
  client: 'atftp',
  blksize: b,
  windowsize: w,
  argv: (port, out) => ['atftp', '--option', `blksize ${b}`, ...(w > 1 ? ['--option', `windowsize ${w}`] : []), '-g', '-r', 'bench.bin', '-l', out, SERVER_IP, String(port)],
  servers: ['ours', 'tftpd-hpa', 'atftpd'],
});
const allCases: Case[] = [busybox(512), busybox(1468), busybox(8192), busybox(65464), atftp(1468, 1), atftp(1468, 8), atftp(1468, 16), atftp(8192, 8)];
const cases = allCases.filter((c) => !only || only.some((o) => c.key === o || c.key.startsWith(`${o}/`)));

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
  round: number;
  mbps: number | null;
  seconds: number | null;
  error?: string;
}
const rows: Row[] = [];
try {
  await startInNetns(link.server, { root, address: SERVER_IP, port: PORTS.ours }, cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : [], serverCpu);
  link.server.spawn([...serverCpu, '/usr/sbin/in.tftpd', '-L', '-s', '-a', `${SERVER_IP}:${PORTS['tftpd-hpa']}`, '-u', 'nobody', root]);
  const atftpd = atftpdBinary(work);
  if (atftpd) {
    link.server.spawn([...serverCpu, atftpd, '--daemon', '--no-fork', '--port', String(PORTS.atftpd), '--bind-address', SERVER_IP, '--user', 'nobody', '--group', 'nogroup', '--logfile', '/dev/null', root]);
  }
  link.server.spawn([...serverCpu, process.execPath, '--import', 'tsx/esm', join(import.meta.dirname, 'tftp-floor-server.ts'), SERVER_IP, String(PORTS['node-floor']), join(root, 'bench.bin')], { cwd: join(import.meta.dirname, '..') });
  await new Promise((r) => setTimeout(r, 1500));
  for (const c of cases) {
    const servers = c.servers.filter((s) => s !== 'atftpd' || atftpd);
    for (let round = 0; round < RUNS; round++) {
      const order = servers.map((_, i) => servers[(i + round) % servers.length]!);
      for (const server of order) {
        const out = join(work, 'out.bin');
        const t0 = performance.now();
        const r = link.client.exec([...clientCpu, ...c.argv(PORTS[server], out)], { timeoutMs: 600_000, allowFail: true });
        const seconds = (performance.now() - t0) / 1000;
        let error: string | undefined;
        if (r.code !== 0) error = `exit ${r.code}: ${r.stderr.trim().slice(-200)}`;
        else if (statSync(out).size !== SIZE || createHash('sha256').update(readFileSync(out)).digest('hex') !== sha) error = 'wrong content';
        rmSync(out, { force: true });
        rows.push({ client: c.client, blksize: c.blksize, windowsize: c.windowsize, server, round, seconds: error ? null : seconds, mbps: error ? null : SIZE / 1e6 / seconds, ...(error ? { error } : {}) });
        console.error(`${c.key} round ${round} ${server}: ${error ?? `${(SIZE / 1e6 / seconds).toFixed(1)} MB/s`}`);
      }
    }
  }
} finally {
  await link.destroy();
  rmSync(work, { recursive: true, force: true });
}

const fmt = (n: number | null | undefined) => (n == null ? '—' : n.toFixed(1));
const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? a / b : null);
const lines = [
  '| client | blksize | windowsize | runs | ours MB/s (best) | tftpd-hpa MB/s (best) | ours/tftpd-hpa | atftpd MB/s (best) | ours/atftpd | Node floor MB/s | floor/tftpd-hpa |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
];
const summary = [];
for (const c of cases) {
  const stat = (s: ServerName) => {
    const ok = rows.filter((r) => r.client === c.client && r.blksize === c.blksize && r.windowsize === c.windowsize && r.server === s && r.mbps !== null).map((r) => r.mbps!);
    return { median: median(ok), best: ok.length ? Math.max(...ok) : null, runs: ok.length };
  };
  const ours = stat('ours');
  const hpa = stat('tftpd-hpa');
  const at = stat('atftpd');
  const hasAt = c.servers.includes('atftpd');
  const floor = stat('node-floor');
  const hasFloor = c.servers.includes('node-floor');
  summary.push({
    client: c.client, blksize: c.blksize, windowsize: c.windowsize, runs: RUNS, ours, tftpdHpa: hpa,
    atftpd: hasAt ? at : undefined, ratioHpa: ratio(ours.median, hpa.median), ratioAtftpd: hasAt ? ratio(ours.median, at.median) : undefined,
    nodeFloor: hasFloor ? floor : undefined, floorRatioHpa: hasFloor ? ratio(floor.median, hpa.median) : undefined,
  });
  const cell = (s: { median: number | null; best: number | null }) => `${fmt(s.median)} (${fmt(s.best)})`;
  lines.push(
    `| ${c.client} | ${c.blksize} | ${c.windowsize} | ${RUNS} | ${cell(ours)} | ${cell(hpa)} | ${fmt(ratio(ours.median, hpa.median))}x | ${hasAt ? cell(at) : 'n/a'} | ${hasAt ? `${fmt(ratio(ours.median, at.median))}x` : 'n/a'} | ${hasFloor ? cell(floor) : 'n/a'} | ${hasFloor ? `${fmt(ratio(floor.median, hpa.median))}x` : 'n/a'} |`,
  );
}
console.log(`TFTP throughput, ${SIZE / 1024 / 1024} MiB file over veth between namespaces (median of ${RUNS} interleaved runs, best in brackets; ${pinned ? 'servers on CPU 0, clients on CPU 1' : 'not pinned'})\n`);
console.log(lines.join('\n'));
if (save) {
  const resultsDir = join(import.meta.dirname, 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'tftp.json'), `${JSON.stringify({ date: new Date().toISOString(), fileBytes: SIZE, runs: RUNS, pinned, rows, summary }, null, 2)}\n`);
}
