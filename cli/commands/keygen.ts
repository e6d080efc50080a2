// `diskless keygen` and `diskless sign`: the cluster key (lib/sign.ts). Thin: the
// work is in lib/sign.ts.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';

export const PRIVATE_KEY_FILE = 'diskless.key';
export const PUBLIC_KEY_FILE = 'diskless.pub';

interface KeygenArgs {
  out: string;
}

export const keygenCommand: CommandModule<object, KeygenArgs> = {
  command: 'keygen',
  describe: 'make the cluster key pair (Ed25519) that signs inventories and image manifests',
  builder: ((y: Argv) =>
    y
      .option('out', { type: 'string', demandOption: true, describe: `folder for ${PRIVATE_KEY_FILE} (private, mode 0600) and ${PUBLIC_KEY_FILE} (public)` })
      .example('$0 keygen --out /root/diskless-key', 'make the key pair; copy only diskless.pub to replicas (serve --trust)')
      .epilog(
        `The private half (${PRIVATE_KEY_FILE}) stays with the administrator: sign with it (diskless sign,\n` +
          `build-image --sign-key) on an admin machine, and never put it on a replica. Replicas get\n` +
          `only ${PUBLIC_KEY_FILE}, through serve --trust or the service layer. Existing keys are never overwritten.`,
      )) as CommandModule<object, KeygenArgs>['builder'],
  async handler(argv) {
    const { generateKeys } = await import('../../lib/sign.js');
    const { writeFileAtomic } = await import('../../lib/atomic.js');
    const dir = resolve(argv.out);
    const [priv, pub] = [join(dir, PRIVATE_KEY_FILE), join(dir, PUBLIC_KEY_FILE)];
    for (const f of [priv, pub]) if (existsSync(f)) throw new Error(`${f} exists; keygen never overwrites a key (move it away first, or sign with it)`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const k = generateKeys();
    await writeFileAtomic(priv, k.privatePem, { mode: 0o600 });
    await writeFileAtomic(pub, k.publicPem, { mode: 0o644 });
    process.stdout.write(`key ${k.id}: private ${priv} (keep it off the replicas), public ${pub} (serve --trust ${pub})\n`);
  },
};

interface SignArgs {
  file: string;
  key: string;
}

export const signCommand: CommandModule<object, SignArgs> = {
  command: 'sign <file>',
  describe: 'write FILE.sig: the cluster key\'s signature of an inventory (or any file)',
  builder: ((y: Argv) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'the file to sign, e.g. cluster.yaml' })
      .option('key', { type: 'string', demandOption: true, describe: `the private key from diskless keygen (${PRIVATE_KEY_FILE})` })
      .example('$0 sign cluster.yaml --key /root/diskless-key/diskless.key', 'writes cluster.yaml.sig; replicas with --trust accept the pair')) as CommandModule<object, SignArgs>['builder'],
  async handler(argv) {
    const { loadPrivateKey, signFile, keyId } = await import('../../lib/sign.js');
    const { createPublicKey } = await import('node:crypto');
    const key = await loadPrivateKey(resolve(argv.key));
    const out = await signFile(resolve(argv.file), key);
    process.stdout.write(`${out}: signed by key ${keyId(createPublicKey(key))}\n`);
  },
};
