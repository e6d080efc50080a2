// /metrics of real `diskless serve` replicas in network namespaces on one bridge, read
// with the strict text-format parser: after a known run of real clients (busybox
// udhcpc, tftp-hpa, curl) every counter equals the count of its boot events in the
// replica's own JSON log; the second replica's sync counters equal its log's pulls and
// refusals; liveness follows a replica that never starts and one that is killed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubTopology } from '../../../host/bridge.js';
import { netnsAvailable, type Netns } from '../../../host/netns.js';
import { watchOutput } from '../../../host/output.js';
import { makeImages } from '../../../tools/images.js';
import { projectRoot } from '../../../lib/paths.js';
import { route } from '../../../pxe/http/routes.js';
import { need } from '../../helpers/need.js';
import { missingTools } from '../dhcp/nstools.js';
import { parsePrometheusText, sampleSum, sampleValue, type Family } from '../../helpers/prom-text.js';

const skip = netnsAvailable() ?? missingTools(['busybox', 'tftp', 'curl']);
const [A, B, DEAD, NODE] = ['10.77.0.1', '10.77.0.2', '10.77.0.3', '10.77.0.11'];
const MAC = '52:54:00:77:00:01';
const inventory = `cluster: watched
version: 1
network:
  subnet: 10.77.0.0/24
servers: [${A}, ${B}, ${DEAD}]
defaults: { image: debian-bookworm-amd64 }
nodes:
  - { name: node01, mac: "${MAC}", ip: ${NODE} }
`;

type Event = Record<string, unknown> & { kind: string };
const jsonEvents = (log: string): Event[] => log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);

function scraper(client: Netns, host: string) {
  let scrapes = 0;
  return {
    get count() {
      return scrapes;
    },
    read(): Map<string, Family> {
      // The body, then curl's own last line: the Content-Type.
      const r = client.exec(['curl', '-sS', '--max-time', '10', '-w', '%{content_type}', `http://${host}/metrics`]);
      scrapes++;
      const cut = r.stdout.lastIndexOf('\n') + 1;
      assert.is(r.stdout.slice(cut), 'text/plain; version=0.0.4; charset=utf-8');
      return parsePrometheusText(r.stdout.slice(0, cut));
    },
  };
}

