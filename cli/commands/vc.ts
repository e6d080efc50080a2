// `diskless vc <command>`: thin yargs module for virtual clusters; the operations
// (vc/ops/) load lazily.
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';

export interface VcCommonArgs {
  'state-dir': string;
  connect: string;
  virt?: 'kvm' | 'qemu';
  verbose: boolean;
}

export interface VcArgs extends VcCommonArgs {
  name?: string;
  file?: string;
  images: string;
  start: boolean;
  json: boolean;
  timeout: number;
  [spec: string]: unknown;
}

const SPEC_FLAG_NAMES = ['image', 'nodes', 'vcpus', 'memory', 'network', 'placement', 'cores', 'scratch', 'gateway', 'append'];

function common(y: Argv): Argv {
  return y
    .option('state-dir', { type: 'string', default: '/var/lib/diskless/vc', describe: 'state of every VC (state.json) and its files: scratch disks, console logs, save files' })
    .option('connect', { alias: 'c', type: 'string', default: 'qemu:///system', describe: 'libvirt URI of the host' })
    .option('virt', { choices: ['kvm', 'qemu'] as const, describe: "domain type: kvm, or qemu (TCG, no hardware virtualization); default: kvm where the host's libvirt offers it" })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'print every virsh and qemu-img command' });
}

function createBuilder(y: Argv): Argv {
  return y
    .positional('name', { type: 'string', describe: 'VC name: 1-12 lower-case letters, digits, dashes; VMs are NAME-1, NAME-2, ...' })
    .option('file', { alias: 'f', type: 'string', describe: 'vc.yaml declaring the VC (name, image, nodes, vcpus, memory, network, placement, cores, scratch, gateway, append)' })
    .option('image', { type: 'string', describe: 'image name, or name/version; default version: the current one' })
    .option('nodes', { type: 'string', describe: 'number of VMs' })
    .option('vcpus', { type: 'string', describe: 'vCPUs per VM (default 1)' })
    .option('memory', { type: 'string', describe: 'memory per VM, e.g. 512M, 2G (default 512M)' })
    .option('network', { type: 'string', describe: 'the VC network (CIDR); default: the first free /24 of 10.213.0.0/16' })
    .option('placement', { choices: ['block', 'cyclic'] as const, describe: 'block fills a host before the next; cyclic deals VMs round-robin (default block)' })
    .option('cores', { choices: ['strict', 'free'] as const, describe: 'strict pins each vCPU to its own core; free lets vCPUs share cores (default free)' })
    .option('scratch', { type: 'string', describe: 'the writable upper layer: disk:SIZE (a copy-on-write disk, kept across stop/start) or ram (tmpfs, lost on stop) (default disk:1G)' })
    .option('gateway', { type: 'boolean', describe: 'NAT through the host (default: an isolated network, no route out)' })
    .option('append', { type: 'string', describe: "extra kernel arguments for every VM, after the VC's own (e.g. diskless.selftest=1)" })
    .option('images', { type: 'string', default: './images', describe: 'images folder written by build-image' })
    .option('start', { type: 'boolean', default: false, describe: 'start the VMs once made, showing each one' })
    .check((a) => {
      if (a.file !== undefined && (a.name !== undefined || SPEC_FLAG_NAMES.some((k) => a[k] !== undefined))) {
        return '-f declares the whole VC: give no NAME, --image, --nodes or other VC flags with it';
      }
      if (a.file === undefined && a.name === undefined) return 'name the VC (diskless vc create NAME --image IMG --nodes N), or declare it with -f vc.yaml';
      return true;
    })
    .example('$0 vc create lab --image debian-bookworm-amd64 --nodes 3 --start', 'three VMs lab-1..lab-3 on the first free 10.213.x.0/24, started')
    .example('$0 vc create hpc --image debian-bookworm-amd64/20260101-1200 --nodes 4 --vcpus 2 --cores strict', 'each vCPU pinned to its own core; refused when the host has too few free')
    .example('$0 vc create web --image debian-bookworm-amd64 --nodes 2 --network 10.50.0.0/28 --gateway --scratch ram', 'a small network with NAT out; the upper layer in RAM')
    .example('$0 vc create -f vc.yaml --start', 'the same fields, declared in a file');
}

const named = (_verb: string) => (y: Argv) => y.positional('name', { type: 'string', demandOption: true, describe: 'VC name' });

