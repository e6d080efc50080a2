// The cluster key: Ed25519 (node:crypto) over the exact bytes of a file. The private
// key stays with the administrator; replicas hold only the public key (--trust).
// A signature lives beside what it signs, as FILE.sig, one line:
//   ed25519 <key id> <base64 signature>
// where the key id is the first 16 hex digits of the sha256 of the raw 32-byte public
// key, so a refusal can say "signed by key X, trusted key is Y".
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { renameDurable, writeFileAtomic } from './atomic.js';

export const SIG_ALGORITHM = 'ed25519';
export const SIG_SUFFIX = '.sig';
/**
 * A signature being installed with its file: FILE.sig.next is written first, then FILE,
 * then FILE.sig.next is renamed to FILE.sig. A reader (or a restart after a crash)
 * between the steps checks FILE against FILE.sig.next too, so it sees the old pair or the new.
 */
export const SIG_NEXT_SUFFIX = '.sig.next';
/** A .sig file is one short line; anything longer is not one. */
const MAX_SIG_BYTES = 512;

/** A public key replicas trust: the key and its id. */
export interface TrustKey {
  key: KeyObject;
  id: string;
}

/** The key id: 16 hex digits of sha256 over the raw public key. */
export function keyId(publicKey: KeyObject): string {
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

/** A fresh key pair, both halves as PEM (PKCS#8 private, SPKI public). */
export function generateKeys(): { privatePem: string; publicPem: string; id: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    id: keyId(publicKey),
  };
}

function keyError(file: string, what: string, err: unknown): Error {
  return new Error(`${file} is not ${what} (${(err as Error).message}); make a key pair with diskless keygen --out DIR`);
}

/** Read a private key (PEM); the error names the file and how to make one. */
export async function loadPrivateKey(file: string): Promise<KeyObject> {
  const pem = await readFile(file).catch((err: Error) => {
    throw new Error(`cannot read the signing key ${file}: ${err.message}`);
  });
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw keyError(file, 'an Ed25519 private key', err);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is a ${key.asymmetricKeyType} key; diskless signs with Ed25519 keys from diskless keygen`);
  return key;
}

/** Read a public key (PEM). A private key is refused: replicas must never hold one. */
export async function loadTrustKey(file: string): Promise<TrustKey> {
  const pem = await readFile(file, 'utf8').catch((err: Error) => {
    throw new Error(`cannot read the trusted public key ${file}: ${err.message}`);
  });
  if (/PRIVATE KEY/.test(pem)) throw new Error(`${file} is a private key: give replicas the public half (the .pub file from diskless keygen) and keep the private one off them`);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw keyError(file, 'an Ed25519 public key', err);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is a ${key.asymmetricKeyType} key; diskless trusts Ed25519 keys from diskless keygen`);
  return { key, id: keyId(key) };
}

/** The .sig line for `data`. */
export function signBytes(data: Uint8Array, privateKey: KeyObject): string {
  const id = keyId(createPublicKey(privateKey));
  return `${SIG_ALGORITHM} ${id} ${sign(null, data, privateKey).toString('base64')}\n`;
}

export interface ParsedSig {
  algorithm: string;
  keyId: string;
  signature: Buffer;
}

/** Parse a .sig file's text; throws saying what is wrong with it. */
export function parseSig(text: string | Uint8Array): ParsedSig {
  const s = typeof text === 'string' ? text : Buffer.from(text).toString('utf8');
  if (s.length > MAX_SIG_BYTES) throw new Error(`malformed signature: ${s.length} bytes, a .sig is one line of under ${MAX_SIG_BYTES}`);
  const m = /^(\S+) ([0-9a-f]{16}) ([A-Za-z0-9+/]+={0,2})\n?$/.exec(s);
  if (!m) throw new Error(`malformed signature: expected one line "${SIG_ALGORITHM} <16 hex key id> <base64>"`);
  if (m[1] !== SIG_ALGORITHM) throw new Error(`malformed signature: algorithm ${m[1]}, only ${SIG_ALGORITHM} is accepted`);
  const signature = Buffer.from(m[3]!, 'base64');
  if (signature.length !== 64) throw new Error(`malformed signature: ${signature.length} bytes, an Ed25519 signature is 64`);
  return { algorithm: m[1]!, keyId: m[2]!, signature };
}

/** Throw unless `sig` is a valid signature of `data` by `trust`; the message says why. */
export function verifyBytes(data: Uint8Array, sig: string | Uint8Array, trust: TrustKey): void {
  const p = parseSig(sig);
  if (p.keyId !== trust.id) throw new Error(`signed by key ${p.keyId}, trusted key is ${trust.id}`);
  if (!verify(null, data, trust.key, p.signature)) throw new Error(`signature by key ${p.keyId} does not match the bytes (changed after signing?)`);
}

/** Install FILE and FILE.sig together (see SIG_NEXT_SUFFIX): a kill at any step leaves a verifying pair. */
export async function writeSignedPair(file: string, data: string | Uint8Array, sig: string): Promise<void> {
  await writeFileAtomic(`${file}${SIG_NEXT_SUFFIX}`, sig);
  await writeFileAtomic(file, data);
  await renameDurable(`${file}${SIG_NEXT_SUFFIX}`, `${file}${SIG_SUFFIX}`);
}

/** Write FILE.sig for FILE's bytes, whole or not at all. */
export async function signFile(file: string, privateKey: KeyObject): Promise<string> {
  const data = await readFile(file).catch((err: Error) => {
    throw new Error(`cannot read ${file} to sign it: ${err.message}`);
  });
  await writeFileAtomic(`${file}${SIG_SUFFIX}`, signBytes(data, privateKey), { mode: 0o644 });
  return `${file}${SIG_SUFFIX}`;
}

/**
 * FILE's bytes and FILE.sig's text. With `trust`, throws unless the pair verifies,
 * naming the file; without, the signature is passed on if there is one.
 */
export async function readSigned(file: string, trust: TrustKey | undefined): Promise<{ data: Buffer; sig?: string }> {
  const data = await readFile(file);
  const sig = await readFile(`${file}${SIG_SUFFIX}`, 'utf8').catch(() => undefined);
  if (!trust) return { data, sig };
  let problem: string;
  if (sig === undefined) problem = `${file} is not signed (no ${file}${SIG_SUFFIX}); sign it with diskless sign ${file} --key KEY`;
  else {
    try {
      verifyBytes(data, sig, trust);
      return { data, sig };
    } catch (err) {
      problem = `${file}${SIG_SUFFIX}: ${(err as Error).message}; sign it again with diskless sign ${file} --key KEY`;
    }
  }
  const next = await readFile(`${file}${SIG_NEXT_SUFFIX}`, 'utf8').catch(() => undefined);
  try {
    if (next !== undefined) {
      verifyBytes(data, next, trust);
      return { data, sig: next };
    }
  } catch {
    // not the pair being installed either
  }
  throw new Error(problem);
}