async function until<T>(what: string, f: () => T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

test('a known run: counters equal the events, sync counters the pulls and refusals, liveness follows the replicas', async () => {
  need(skip);
  const work = mkdtempSync(join(tmpdir(), 'dl-metrics-'));
  const img = makeImages();
  const topo = hubTopology([`${A}/24`, `${B}/24`, `${NODE}/24`]);
  const [nsA, nsB, client] = topo.replicas as [Netns, Netns, Netns];
  try {
    client.exec(['ip', 'link', 'set', 'dev', 'eth0', 'down']);
    client.exec(['ip', 'link', 'set', 'dev', 'eth0', 'address', MAC]);
    client.exec(['ip', 'link', 'set', 'dev', 'eth0', 'up']);
    const dirs = [join(work, 'a'), join(work, 'b')];
    for (const d of dirs) {
      mkdirSync(join(d, 'images'), { recursive: true });
      writeFileSync(join(d, 'cluster.yaml'), inventory);
    }
    // A holds the image, and a newer version whose root image is corrupted: B pulls one, refuses the other.
    cpSync(img.root, join(dirs[0]!, 'images'), { recursive: true, verbatimSymlinks: true });
    const bad = join(dirs[0]!, 'images', img.name, '20990101-000000');
    cpSync(img.dir, bad, { recursive: true });
    writeFileSync(join(bad, 'manifest.json'), JSON.stringify({ ...img.manifest, version: '20990101-000000' }));
    const root = readFileSync(join(bad, 'root.squashfs'));
    root.writeUInt8(root.readUInt8(1000) ^ 1, 1000);
    writeFileSync(join(bad, 'root.squashfs'), root);

    const serve = (ns: Netns, dir: string, address: string, extra: string[]) =>
      ns.spawn(
        ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', join(dir, 'cluster.yaml'), '--images', join(dir, 'images'),
          '--address', address, '--sync-interval', '1', '--dead-after', '3', '--lease-file', join(dir, 'leases.json'), '--log-format', 'json', ...extra],
        { cwd: projectRoot() },
      );
    const childA = serve(nsA, dirs[0]!, A, []);
    const childB = serve(nsB, dirs[1]!, B, ['--no-dhcp', '--no-tftp']);
    const [outA, outB] = [watchOutput(childA), watchOutput(childB)];
    await Promise.all([outA.waitFor(/serving cluster watched/, 90_000, 'replica A'), outB.waitFor(/serving cluster watched/, 90_000, 'replica B')]);

    // The known run, from the node's namespace: DHCP, TFTP (a loader, a per-node script, a missing
    // loader), HTTP (boot script, kernel, root, a missing version, a missing route).
    const script = join(work, 'udhcpc.sh');
    writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] && echo "BOUND $ip"\nexit 0\n');
    chmodSync(script, 0o755);
    assert.match(client.exec(['busybox', 'udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '8', '-T', '1', '-s', script], { timeoutMs: 30_000 }).stdout, /BOUND 10\.77\.0\.11/);
    client.exec(['tftp', '-m', 'binary', A, '-c', 'get', 'undionly.kpxe', join(work, 'undionly.kpxe')]);
    client.exec(['tftp', '-m', 'binary', A, '-c', 'get', 'boot/52-54-00-77-00-01.ipxe', join(work, 'node.ipxe')]);
    client.exec(['tftp', '-m', 'binary', A, '-c', 'get', 'missing.efi', join(work, 'missing.efi')], { allowFail: true });
    const curl = (path: string) => client.exec(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://${A}${path}`]).stdout;
    const base = `/images/${img.name}/${img.version}`;
    assert.equal(
      [curl('/boot/52-54-00-77-00-01.ipxe'), curl(`${base}/vmlinuz`), curl(`${base}/initrd.img`), curl(`${base}/root.squashfs`), curl(`/images/${img.name}/20000101-000000/vmlinuz`), curl('/nothing')],
      ['200', '200', '200', '200', '404', '404'],
    );

    // Each event is counted when it is logged; a TFTP transfer ends at its last ACK, just after the client returns.
    const scrapeA = scraper(client, A);
    let f = await until('the three TFTP transfers in /metrics', () => {
      const m = scrapeA.read();
      return sampleSum(m, 'diskless_tftp_transfers_total') === 3 ? m : undefined;
    });
    // The log as printed up to the last request of the run (the test read no pipe while its clients ran).
    await outA.waitFor(/"path":"\/nothing"/, 10_000, "the run's last event in A's log");
    const events = jsonEvents(outA.log());
    const v = (name: string, labels: Record<string, string> = {}) => sampleValue(f, `diskless_${name}`, labels);
    for (const type of ['offer', 'ack', 'nak', 'ignored']) {
      assert.is(v('dhcp_requests_total', { outcome: type }), events.filter((e) => e.kind === 'dhcp' && e.type === type).length, `dhcp ${type}`);
    }
    assert.ok(v('dhcp_requests_total', { outcome: 'ack' })! >= 1);
    assert.ok(v('dhcp_packets_received_total')! >= v('dhcp_requests_total', { outcome: 'ack' })! + v('dhcp_requests_total', { outcome: 'offer' })!);
    const tftp = events.filter((e) => e.kind === 'tftp');
    assert.is(v('tftp_transfers_total', { status: 'done' }), tftp.filter((e) => e.status === 'done').length);
    assert.is(v('tftp_transfers_total', { status: 'done' }), 2);
    assert.is(v('tftp_errors_total', { kind: 'not_found' }), tftp.filter((e) => e.status === 'error' && /not found/.test(String(e.error))).length);
    assert.is(v('tftp_errors_total', { kind: 'not_found' }), 1);
    assert.is(v('tftp_sent_bytes_total'), tftp.reduce((a, e) => a + Number(e.bytes), 0));
    // HTTP by route and code, but for the replicas' /status polls (not printed without --verbose) and this scrape.
    const http = events.filter((e) => e.kind === 'http');
    const byRoute = new Map<string, number>();
    for (const e of http) {
      const key = `${route(String(e.path)).kind} ${String(e.status)}`;
      byRoute.set(key, (byRoute.get(key) ?? 0) + 1);
    }
    for (const [key, n] of byRoute) {
      const [r, code] = key.split(' ') as [string, string];
      if (r !== 'status' && r !== 'metrics') assert.is(v('http_requests_total', { route: r, code }), n, key);
    }
    assert.equal([...byRoute.keys()].filter((k) => !/^(status|metrics) /.test(k)).sort(), ['artifact 200', 'artifact 404', 'boot-script 200', 'not-found 404']);
    assert.is(v('http_requests_total', { route: 'metrics', code: '200' }) ?? 0, scrapeA.count - 1, 'the scrapes before this one');
    assert.ok(v('http_requests_total', { route: 'status', code: '200' })! > 0, "B's heartbeats are counted, unprinted");
    // (B's pull asks A too: its requests for artifacts are in A's log and counted alike.)
    for (const r of ['artifact', 'not-found']) {
      assert.is(v('http_errors_total', { route: r, class: '4xx' }), http.filter((e) => route(String(e.path)).kind === r && Number(e.status) >= 400).length, `${r} 4xx`);
    }
    // The boot as the status model folds it: the loader over TFTP starts it (udhcpc is no firmware), the
    // missing loader is its first failure, the kernel ends the loader phase, the root the kernel phase.
    assert.is(v('boots_started_total'), 1);
    assert.is(v('boots_failed_total'), 1);
    assert.is(v('boot_failures_total', { kind: 'tftp' }), 1);
    assert.is(v('boot_failures_total', { kind: 'http' }), 1, 'the missing version');
    assert.is(v('boot_phase_seconds_count', { phase: 'loader' }), 1);
    assert.is(v('boot_phase_seconds_count', { phase: 'kernel' }), 1);
    assert.is(v('boots_finished_total'), 0);

    // B: one version pulled, the corrupted one refused, as its log says.
    const scrapeB = scraper(client, B);
    f = await until("B's pull and refusal in its /metrics", () => {
      const m = scrapeB.read();
      return sampleValue(m, 'diskless_sync_pulls_total') === 1 && sampleValue(m, 'diskless_sync_refusals_total', { what: 'image' })! >= 1 ? m : undefined;
    });
    await outB.waitFor(/pulled from 10\.77\.0\.1, every artifact verified/, 10_000, "B's pull in its log");
    await outB.waitFor(/20990101-000000 from 10\.77\.0\.1 not taken/, 10_000, "B's refusal in its log");
    const logB = outB.log();
    assert.is(v('sync_pulls_total'), (logB.match(/pulled from 10\.77\.0\.1, every artifact verified/g) ?? []).length);
    assert.is(v('sync_refusals_total', { what: 'image' }), (logB.match(/20990101-000000 from 10\.77\.0\.1 not taken/g) ?? []).length);
    assert.is(v('sync_refusals_total', { what: 'inventory' }), 0);
    assert.ok(v('sync_rounds_total', { result: 'ok' })! >= 1);
    assert.ok(v('sync_unreachable_total')! >= 1, `${DEAD} never answers`);

    // Liveness on A: itself and B up, the replica that never started dead once --dead-after (3 s) has passed.
    f = await until(`${DEAD} dead on A`, () => {
      const m = scrapeA.read();
      return sampleValue(m, 'diskless_replica_up', { replica: DEAD }) === 0 ? m : undefined;
    });
    assert.is(v('replica_up', { replica: A }), 1);
    assert.is(v('replica_up', { replica: B }), 1);
    assert.ok(v('replica_silent_seconds', { replica: B })! < 3);
    assert.is(v('replica_silent_seconds', { replica: DEAD }), undefined, 'never heard');
    assert.is(v('inventory_version'), 1);
    process.kill(childB.pid!, 'SIGKILL');
    f = await until(`${B} dead on A after its kill`, () => {
      const m = scrapeA.read();
      return sampleValue(m, 'diskless_replica_up', { replica: B }) === 0 ? m : undefined;
    });
    assert.ok(v('replica_silent_seconds', { replica: B })! >= 3);
  } finally {
    await topo.destroy();
    rmSync(work, { recursive: true, force: true });
    rmSync(img.root, { recursive: true, force: true });
  }
});

test.run();
