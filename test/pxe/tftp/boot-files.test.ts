// The Secure Boot chain and image artifacts over TFTP, on loopback with the in-project
// client: Debian's signed shim and network GRUB byte for byte, GRUB's bootstrap, the
// per-node GRUB config with (tftp,…) devices, artifacts only as the manifest lists them
// and at its size, and each transfer's boot step in its event.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTftpServer, type TftpEvent, type TftpServer } from '../../../pxe/tftp/server.js';
import { resolveChainFiles, tftpBootFiles } from '../../../pxe/tftp/boot-files.js';
import { GRUB_BOOTSTRAP, GRUB_X64, SECURE_BOOT_CHAIN, SHIM_X64, tftpName } from '../../../pxe/tftp/names.js';
import { ImageStore } from '../../../pxe/images.js';
import { parseInventory } from '../../../cluster/inventory.js';
import { defaultTemplatesDir } from '../../../lib/paths.js';
import { ERR_ACCESS, ERR_NOT_FOUND } from '../../../pxe/tftp/packet.js';
import { tftpGet, TftpRemoteError } from '../../../tools/tftp/client.js';
import { makeImages } from '../../../tools/images.js';
import { need } from '../../helpers/need.js';

const missing = Object.values(SECURE_BOOT_CHAIN).find((p) => {
  try {
    readFileSync(p);
    return false;
  } catch {
    return true;
  }
});

const img = makeImages();
const ipxeDir = mkdtempSync(join(tmpdir(), 'tftp-chain-'));
writeFileSync(join(ipxeDir, 'undionly.kpxe'), 'bios ipxe');
const inventory = parseInventory(
  `cluster: lab\nnetwork:\n  subnet: 10.77.0.0/24\nservers: [10.77.0.1, 10.77.0.2]\ndefaults:\n  image: ${img.name}\nnodes:\n  - { name: node01, mac: "52:54:00:77:00:01", ip: 10.77.0.11 }\n`,
  'cluster.yaml',
);
const events: TftpEvent[] = [];
let server: TftpServer;

const get = (file: string) => tftpGet({ host: '127.0.0.1', port: server.port, file, tsize: true, blksize: 1408, retries: 2 });
async function refused(file: string, code: number): Promise<string> {
  try {
    await tftpGet({ host: '127.0.0.1', port: server.port, file, retries: 1 });
  } catch (err) {
    assert.instance(err, TftpRemoteError, String(err));
    assert.is((err as TftpRemoteError).code, code, `${file}: ${(err as Error).message}`);
    return (err as Error).message;
  }
  return assert.unreachable(`${file} was served`) as never;
}

test('names: the chain, the bootstrap, the HTTP names, the rest from the root', () => {
  assert.equal(tftpName('shimx64.efi'), { kind: 'chain', file: 'shimx64.efi', step: 'shim' });
  assert.equal(tftpName('grubx64.efi'), { kind: 'chain', file: 'grubx64.efi', step: 'grub' });
  assert.equal(tftpName('grub/grub.cfg'), { kind: 'grub-bootstrap' });
  assert.is(tftpName('boot/52-54-00-77-00-01.grub.cfg').kind, 'boot-script');
  assert.is(tftpName('images/a/v1/vmlinuz').kind, 'artifact');
  assert.is(tftpName('images/a/v1/root.squashfs.sha256').kind, 'artifact-sha256');
  assert.is(tftpName('undionly.kpxe').kind, 'root');
  assert.is(tftpName('grub/x86_64-efi/grub.cfg').kind, 'root', 'GRUB looks here first: not found, so it reads grub/grub.cfg');
});

