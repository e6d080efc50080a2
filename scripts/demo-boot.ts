// The main job, after the image is built: start `diskless serve` in a network
// namespace of its own, PXE-boot one diskless node in QEMU from it, show the node's
// console as it boots, and report the boot time. Removes everything it made, also on
// Ctrl-C or SIGTERM; its helpers (serve, radvd, QEMU) die with it even on SIGKILL.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import yargs from 'yargs';
import { createNetns, type Netns } from '../host/netns.js';
import { bootNetwork } from '../host/bridge.js';
import { stripControl, watchOutput } from '../host/output.js';
import { copyOvmfVars, defaultAccel, ovmfMissing, qemuMissing, startNode, type MachineFirmware, type Nic } from '../host/qemu.js';
import { radvdMissing, startRadvd } from '../host/radvd.js';
import { projectRoot } from '../lib/paths.js';

const argv = yargs(process.argv.slice(2))
  .scriptName('demo-boot')
  .usage('$0 [--images DIR] [--image NAME] [--nic e1000|virtio] [--firmware bios|uefi|uefi-http|uefi-secure]\n\nBoot one diskless node in QEMU from `diskless serve`, both in a network namespace of their own.')
  .option('images', { type: 'string', default: './images', describe: 'images folder (build-image --out)' })
  .option('image', { type: 'string', default: 'debian-bookworm-amd64', describe: 'image the node boots: a folder under --images with a current version' })
  .option('nic', { choices: ['e1000', 'virtio'] as const, default: 'virtio' as const, describe: "the node's network card (Debian's iPXE ROM for it)" })
  .option('firmware', {
    choices: ['bios', 'uefi', 'uefi-http', 'uefi-secure'] as const,
    default: 'bios' as const,
    describe: "the node's firmware: SeaBIOS + iPXE ROM; OVMF's own PXE (ipxe.efi over TFTP); OVMF's UEFI HTTP boot; OVMF with Secure Boot (shim, GRUB, signed kernel). UEFI uses OVMF's network stack: virtio",
  })
  .example('$0', 'boot the default Debian image from ./images')
  .example('$0 --firmware uefi-secure', 'the same node through Secure Boot')
  .example('$0 --image ubuntu-noble-amd64 --nic e1000', 'boot another image, with an e1000 card')
  .strict()
  .help()
  .fail((msg, err) => {
    console.error(`demo-boot: ${err?.message ?? msg}\nRun 'demo-boot --help' for usage.`);
    process.exit(2);
  })
  .parseSync();

const images = resolve(argv.images);
const uefi = argv.firmware !== 'bios';
if (uefi && argv.nic !== 'virtio') fail(`--firmware ${argv.firmware} --nic ${argv.nic}: OVMF's own network stack drives virtio only; use --nic virtio`);
const ovmf = uefi ? ovmfMissing() : undefined;
if (ovmf) fail(ovmf);
const missing = qemuMissing();
if (missing) fail(missing);
if (!existsSync(join(images, argv.image, 'current'))) {
  const have = existsSync(images) ? readdirSync(images).filter((d) => existsSync(join(images, d, 'current'))) : [];
  fail(`--image ${argv.image}: no ${join(images, argv.image, 'current')}; ${have.length ? `images there: ${have.join(', ')}` : `build one first: npx build-image debian --out ${argv.images}`}`);
}

function fail(msg: string): never {
  console.error(`demo-boot: ${msg}`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'diskless-demo-'));
writeFileSync(
  join(work, 'cluster.yaml'),
  `cluster: demo
network:
  subnet: 10.77.0.0/24
servers: [10.77.0.1]
defaults:
  image: ${argv.image}
nodes:
  - { name: node01, mac: "52:54:00:77:00:01", ip: 10.77.0.11, firmware: ${argv.firmware} }
`,
);

let ns: Netns | undefined;
async function cleanUp(): Promise<void> {
  await ns?.destroy();
  ns = undefined;
  rmSync(work, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    console.error(`\ndemo-boot: ${sig}: stopping the node and the boot service, removing namespace and ${work}`);
    void cleanUp().finally(() => process.exit(130));
  });
}

let code = 0;
try {
  ns = createNetns('demo');
  const [tap] = bootNetwork(ns, '10.77.0.1/24', 1);
  // A normal network has IPv6 router advertisements; without them iPXE waits ~15 s.
  if (!radvdMissing()) startRadvd(ns, 'br0', join(work, 'radvd.conf'));
  const serve = ns.spawn(
    ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', join(work, 'cluster.yaml'), '--images', images, '--lease-file', join(work, 'leases.json')],
    { cwd: projectRoot() },
  );
  const served = watchOutput(serve);
  serve.stdout?.on('data', (d: Buffer) => process.stdout.write(`[serve] ${d.toString().replace(/\n(?=.)/g, '\n[serve] ')}`));
  await served.waitFor(/serving cluster demo/, 30_000, 'diskless serve');
  const accel = defaultAccel();
  console.log(`demo: booting node01 (${argv.image}, ${argv.nic}, ${argv.firmware}, QEMU ${accel.toUpperCase()}, no disk) from the boot service in namespace ${ns.name}`);
  const started = Date.now();
  const machine: MachineFirmware = argv.firmware === 'uefi-http' ? 'uefi' : argv.firmware;
  const node = startNode(ns, {
    tap: tap!, mac: '52:54:00:77:00:01', nic: argv.nic as Nic, accel, firmware: machine,
    ...(machine === 'bios' ? {} : { uefiVars: copyOvmfVars(work, machine), romfile: '' }),
    // OVMF tries PXE over IPv6 for minutes after IPv4; this network has no IPv6 boot server.
    ...(uefi ? { fwCfg: { 'opt/org.tianocore/IPv6PXESupport': 'n' } } : {}),
  });
  node.stdout?.on('data', (d: Buffer) => process.stdout.write(stripControl(d.toString())));
  const up = await watchOutput(node).waitFor(/diskless: node-up .*/, 300_000, 'node01 to come up');
  console.log(`\ndemo: ${up[0]}`);
  console.log(`demo: node01 booted diskless in ${((Date.now() - started) / 1000).toFixed(1)} s (QEMU start to node-up)`);
} catch (err) {
  console.error(`demo: ${(err as Error).message}`);
  code = 1;
} finally {
  await cleanUp();
}
process.exit(code);
