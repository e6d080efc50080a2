// `diskless build-image <distro>`: thin yargs module; the pipeline loads lazily.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';

export interface BuildImageArgs {
  distro: string;
  out: string;
  name?: string;
  format?: 'squashfs' | 'erofs';
  compression?: 'zstd' | 'gzip';
  'from-tar'?: string;
  variant?: string;
  cache: boolean;
  'cache-dir': string;
  templates?: string;
  overlays?: string;
  keep: number;
  'sign-key'?: string;
  service: boolean;
  live: boolean;
  inventory?: string;
  bundle?: string[];
  verbose: boolean;
}

// Builds run as root, so the system cache folder is the natural default.
const defaultCacheDir = () =>
  process.getuid?.() === 0 ? '/var/cache/diskless' : join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'diskless');

/** `verb` is how the examples spell the command: `$0 build-image` or, for the build-image bin, `$0`. */
export function builder(y: Argv, verb = '$0 build-image'): Argv<BuildImageArgs> {
  return y
    .positional('distro', { type: 'string', demandOption: true, describe: 'template name: a folder under templates/ (debian, ubuntu, ...)' })
    .option('out', { type: 'string', default: './images', describe: 'where image versions are written: OUT/<name>/<version>/ and OUT/<name>/current' })
    .option('name', { type: 'string', describe: 'image name (default <distro>-<suite>-<arch>)' })
    .option('format', { choices: ['squashfs', 'erofs'] as const, describe: 'read-only root image format (default from the template: squashfs)' })
    .option('compression', { choices: ['zstd', 'gzip'] as const, describe: 'initrd compression (default from the template)' })
    .option('variant', { type: 'string', describe: "template variant, e.g. xen-dom0 (adds the hypervisor and ships it as an artifact); the name gets '-<variant>'" })
    .option('from-tar', { type: 'string', describe: 'build from this root-filesystem tarball (.tar, .tar.gz, .tar.xz, .tar.zst) instead of bootstrapping' })
    .option('cache', { type: 'boolean', default: true, describe: 'reuse a cached bootstrap when the template is unchanged (--no-cache forces a fresh one)' })
    .option('cache-dir', { type: 'string', default: defaultCacheDir(), describe: 'where bootstrapped roots are cached' })
    .option('templates', { type: 'string', describe: 'templates folder (default: the one shipped with diskless)' })
    .option('overlays', { type: 'string', describe: 'overlays folder (default: the one shipped with diskless)' })
    .option('keep', { type: 'number', default: 3, describe: 'how many versions to keep per image besides current; carried in the manifest, so every replica keeps the same; 0 keeps all' })
    .option('sign-key', { type: 'string', describe: 'sign manifest.json with this private key (diskless keygen); replicas with --trust take only signed images, and the service layer carries the public key' })
    .option('service', { type: 'boolean', default: false, describe: 'also make service.squashfs: diskless itself as a layer, so nodes listed under servers: in the inventory run a replica of the boot service (implied by --live)' })
    .option('live', { type: 'boolean', default: false, describe: 'also make OUT/<name>/<version>/live.iso: a BIOS+UEFI CD/USB medium that boots this image from RAM and serves --inventory (start a cluster with no node running)' })
    .option('inventory', { alias: 'i', type: 'string', describe: 'with --live: the cluster.yaml the live node serves; its boot menu has one entry per servers: address' })
    .option('bundle', { type: 'string', array: true, describe: 'with --live: more images from OUT (their current versions) to put on the medium, e.g. --bundle debian-bookworm-amd64-xen-dom0' })
    .check((a) => {
      // A string (not a throw) is a usage error: exit 2 with the pointer to --help.
      if (a.live && !a.inventory) return '--live needs --inventory cluster.yaml: the inventory the live node serves';
      if (!a.live && (a.inventory || a.bundle)) return `--${a.inventory ? 'inventory' : 'bundle'} only applies with --live`;
      return true;
    })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'print every command and every line of step detail' })
    .example(`${verb} debian`, 'Debian bookworm image in ./images/debian-bookworm-amd64/<version>/')
    .example(`${verb} ubuntu --format erofs`, 'Ubuntu noble with an EROFS root image')
    .example(`${verb} debian --from-tar rootfs.tar.zst --name custom`, 'image from a root tarball made elsewhere')
    .example(`${verb} debian --variant xen-dom0`, 'Xen dom0 image: hypervisor, tools, dom0 kernel and initrd')
    .example(`${verb} debian --live -i cluster.yaml`, 'also a live.iso that boots the first node and serves cluster.yaml from RAM')
    .example(`${verb} debian --no-cache`, 'fresh bootstrap, ignoring the cache')
    .epilog(
      'Steps: bootstrap, customize, kernel, trim, firmware, root-image, (service,) initrd, manifest, (live,) publish. Each prints its time.\n' +
        'The new version becomes OUT/<name>/current only when every step has passed; a failed or\n' +
        'interrupted build leaves the previous current untouched. Needs root (mmdebstrap, mknod, chown).',
    ) as unknown as Argv<BuildImageArgs>;
}

