// The main job, after the image is built: start `diskless serve` in a network
// namespace of its own, PXE-boot one diskless node in QEMU from it, show the node's
// console as it boots, and report the boot time. Removes everything it made.
// Usage: node --import tsx/esm scripts/demo-boot.ts [--images DIR] [--nic e1000|virtio]
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createNetns } from '../host/netns.js';
import { bootNetwork } from '../host/bridge.js';
import { watchOutput } from '../host/output.js';
import { defaultAccel, qemuMissing, startNode, type Nic } from '../host/qemu.js';
import { radvdMissing, startRadvd } from '../host/radvd.js';
import { projectRoot } from '../lib/paths.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
};
const images = resolve(arg('images', './images'));
const nic = arg('nic', 'virtio') as Nic;
const missing = qemuMissing();
if (missing) {
  console.error(`demo: ${missing}`);
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
  image: debian-bookworm-amd64
nodes:
  - { name: node01, mac: "52:54:00:77:00:01", ip: 10.77.0.11 }
`,
);
const ns = createNetns('demo');
let code = 0;
try {
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
  console.log(`demo: booting node01 (${nic}, QEMU ${accel.toUpperCase()}, no disk) from the boot service in namespace ${ns.name}`);
  const started = Date.now();
  const node = startNode(ns, { tap: tap!, mac: '52:54:00:77:00:01', nic, accel });
  node.stdout?.on('data', (d: Buffer) => process.stdout.write(d.toString().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')));
  const up = await watchOutput(node).waitFor(/diskless: node-up .*/, 300_000, 'node01 to come up');
  console.log(`\ndemo: ${up[0]}`);
  console.log(`demo: node01 booted diskless in ${((Date.now() - started) / 1000).toFixed(1)} s (QEMU start to node-up)`);
} catch (err) {
  console.error(`demo: ${(err as Error).message}`);
  code = 1;
} finally {
  await ns.destroy();
}
process.exit(code);
