// service: the service layer (service.squashfs), an artifact beside the root image.
// Nodes listed under servers: get it on top of the root and run their replica of the
// boot service; the live medium boots with it too. Built with --service or --live.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { loadPrivateKey } from '../../lib/sign.js';
import { projectRoot } from '../../lib/paths.js';
import { ROOT_FORMATS } from '../../rootfs/formats.js';
import { sha256File } from '../../store/hash.js';
import { makeServiceLayer, missingNodeRuntime, nodeFailsInImage } from '../live/service-layer.js';
import { imageView } from '../view.js';
import { BOOT_CHAIN_HOST_FILES } from '../../lib/boot-binaries.js';
import type { BuildStep } from '../context.js';

export const SERVICE_LAYER_FILE = 'service.squashfs';

const publicPemOf = (k: KeyObject) => createPublicKey(k).export({ format: 'pem', type: 'spki' }).toString();

export const service: BuildStep<'kernel' | 'artifacts', 'artifacts' | 'layers'> = {
  name: 'service',
  describe: 'make the service layer: diskless itself, to run a replica of the boot service',
  needs: ['kernel', 'artifacts'],
  async run(ctx, facts, report) {
    if (facts.artifacts.xen) throw new Error('the service layer runs on a plain Linux node; build it without --variant');
    const missing = (await missingNodeRuntime(ctx.root, ctx.template.file)) ?? (await nodeFailsInImage(ctx.root, process.execPath, ctx.template.file));
    if (missing) throw new Error(missing);
    const dir = join(ctx.staging, 'service-layer');
    const layer = await makeServiceLayer({
      dir,
      appRoot: projectRoot(),
      nodeBinary: process.execPath,
      ipxeDir: ctx.opts.ipxeDir ?? '/usr/lib/ipxe',
      overlay: join(ctx.opts.overlaysDir, 'service', 'rootfs'),
      view: imageView(ctx, facts.kernel.version),
      trustPem: ctx.opts.signKey ? publicPemOf(await loadPrivateKey(ctx.opts.signKey)) : undefined,
      chainFiles: BOOT_CHAIN_HOST_FILES,
    });
    if (layer.chainMissing.length) report.note(`no ${layer.chainMissing.join(', ')} on this host (apt-get install shim-signed grub-efi-amd64-signed grub-efi-amd64-bin): Secure Boot nodes and Xen Dom0s on UEFI cannot boot from these replicas`);
    if (layer.ipxeMissing.length) report.note(`no ${layer.ipxeMissing.join(', ')} on this host (apt-get install ipxe): firmware that is not iPXE yet cannot boot from these replicas`);
    const out = join(ctx.outDir, SERVICE_LAYER_FILE);
    await ROOT_FORMATS.squashfs.build(dir, out, { log: ctx.log, signal: ctx.signal });
    report.note(`${SERVICE_LAYER_FILE}: diskless with ${layer.packages} packages, node ${process.version}; ${await ROOT_FORMATS.squashfs.verify(out, { log: ctx.log })}`);
    return { artifacts: { service: SERVICE_LAYER_FILE }, layers: { [SERVICE_LAYER_FILE]: await sha256File(out) } };
  },
};
