// Runs one storm inside a network namespace (the caller spawns this there) and prints
// `DONE <n>` as each node finishes, then `RESULT <json>`. Used by storm.test.ts and
// bench/storm.ts: a test process cannot enter a namespace itself.
// Argument: JSON of RunConfig.
import { broadcastTransport, relayTransport } from './transport.js';
import { runStorm, type StormOptions } from './storm.js';

export interface RunConfig {
  transport: 'broadcast' | 'relay';
  /** Our address on the segment (broadcast: the send socket's; relay: giaddr). */
  localAddress: string;
  /** DHCP servers, for the relay. */
  servers?: string[];
  macs: string[];
  concurrency?: number;
  timeScale?: number;
  maxBoots?: number;
  /** Also fetch the root image (this file, beside the kernel). */
  rootFile?: string;
  /** Fetch over HTTP from the leased address (the caller adds the nodes' addresses to this namespace), as real nodes do. */
  httpFromLeased?: boolean;
  /** Play the initrd too: root image, its sha256, reports of init and up (tools/storm/initrd.ts). */
  initrd?: StormOptions['initrd'];
}

const cfg = JSON.parse(process.argv[2]!) as RunConfig;
const transport =
  cfg.transport === 'broadcast'
    ? await broadcastTransport({ localAddress: cfg.localAddress })
    : await relayTransport({ relayAddress: cfg.localAddress, servers: cfg.servers ?? [] });
console.log('READY');
const r = await runStorm({
  macs: cfg.macs,
  transport,
  concurrency: cfg.concurrency,
  timeScale: cfg.timeScale,
  maxBoots: cfg.maxBoots,
  rootFile: cfg.rootFile,
  initrd: cfg.initrd,
  httpLocalAddress: cfg.httpFromLeased ? (leased) => leased : undefined,
  onDone: (_c, n) => console.log(`DONE ${n}`),
});
await transport.close();
process.stdout.write(`RESULT ${JSON.stringify(r)}\n`, () => process.exit(0));
