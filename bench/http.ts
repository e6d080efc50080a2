// HTTP throughput for large artifacts, what a boot storm spends its time on: the same
// files fetched by N concurrent clients from our server (default limits on), busybox
// httpd and nginx, across a veth pair between two namespaces, in one run.
//   node --import tsx/esm bench/http.ts [--root-mb=160] [--kernel-mb=8] [--files=root,kernel] [--clients=1,10,50] [--runs=3] [--no-pin] [--no-save]
// Every client has its own source address (as the nodes of a storm do), so the
// per-client connection cap is on as in service. The kernel-sized file is fetched
// `--kernel-repeat` times in turn by each client, so connection set-up counts too.
// The load client is tools/http/load.ts (one process, bodies counted into one buffer).
// Each round fetches from every server once per case, in an order that rotates between
// rounds; the table gives the median of the rounds (best in brackets), ratios compare medians.
// Our server holds the files in memory from the checking fetch on, as it does in service
// (pxe/http/file-cache.ts); the peers send from the page cache with sendfile.
// Servers run on CPU 0 and the client on CPU 1 (unless --no-pin). nginx runs one worker
// with sendfile; busybox httpd forks per connection. Writes bench/results/http.json
// unless --no-save. Needs root, busybox, nginx, curl.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { createLink, netnsAvailable } from '../host/netns.js';
import { ip } from '../host/ip.js';
import { waitFor } from '../host/output.js';
import { randomFile } from '../tools/randomfile.js';
import { median } from './median.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const MiB = 1024 * 1024;
const FILES = {
  root: { file: 'root.squashfs', bytes: Math.round(Number(flag('root-mb') ?? 160) * MiB), repeat: 1 },
  kernel: { file: 'vmlinuz', bytes: Math.round(Number(flag('kernel-mb') ?? 8) * MiB), repeat: Number(flag('kernel-repeat') ?? 5) },
};
const only = flag('files')?.split(',');
for (const k of Object.keys(FILES)) if (only && !only.includes(k)) delete FILES[k as keyof typeof FILES];
const CLIENTS = (flag('clients') ?? '1,10,50').split(',').map(Number);
const RUNS = Number(flag('runs') ?? 3);
const save = !args.includes('--no-save');
const pinned = !args.includes('--no-pin') && availableParallelism() >= 2;
const serverCpu = pinned ? ['taskset', '-c', '0'] : [];
const clientCpu = pinned ? ['taskset', '-c', '1'] : [];
const SERVER_IP = '10.77.9.1';
const PORTS = { ours: 8080, 'busybox httpd': 8081, nginx: 8082 } as const; // uint16
type ServerName = keyof typeof PORTS;
const NAME = 'bench-image';
const VERSION = '20260101-000000';

const why = netnsAvailable();
if (why) {
  console.log(`cannot run: ${why}`);
  process.exit(1);
}

// One docroot for all three: /images/<name>/<version>/<file> is the same URL everywhere.
const work = mkdtempSync(join(tmpdir(), 'http-bench-'));
chmodSync(work, 0o755);
const dir = join(work, 'images', NAME, VERSION);
mkdirSync(dir, { recursive: true, mode: 0o755 });
const artifacts: Record<string, { file: string; size: number; sha256: string }> = {};
for (const [key, f] of Object.entries(FILES)) artifacts[key] = { file: f.file, size: f.bytes, sha256: randomFile(join(dir, f.file), f.bytes) };
const manifest = {
  schema: 1, name: NAME, version: VERSION, distro: 'debian', suite: 'bookworm', arch: 'amd64', kernelVersion: '6.1.0-bench',
  cmdline: '', templateHash: 'x', rootFormat: 'squashfs', initrdCompression: 'zstd', initrdModules: [], initrdBuiltin: [],
  bootstrap: { method: 'bench', sourceHash: '' }, rootInputs: '', builtAt: '2026-01-01T00:00:00Z', builder: 'bench', artifacts,
};
writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
const nginxDir = join(work, 'nginx');
mkdirSync(nginxDir);
writeFileSync(
  join(nginxDir, 'nginx.conf'),
  `worker_processes 1;
daemon off;
pid ${nginxDir}/nginx.pid;
error_log stderr;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${nginxDir}/body;
  proxy_temp_path ${nginxDir}/proxy;
  fastcgi_temp_path ${nginxDir}/fastcgi;
  uwsgi_temp_path ${nginxDir}/uwsgi;
  scgi_temp_path ${nginxDir}/scgi;
  server { listen ${SERVER_IP}:${PORTS.nginx}; root ${work}; }
}
`,
);

