// `diskless serve`: thin yargs module; the servers load lazily.
import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { existsSync } from 'node:fs';

export interface ServeArgs {
  inventory: string;
  join?: string;
  images: string;
  address?: string;
  'http-port': number;
  'tftp-port': number;
  'dhcp-port': number;
  dhcp: boolean;
  tftp: boolean;
  'proxy-dhcp': boolean;
  'lease-file': string;
  'ipxe-dir': string;
  templates?: string;
  'boot-templates'?: string;
  'log-format': 'text' | 'json';
  'sync-interval': number;
  'dead-after': number;
  'http-max-connections': number;
  'http-max-per-client': number;
  'http-cache-mb'?: number;
  verbose: boolean;
  trust?: string;
  'vc-state': string;
}

function builder(y: Argv): Argv<ServeArgs> {
  return y
    .option('inventory', { alias: 'i', type: 'string', demandOption: true, describe: 'cluster inventory (cluster.yaml): nodes by MAC with name, IP, image, role' })
    .option('join', { type: 'string', describe: 'host[:port],... of running replicas: when --inventory does not exist yet, take it from the first that answers (then images come by the sync loop)' })
    .option('images', { type: 'string', default: './images', describe: 'images folder written by build-image (<name>/<version>/, <name>/current)' })
    .option('address', { type: 'string', describe: "this replica's IP: DHCP server identifier and next-server (default: the local address listed in the inventory's servers)" })
    .option('http-port', { type: 'number', default: 80, describe: 'HTTP: boot scripts /boot/<mac>.ipxe and .grub.cfg, images /images/<name>/<version>/<file>, /ipxe/<binary>, /status, /inventory' })
    .option('tftp-port', { type: 'number', default: 69, describe: 'TFTP: iPXE binaries (undionly.kpxe, ipxe.efi, snponly.efi) and boot/<mac>.ipxe' })
    .option('dhcp-port', { type: 'number', default: 67, describe: 'DHCP server port (clients are answered on 68, relays on 67)' })
    .option('dhcp', { type: 'boolean', default: true, describe: 'answer DHCP (--no-dhcp when another service does it and you do not want proxyDHCP)' })
    .option('tftp', { type: 'boolean', default: true, describe: 'serve TFTP (--no-tftp for HTTP-only iPXE networks: PXE clients whose boot file comes over TFTP then get no answer from this replica, so one with TFTP answers them)' })
    .option('proxy-dhcp', { type: 'boolean', default: false, describe: 'another DHCP server gives addresses: answer only the PXE part, on the DHCP port and 4011' })
    .option('lease-file', { type: 'string', default: '/var/lib/diskless/leases.json', describe: 'dynamic-pool leases, saved atomically' })
    .option('ipxe-dir', { type: 'string', default: '/usr/lib/ipxe', describe: "iPXE binaries (Debian's ipxe package)" })
    .option('templates', { type: 'string', describe: "distributions' templates folder: a <distro>/boot/*.mustache in it replaces the shared boot template for that distribution's images (default: the one shipped with diskless)" })
    .option('boot-templates', { type: 'string', describe: 'shared boot-script templates: linux.ipxe, xen-dom0.ipxe, grub.cfg, error.ipxe, bootstrap.grub.cfg (.mustache) (default: pxe/templates/ shipped with diskless)' })
    .option('sync-interval', { type: 'number', default: 30, describe: "seconds between pulls from the other replicas: image versions they hold (every artifact verified against its manifest) and newer inventories; 0 turns it off" })
    .option('dead-after', { type: 'number', default: 90, describe: "seconds without an answer from a replica before the others take over its share of the dynamic pool" })
    .option('http-max-connections', { type: 'number', default: 4096, describe: 'HTTP connections open at once, in all; more are closed at accept' })
    .option('http-max-per-client', { type: 'number', default: 32, describe: 'HTTP connections open at once from one client address (a node needs 1-2); more get 503. Raise it when many nodes reach us through one NAT address' })
    .option('http-cache-mb', { type: 'number', describe: 'memory for image artifacts held whole, so a boot storm is sent from memory (the least recently fetched go first; 0: always from disk). Default: off when --images is on tmpfs/ramfs, else min(1024, total memory/8)' })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const, describe: 'one line per boot event: human text or JSON' })
    .option('trust', { type: 'string', describe: 'the cluster public key (diskless keygen): take the inventory (local file, reloads, peers, --join) and image manifests only with a valid signature by it' })
    .option('vc-state', { type: 'string', default: '/var/lib/diskless/vc', describe: "the virtual clusters' state store (diskless vc --state-dir): /cluster and diskless status show its VCs when it holds a state.json" })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: "log every ignored packet and debug detail, and the replicas' /status requests (heartbeats)" })
    .example('$0 serve -i cluster.yaml --images ./images', 'serve the cluster from this node (DHCP 67, TFTP 69, HTTP 80)')
    .example('$0 serve -i cluster.yaml --proxy-dhcp --http-port 8080', 'PXE only, next to an existing DHCP server')
    .example('$0 serve -i cluster.yaml --log-format json | jq .', 'boot events as JSON lines')
    .example('$0 serve -i cluster.yaml --trust /etc/diskless/trust.pub', 'take only inventories and images signed with the cluster key (diskless keygen, diskless sign)')
    .example('$0 serve -i /var/lib/diskless/cluster.yaml --images /var/lib/diskless/images --join 10.77.0.1', 'a new replica: inventory and images from a running one')
    .epilog(
      'Run the same command on every replica: all read the same inventory and give the same answers.\n' +
        'The inventory is reloaded on SIGHUP and when the file changes; a reload that fails validation\n' +
        'is logged and the previous inventory stays in service. Ports below 1024 need root.',
    ) as unknown as Argv<ServeArgs>;
}