function builder(y: Argv): Argv {
  return common(y)
    .command('create [name]', 'make a VC: its network, a scratch disk per VM, the VMs (defined, started with --start)', createBuilder, run)
    .command('start <name>', 'start every VM of the VC (restores it when it was saved; finishes an interrupted create)', named('start'), run)
    .command('stop <name>', 'ACPI shutdown of every VM, powered off after --timeout', (s) =>
      named('stop')(s).option('timeout', { type: 'number', default: 60, describe: 'seconds to wait for the guests to shut down before powering them off' }), run)
    .command('save <name>', 'pause every VM (one instant for the whole VC), then save each to a file', named('save'), run)
    .command('restore <name>', 'restore every VM paused, then resume them together', named('restore'), run)
    .command('destroy <name>', 'remove the VMs, their disks, save files and console logs, the network and the record', named('destroy'), run)
    .command('list', 'every VC, with its phase and how many VMs run', (s) => s.option('json', { type: 'boolean', default: false, describe: 'JSON array instead of a table' }), run)
    .command('show <name>', 'per VM: name, host, state, address, vCPUs, pinned cores, memory, console log', (s) =>
      named('show')(s).option('json', { type: 'boolean', default: false, describe: 'JSON instead of a table' }), run)
    .demandCommand(1, 'Name a vc command: create, start, stop, save, restore, destroy, list, show.')
    .example('$0 vc create lab --image debian-bookworm-amd64 --nodes 3 --start', 'make and start a 3-VM VC, then print its table')
    .example('$0 vc show lab', 'what the record says beside what libvirt reports, VM by VM')
    .example('$0 vc save lab && $0 vc restore lab', 'freeze the whole VC at one instant, bring it back later')
    .example('$0 vc stop lab --timeout 30 && $0 vc start lab', 'shut the guests down (power off after 30s), boot them again')
    .example('$0 vc destroy lab', 'remove everything the VC has: domains, disks, network, state entry')
    .example('$0 vc list --json | jq .', 'every VC as JSON')
    .epilog(
      'Each VC is one object: a private network (isolated unless --gateway), VMs NAME-1..NAME-N that boot the\n' +
        "image's kernel and initrd with its root image attached read-only and shared, and a copy-on-write scratch\n" +
        'disk each. Every command compares the record under --state-dir with what libvirt reports and does only\n' +
        'what is missing, so after an interrupted command `vc show` tells what is there and `vc destroy` cleans up.\n' +
        'Needs root and a running libvirtd (without systemd: virtlogd -d; libvirtd -d).',
    );
}

async function handler(argv: VcArgs): Promise<void> {
  const verb = String((argv._ as unknown[])[1] ?? '');
  const [ops, { FileStore }, { driverFor }, { consoleLogger }, spec, { ConfigError }] = await Promise.all([
    import('../../vc/ops/index.js'),
    import('../../vc/store/file.js'),
    import('../../vc/drivers/index.js'),
    import('../../lib/log.js'),
    import('../../vc/spec.js'),
    import('../../lib/yamlfile.js'),
  ]);
  const log = consoleLogger({ verbose: argv.verbose });
  const stateDir = resolve(argv['state-dir']);
  if (verb === 'stop' && (!Number.isFinite(argv.timeout) || argv.timeout < 0)) usage(`--timeout ${argv.timeout}: give the seconds to wait, e.g. 60`, 'stop');
  const ctx = ops.opsContext({
    store: new FileStore({ dir: stateDir, owner: `vc ${verb}${argv.name ? ` ${argv.name}` : ''} (pid ${process.pid})` }),
    driver: driverFor('libvirt', { uri: argv.connect, virtType: argv.virt, log }),
    stateDir,
    log,
    shutdownTimeoutMs: Math.round((argv.timeout ?? 60) * 1000),
  });
  const name = argv.name!;
  const out = (s: string): void => {
    process.stdout.write(s);
  };
  switch (verb) {
    case 'create': {
      const file = argv.file;
      const input = {
        imagesDir: resolve(argv.images),
        start: argv.start,
        spec: (o: import('../../vc/spec.js').SpecOptions) => (file ? spec.loadSpecFile(resolve(file), o) : spec.specFromFlags(spec.pickSpecFlags(argv), o)),
      };
      try {
        // The flags are checked before the state dir is touched; the spec is made again once the used networks are known.
        if (!file) spec.specFromFlags(spec.pickSpecFlags(argv));
        const rec = await ops.createVcOp(ctx, input);
        return out(ops.formatShow(await ops.showOp(ctx, rec.spec.name)));
      } catch (err) {
        if (err instanceof ConfigError && err.file === 'command line') usage(err.message, 'create');
        throw err;
      }
    }
    case 'start':
      await ops.startOp(ctx, name);
      return out(ops.formatShow(await ops.showOp(ctx, name)));
    case 'stop':
      await ops.stopOp(ctx, name);
      return out(ops.formatShow(await ops.showOp(ctx, name)));
    case 'save':
      await ops.saveOp(ctx, name);
      return;
    case 'restore':
      await ops.restoreOp(ctx, name);
      return out(ops.formatShow(await ops.showOp(ctx, name)));
    case 'destroy':
      return ops.destroyOp(ctx, name);
    case 'list': {
      const vs = await ops.listOp(ctx);
      return out(argv.json ? `${JSON.stringify(vs, null, 2)}\n` : ops.formatList(vs));
    }
    case 'show': {
      const v = await ops.showOp(ctx, name);
      return out(argv.json ? `${JSON.stringify(v, null, 2)}\n` : ops.formatShow(v));
    }
  }
}

const run = (argv: unknown) => handler(argv as VcArgs);

/** A bad argument found past yargs: exit 2 with the pointer to --help, as yargs does. */
function usage(message: string, verb: string): never {
  process.stderr.write(`error: ${message}\nRun 'diskless vc ${verb} --help' for usage.\n`);
  process.exit(2);
}

export const vcCommand: CommandModule<object, VcArgs> = {
  command: 'vc',
  describe: 'virtual clusters on libvirt: create, start, stop, save, restore, destroy, list, show',
  builder: builder as unknown as CommandModule<object, VcArgs>['builder'],
  handler: () => {},
};