if (missing) {
  test('Secure Boot chain over TFTP', () => need(`${missing} is missing (apt-get install shim-signed grub-efi-amd64-signed)`));
} else {
  test.before(async () => {
    const chain = await resolveChainFiles();
    const generate = tftpBootFiles({
      templatesDir: defaultTemplatesDir(), images: new ImageStore(img.root), inventory: () => inventory,
      servers: () => ['10.77.0.2:8080', '10.77.0.1:8080'], chain,
    });
    server = await startTftpServer({ root: ipxeDir, address: '127.0.0.1', port: 0, generate, onEvent: (e) => events.push(e) });
  });

  test.after(async () => {
    await server?.close();
    rmSync(ipxeDir, { recursive: true, force: true });
    rmSync(img.root, { recursive: true, force: true });
  });

  test('shimx64.efi and grubx64.efi are Debian signed shim and network GRUB, byte for byte, with their size', async () => {
    for (const [name, path] of [[SHIM_X64, SECURE_BOOT_CHAIN[SHIM_X64]!], [GRUB_X64, SECURE_BOOT_CHAIN[GRUB_X64]!]] as const) {
      const r = await get(name);
      const want = readFileSync(path);
      assert.ok(r.data.equals(want), `${name} is ${path}`);
      assert.is(Number(r.oack?.tsize), want.length, `${name}: tsize`);
    }
    assert.is((await get('undionly.kpxe')).data.toString(), 'bios ipxe', 'the root folder still serves the iPXE binaries');
  });

  test('grub/grub.cfg builds the per-node name from $net_default_mac and loads it', async () => {
    const cfg = (await get(GRUB_BOOTSTRAP)).data.toString();
    assert.match(cfg, /^regexp --set=1:m1 .*"\$net_default_mac"$/m);
    assert.match(cfg, /^configfile "\/boot\/\$\{m1\}-\$\{m2\}-\$\{m3\}-\$\{m4\}-\$\{m5\}-\$\{m6\}\.grub\.cfg"$/m);
    await refused('grub/x86_64-efi/grub.cfg', ERR_NOT_FOUND);
  });

  test('the per-node GRUB config over TFTP fetches kernel and initrd over TFTP from each replica in turn', async () => {
    const cfg = (await get('boot/52-54-00-77-00-01.grub.cfg')).data.toString();
    const base = `/images/${img.name}/${img.version}`;
    for (const host of ['10.77.0.1', '10.77.0.2']) {
      assert.ok(cfg.includes(`linux (tftp,${host})${base}/vmlinuz `), `kernel from ${host}:\n${cfg}`);
      assert.ok(cfg.includes(`initrd (tftp,${host})${base}/initrd.img`), `initrd from ${host}`);
    }
    assert.not.match(cfg, /\(http,/, 'no http device: the signed GRUB has no http module');
    assert.match(cfg, /diskless\.servers=10\.77\.0\.\d:8080,10\.77\.0\.\d:8080/, 'the initrd still fetches the root over HTTP');
    assert.match(await refused('boot/52-54-00-77-00-09.grub.cfg', ERR_NOT_FOUND), /no node with MAC 52:54:00:77:00:09/);
  });

  test('artifacts by their HTTP names: manifest files only, at the manifest size; .sha256 from the manifest', async () => {
    const base = `images/${img.name}/${img.version}`;
    for (const f of ['vmlinuz', 'initrd.img', 'root.squashfs', 'manifest.json']) {
      assert.ok((await get(`${base}/${f}`)).data.equals(readFileSync(join(img.dir, f))), f);
    }
    assert.ok((await get(`images/${img.name}/current/vmlinuz`)).data.equals(readFileSync(join(img.dir, 'vmlinuz'))), 'current/');
    assert.is((await get(`${base}/root.squashfs.sha256`)).data.toString(), `${img.manifest.artifacts.root!.sha256}  root.squashfs\n`);
    writeFileSync(join(img.dir, 'notes.txt'), 'not in the manifest');
    assert.match(await refused(`${base}/notes.txt`, ERR_NOT_FOUND), /has no artifact notes\.txt/);
    symlinkSync('/etc/passwd', join(img.dir, 'passwd'));
    await refused(`${base}/passwd`, ERR_NOT_FOUND);
    await refused(`images/nope/v1/vmlinuz`, ERR_NOT_FOUND);
    writeFileSync(join(img.dir, 'initrd.img'), Buffer.concat([readFileSync(join(img.dir, 'initrd.img')), Buffer.from('x')]));
    assert.match(await refused(`${base}/initrd.img`, ERR_ACCESS), /is 8193 bytes, its manifest says 8192: this replica's copy is damaged/);
  });

  test('each transfer event names its boot step', async () => {
    const step = (file: string) => events.find((e) => e.file === file && e.status === 'done')?.step;
    assert.is(step(SHIM_X64), 'shim');
    assert.is(step(GRUB_X64), 'grub');
    assert.is(step(GRUB_BOOTSTRAP), 'grub.cfg');
    assert.is(step('boot/52-54-00-77-00-01.grub.cfg'), 'node-cfg');
    assert.is(step(`images/${img.name}/${img.version}/vmlinuz`), 'kernel');
    assert.is(step(`images/${img.name}/${img.version}/initrd.img`), 'initrd');
    assert.ok(events.some((e) => e.file.endsWith('/initrd.img') && e.status === 'error' && e.bytes === 0), 'the damaged initrd was not sent');
    assert.is(step(`images/${img.name}/${img.version}/root.squashfs`), 'root');
    assert.is(step('undionly.kpxe'), undefined);
  });
}

test.run();