const link = createLink({ serverCidr: `${SERVER_IP}/24`, clientCidr: '10.77.9.2/24' });
const maxClients = Math.max(...CLIENTS);
const sources = Array.from({ length: maxClients }, (_, i) => `10.77.9.${10 + i}`);
interface Row { file: string; clients: number; server: ServerName; round: number; seconds: number | null; mbps: number | null; error?: string }
const rows: Row[] = [];
const url = (s: ServerName, file: string) => `http://${SERVER_IP}:${PORTS[s]}/images/${NAME}/${VERSION}/${file}`;
try {
  for (const a of sources) link.client.exec(ip.addr(`${a}/24`, link.clientIf));
  const ours = link.server.spawn([...serverCpu, process.execPath, '--import', 'tsx/esm', join(import.meta.dirname, '../tools/http/serve.ts'), JSON.stringify({ imagesDir: join(work, 'images'), address: SERVER_IP, port: PORTS.ours })], { cwd: join(import.meta.dirname, '..') });
  await waitFor(ours, /LISTENING/, 30_000, 'our HTTP server');
  link.server.spawn([...serverCpu, 'busybox', 'httpd', '-f', '-p', `${SERVER_IP}:${PORTS['busybox httpd']}`, '-h', work]);
  link.server.spawn([...serverCpu, 'nginx', '-c', join(nginxDir, 'nginx.conf'), '-p', nginxDir, '-e', 'stderr']);
  await new Promise((r) => setTimeout(r, 1000));
  // Every server gives the right bytes before anything is timed.
  for (const s of Object.keys(PORTS) as ServerName[]) {
    for (const a of Object.values(artifacts)) {
      const out = join(work, 'check.bin');
      link.client.exec(['curl', '-sSf', '-o', out, url(s, a.file)], { timeoutMs: 120_000 });
      const got = createHash('sha256').update(readFileSync(out)).digest('hex');
      rmSync(out);
      if (got !== a.sha256) throw new Error(`${s} sent the wrong bytes for ${a.file}`);
    }
  }
  const servers = Object.keys(PORTS) as ServerName[];
  for (const [key, f] of Object.entries(FILES)) {
    for (const clients of CLIENTS) {
      for (let round = 0; round < RUNS; round++) {
        for (const server of servers.map((_, i) => servers[(i + round) % servers.length]!)) {
          const load = JSON.stringify({ url: url(server, f.file), clients, repeat: f.repeat, sources });
          const r = link.client.exec([...clientCpu, process.execPath, '--import', 'tsx/esm', join(import.meta.dirname, '../tools/http/load.ts'), load], { timeoutMs: 900_000, allowFail: true });
          let res: { seconds: number; bytes: number; errorCount: number; errors: string[] } | undefined;
          try {
            res = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '');
          } catch {
            // reported below
          }
          const expected = clients * f.repeat * f.bytes;
          const error = !res ? `load client failed: ${r.stderr.trim().slice(-300)}` : res.errorCount ? `${res.errorCount} errors: ${res.errors.join('; ')}` : res.bytes !== expected ? `${res.bytes} of ${expected} bytes` : undefined;
          const seconds = error ? null : res!.seconds;
          rows.push({ file: key, clients, server, round, seconds, mbps: seconds ? expected / 1e6 / seconds : null, ...(error ? { error } : {}) });
          console.error(`${key} x${clients} round ${round} ${server}: ${error ?? `${(expected / 1e6 / seconds!).toFixed(0)} MB/s`}`);
        }
      }
    }
  }
} finally {
  await link.destroy();
  rmSync(work, { recursive: true, force: true });
}

const fmt = (n: number | null | undefined, d = 0) => (n == null ? '—' : n.toFixed(d));
const ratio = (a: number | null, b: number | null) => (a && b ? a / b : null);
const lines = ['| file | clients | ours MB/s (best) | busybox httpd MB/s (best) | nginx MB/s (best) | ours/busybox | ours/nginx |', '|---|---|---|---|---|---|---|'];
const summary = [];
for (const [key, f] of Object.entries(FILES)) {
  for (const clients of CLIENTS) {
    const stat = (s: ServerName) => {
      const ok = rows.filter((r) => r.file === key && r.clients === clients && r.server === s && r.mbps !== null).map((r) => r.mbps!);
      return { median: median(ok), best: ok.length ? Math.max(...ok) : null, runs: ok.length };
    };
    const [o, b, n] = [stat('ours'), stat('busybox httpd'), stat('nginx')];
    summary.push({ file: key, bytes: f.bytes, repeat: f.repeat, clients, ours: o, busybox: b, nginx: n, ratioBusybox: ratio(o.median, b.median), ratioNginx: ratio(o.median, n.median) });
    const cell = (s: typeof o) => `${fmt(s.median)} (${fmt(s.best)})`;
    lines.push(`| ${key} ${fmt(f.bytes / MiB)} MiB${f.repeat > 1 ? ` x${f.repeat}` : ''} | ${clients} | ${cell(o)} | ${cell(b)} | ${cell(n)} | ${fmt(ratio(o.median, b.median), 2)}x | ${fmt(ratio(o.median, n.median), 2)}x |`);
  }
}
console.log(`HTTP throughput over veth between namespaces (median of ${RUNS} interleaved runs, best in brackets; ${pinned ? 'servers on CPU 0, client on CPU 1' : 'not pinned'})\n`);
console.log(lines.join('\n'));
if (save) {
  const resultsDir = join(import.meta.dirname, 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'http.json'), `${JSON.stringify({ date: new Date().toISOString(), files: FILES, runs: RUNS, pinned, rows, summary }, null, 2)}\n`);
}
if (rows.some((r) => r.error)) process.exit(1);
