// DHCP throughput: full DORA exchanges per second from the in-project load
// generator (pxe/dhcp/loadgen.ts, relay-style: giaddr = its own address, replies
// unicast to it on port 67), against our server and against dnsmasq, same run.
// Two namespaces joined by a veth: the server side (10.1.0.1/16) runs one server
// at a time as its own process; the load side (10.1.0.2/16) runs the generator.
// Usage: node --import tsx/esm bench/dhcp.ts [--seconds 5] [--macs 4000] [--concurrency 128]
// Writes bench/results/dhcp.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { createLink } from '../test/helpers/netns.js';
import { inventoryYaml, startOurServer, stop, waitFor } from '../test/pxe/dhcp/nstools.js';
import { projectRoot } from '../lib/paths.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const seconds = arg('seconds', 5);
const nMacs = arg('macs', 4000);
const concurrency = arg('concurrency', 128);

const mac = (i: number) => `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const nodes = Array.from({ length: nMacs }, (_, i) => ({ name: `n${i}`, mac: mac(i), ip: `10.1.${10 + (i >> 8)}.${i & 255}` })).filter((n) => !n.ip.endsWith('.0') && !n.ip.endsWith('.255'));

interface Row {
  server: string;
  exchanges: number;
  perSecond: number;
  failures: number;
  naks: number;
  retransmits: number;
  seconds: number;
}

/** The generator runs as its own process in the load namespace (the server gets the other core). */
async function load(link: ReturnType<typeof createLink>, label: string): Promise<Row> {
  const code = `
    import { runDora } from ${JSON.stringify(join(projectRoot(), 'pxe/dhcp/loadgen.ts'))};
    const macs = ${JSON.stringify(nodes.map((n) => n.mac))};
    // Warm up (JIT, ARP), then measure.
    await runDora({ server: { address: '10.1.0.1' }, relayAddress: '10.1.0.2', macs, durationMs: 1000, concurrency: ${concurrency} });
    const r = await runDora({ server: { address: '10.1.0.1' }, relayAddress: '10.1.0.2', macs, durationMs: ${seconds * 1000}, concurrency: ${concurrency} });
    console.log('RESULT ' + JSON.stringify({ ...r, addresses: r.addresses.size }));
  `;
  const child = link.client.spawn([process.execPath, '--import', 'tsx/esm', '--input-type=module', '-e', code], { cwd: projectRoot() });
  const line = await waitFor(child, /RESULT .*\n/, (seconds + 30) * 1000, 'load generator');
  const r = JSON.parse(line.slice(7)) as { exchanges: number; perSecond: number; failures: number; naks: number; retransmits: number; elapsedMs: number };
  return { server: label, exchanges: r.exchanges, perSecond: Math.round(r.perSecond), failures: r.failures, naks: r.naks, retransmits: r.retransmits, seconds: +(r.elapsedMs / 1000).toFixed(2) };
}

const work = mkdtempSync(join(tmpdir(), 'dl-bench-dhcp-'));
const rows: Row[] = [];
const link = createLink({ serverCidr: '10.1.0.1/16', clientCidr: '10.1.0.2/16' });
try {
  // Ours.
  const inv = inventoryYaml('10.1.0.0/16', '10.1.0.1', '10.1.0.1', nodes);
  const ours = await startOurServer(link.server, work, { inventoryText: inv, serverIp: '10.1.0.1', httpPort: 8080, quiet: true });
  rows.push(await load(link, 'diskless'));
  await stop(ours.child);
  // dnsmasq, same reservations, no ping, lease file in the work dir.
  const hosts = join(work, 'hosts');
  writeFileSync(hosts, nodes.map((n) => `${n.mac},${n.ip}`).join('\n') + '\n');
  for (const [label, extra] of [['dnsmasq', [`--dhcp-leasefile=${join(work, 'dnsmasq.leases')}`]], ['dnsmasq --leasefile-ro', ['--leasefile-ro']]] as const) {
    const dnsmasq = link.server.spawn([
      'dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=0', `--interface=${link.serverIf}`, '--bind-interfaces',
      '--dhcp-range=10.1.0.0,static,255.255.0.0', `--dhcp-hostsfile=${hosts}`, '--no-ping', '--dhcp-authoritative',
      ...extra, `--pid-file=${join(work, 'dnsmasq.pid')}`, '--user=root', '--quiet-dhcp',
    ]);
    await waitFor(dnsmasq, /DHCP, (IP range|static leases)/, 15_000, 'dnsmasq');
    rows.push(await load(link, label));
    await stop(dnsmasq);
  }
} finally {
  await link.destroy();
  rmSync(work, { recursive: true, force: true });
}

const ratio = rows[0] && rows[1] ? +(rows[0].perSecond / Math.max(1, rows[1].perSecond)).toFixed(2) : undefined;
const result = { date: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model }, seconds, macs: nodes.length, concurrency, rows, ratioOursToDnsmasq: ratio, goal: '>= 10000 DORA/s' };
mkdirSync(join(projectRoot(), 'bench/results'), { recursive: true });
writeFileSync(join(projectRoot(), 'bench/results/dhcp.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log('| server | DORA/s | exchanges | failures | NAKs | retransmits | seconds |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) console.log(`| ${r.server} | ${r.perSecond} | ${r.exchanges} | ${r.failures} | ${r.naks} | ${r.retransmits} | ${r.seconds} |`);
console.log(`ratio diskless/dnsmasq: ${ratio}`);