export async function handler(argv: BuildImageArgs): Promise<void> {
  const [{ buildImage }, { consoleLogger }, paths, { ttyStatusLine }] = await Promise.all([
    import('../../builders/pipeline.js'),
    import('../../lib/log.js'),
    import('../../lib/paths.js'),
    import('../../lib/status-line.js'),
  ]);
  // Arguments first, then (in buildImage, once the template and inventory check out) the root check.
  if (!Number.isInteger(argv.keep) || argv.keep < 0) throw new Error(`--keep ${argv.keep}: give a whole number of versions, 0 to keep all`);
  // On a terminal the running step's progress is one line redrawn in place; elsewhere it is in the heartbeats.
  const tty = process.stderr.isTTY ? ttyStatusLine(process.stderr) : undefined;
  const log = tty ? tty.logger(consoleLogger({ verbose: argv.verbose })) : consoleLogger({ verbose: argv.verbose });
  const ac = new AbortController();
  // `on`, not `once`: execa's exit hook re-raises a signal that has no other listener.
  const onSignal = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      log.info(`${sig} again: exiting now; the next build removes the staging folder`);
      process.exit(130);
    }
    log.info(`${sig}: stopping the build and removing its staging folder`);
    ac.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const res = await buildImage(
      {
        distro: argv.distro,
        templatesDir: resolve(argv.templates ?? paths.defaultTemplatesDir()),
        overlaysDir: resolve(argv.overlays ?? paths.defaultOverlaysDir()),
        outDir: resolve(argv.out),
        cacheDir: resolve(argv['cache-dir']),
        name: argv.name,
        format: argv.format,
        compression: argv.compression,
        fromTar: argv['from-tar'] ? resolve(argv['from-tar']) : undefined,
        noCache: !argv.cache,
        variant: argv.variant,
        keep: argv.keep,
        signKey: argv['sign-key'] ? resolve(argv['sign-key']) : undefined,
        service: argv.service,
        live: argv.live ? { inventory: resolve(argv.inventory!), bundle: argv.bundle?.map(String) } : undefined,
      },
      { log, signal: ac.signal, status: tty?.status },
    );
    log.info(`built ${res.name} ${res.version} in ${res.seconds.toFixed(1)}s: ${res.dir}`);
    if (ac.signal.aborted) process.exitCode = 130;
  } catch (err) {
    if (ac.signal.aborted) {
      log.info('build interrupted; the previous current version is untouched');
      process.exitCode = 130;
      return;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function buildImageCommand(standalone = false): CommandModule<object, BuildImageArgs> {
  return {
    command: standalone ? '$0 <distro>' : 'build-image <distro>',
    describe: 'build a network-boot image: kernel, initrd, read-only root image, manifest',
    builder: ((y: Argv) => builder(y, standalone ? '$0' : '$0 build-image')) as CommandModule<object, BuildImageArgs>['builder'],
    handler,
  };
}
