// A boot storm: N simulated nodes (client.ts) booting at once, at most `concurrency`
// at a time, over one shared DHCP transport. Reports per-node boot times and failures.
import { bootClient, type ClientOptions, type ClientResult } from './client.js';
import type { DhcpTransport } from './transport.js';

export interface StormOptions extends Omit<ClientOptions, 'mac' | 'transport'> {
  macs: string[];
  transport: DhcpTransport;
  /** Nodes booting at the same time (default: all of them). */
  concurrency?: number;
  /** Called as each node finishes, with how many have. */
  onDone?: (r: ClientResult, done: number) => void;
}

export interface Stats {
  min: number;
  median: number;
  p95: number;
  max: number;
}

export interface StormResult {
  clients: ClientResult[];
  booted: number;
  failed: number;
  /** From the first DISCOVER to the last node booted (or given up). */
  elapsedMs: number;
  /** Per-node total boot time of the nodes that booted, in ms. */
  total?: Stats;
  dhcp?: Stats;
  script?: Stats;
  files?: Stats;
  /** With `initrd`: from `boot` to a good root image. */
  root?: Stats;
  retransmits: number;
  reboots: number;
  fallbacks: number;
}

/** Nearest-rank percentile of sorted values. */
function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function stats(values: number[]): Stats | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return { min: round(s[0]!), median: round(pct(s, 50)), p95: round(pct(s, 95)), max: round(s[s.length - 1]!) };
}

export async function runStorm(o: StormOptions): Promise<StormResult> {
  const { macs, transport, concurrency, onDone, ...client } = o;
  const results: ClientResult[] = new Array(macs.length);
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < macs.length) {
      const k = next++;
      results[k] = await bootClient({ ...client, mac: macs[k]!, transport });
      onDone?.(results[k]!, ++done);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(macs.length, concurrency ?? macs.length)) }, worker));
  const ok = results.filter((r) => r.ok);
  const sum = (f: (r: ClientResult) => number) => results.reduce((n, r) => n + f(r), 0);
  return {
    clients: results,
    booted: ok.length,
    failed: results.length - ok.length,
    elapsedMs: performance.now() - t0,
    total: stats(ok.map((r) => r.totalMs)),
    dhcp: stats(ok.map((r) => r.dhcpMs!)),
    script: stats(ok.map((r) => r.scriptMs!)),
    files: stats(ok.map((r) => r.filesMs!)),
    root: stats(ok.flatMap((r) => (r.rootMs === undefined ? [] : [r.rootMs]))),
    retransmits: sum((r) => r.retransmits),
    reboots: sum((r) => r.reboots),
    fallbacks: sum((r) => r.fallbacks),
  };
}

/** A short text table of a storm's figures, for test and bench output. */
export function formatStorm(label: string, r: StormResult): string {
  const row = (name: string, s?: Stats) => (s ? `  ${name.padEnd(7)} min ${s.min} ms, median ${s.median} ms, p95 ${s.p95} ms, max ${s.max} ms` : `  ${name}: none booted`);
  const failures = r.clients.filter((c) => !c.ok).map((c) => `  FAILED ${c.mac}: ${c.error}`);
  return [
    `${label}: ${r.booted}/${r.clients.length} booted in ${Math.round(r.elapsedMs)} ms; ${r.retransmits} DHCP retransmits, ${r.fallbacks} replica fallbacks, ${r.reboots} reboots`,
    row('total', r.total),
    row('dhcp', r.dhcp),
    row('script', r.script),
    row('files', r.files),
    ...(r.root ? [row('root', r.root)] : []),
    ...failures.slice(0, 20),
    ...(failures.length > 20 ? [`  ... and ${failures.length - 20} more`] : []),
  ].join('\n');
}