async function handler(argv: ServeArgs): Promise<void> {
  const [{ startService }, { EventLog }, paths] = await Promise.all([
    import('../../pxe/service.js'),
    import('../../pxe/events.js'),
    import('../../lib/paths.js'),
  ]);
  for (const p of ['http-port', 'tftp-port', 'dhcp-port'] as const) {
    if (!Number.isInteger(argv[p]) || argv[p] < 0 || argv[p] > 65535) throw new Error(`--${p} ${argv[p]}: give a port number from 0 to 65535`);
  }
  for (const p of ['http-max-connections', 'http-max-per-client'] as const) {
    if (!Number.isInteger(argv[p]) || argv[p] < 1) throw new Error(`--${p} ${argv[p]}: give a whole number of connections, at least 1`);
  }
  if (argv['http-cache-mb'] !== undefined && (!Number.isInteger(argv['http-cache-mb']) || argv['http-cache-mb'] < 0)) throw new Error(`--http-cache-mb ${argv['http-cache-mb']}: give whole MiB, 0 for none`);
  const events = new EventLog({ format: argv['log-format'] });
  const templatesDir = resolve(argv.templates ?? paths.defaultTemplatesDir());
  const bootTemplatesDir = resolve(argv['boot-templates'] ?? paths.defaultBootTemplatesDir());
  if (!existsSync(join(bootTemplatesDir, 'linux.ipxe.mustache'))) {
    throw new Error(`--boot-templates ${bootTemplatesDir}: no linux.ipxe.mustache there; give a folder laid out like pxe/templates/ (copy it to start)`);
  }
  // Earlier versions kept the shared boot templates in <templates>/boot/: a customised copy there is not read now.
  if (existsSync(join(templatesDir, 'boot')) && !existsSync(join(templatesDir, 'boot', 'template.yaml'))) {
    events.emit({ kind: 'service', message: `warning: ${join(templatesDir, 'boot')} is not read: shared boot templates come from --boot-templates (now ${bootTemplatesDir}), a distribution's own from ${join(templatesDir, '<distro>', 'boot')}` });
  }
  const trust = argv.trust ? await (await import('../../lib/sign.js')).loadTrustKey(resolve(argv.trust)) : undefined;
  if (argv.join !== undefined && !existsSync(resolve(argv.inventory))) {
    const { joinCluster } = await import('../../pxe/replica/join.js');
    const peers = argv.join.split(',').map((p) => p.trim()).filter(Boolean);
    if (peers.length === 0) throw new Error('--join: give the replicas to join as host[:port],...');
    const { inventory, from } = await joinCluster({ peers, inventoryFile: resolve(argv.inventory), log: events.logger(argv.verbose), trust });
    events.emit({ kind: 'service', message: `joined cluster ${inventory.cluster} (inventory version ${inventory.version}) from ${from}; images follow by sync` });
  }
  const svc = await startService(
    {
      inventoryFile: resolve(argv.inventory),
      imagesDir: resolve(argv.images),
      templatesDir,
      bootTemplatesDir,
      ipxeDir: resolve(argv['ipxe-dir']),
      address: argv.address,
      httpPort: argv['http-port'],
      tftpPort: argv['tftp-port'],
      dhcpPort: argv['dhcp-port'],
      dhcp: argv.dhcp,
      tftp: argv.tftp,
      proxyDhcp: argv['proxy-dhcp'],
      leaseFile: resolve(argv['lease-file']),
      verbose: argv.verbose,
      syncInterval: argv['sync-interval'],
      deadAfter: argv['dead-after'],
      httpLimits: { maxConnections: argv['http-max-connections'], maxConnectionsPerClient: argv['http-max-per-client'] },
      httpCacheBytes: argv['http-cache-mb'] === undefined ? undefined : argv['http-cache-mb'] * 1024 * 1024,
      trust,
      vcStateDir: resolve(argv['vc-state']),
    },
    events,
  );
  process.on('SIGHUP', () => void svc.reload('SIGHUP'));
  await new Promise<void>((done) => {
    const stop = (sig: string) => {
      events.emit({ kind: 'service', message: `${sig}: stopping` });
      svc.close().then(done, done);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'run the boot service (DHCP/PXE, TFTP, HTTP) for the cluster in the inventory',
  builder: builder as CommandModule<object, ServeArgs>['builder'],
  handler,
};
