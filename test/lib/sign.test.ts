// The cluster key: sign and verify bytes, the .sig format, and the keygen/sign verbs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeys, keyId, loadPrivateKey, loadTrustKey, parseSig, readSigned, signBytes, signFile, verifyBytes, writeSignedPair, type TrustKey } from '../../lib/sign.js';
import { projectRoot } from '../../lib/paths.js';

const work = mkdtempSync(join(tmpdir(), 'dl-sign-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

const pair = () => {
  const k = generateKeys();
  const priv = createPrivateKey(k.privatePem);
  const trust: TrustKey = { key: createPublicKey(k.publicPem), id: k.id };
  return { ...k, priv, trust };
};
const a = pair();
const b = pair();
const data = Buffer.from('cluster: lab\nversion: 7\n');

function cli(args: string[]) {
  const res = spawnSync(process.execPath, ['--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), ...args], { cwd: projectRoot(), encoding: 'utf8' });
  return { code: res.status, out: `${res.stdout}${res.stderr}` };
}

test('a signature verifies with its key; the .sig is one line naming the algorithm and key id', () => {
  const sig = signBytes(data, a.priv);
  assert.match(sig, new RegExp(`^ed25519 ${a.id} [A-Za-z0-9+/]+={0,2}\\n$`));
  assert.is(a.id, keyId(a.trust.key));
  assert.is(a.id.length, 16);
  verifyBytes(data, sig, a.trust);
  assert.is(parseSig(sig).signature.length, 64);
});

test('tampered bytes are refused', () => {
  const sig = signBytes(data, a.priv);
  const changed = Buffer.from(data);
  changed[3] = changed[3]! ^ 1;
  assert.throws(() => verifyBytes(changed, sig, a.trust), /does not match the bytes/);
  assert.throws(() => verifyBytes(Buffer.concat([data, Buffer.from('\n')]), sig, a.trust), /does not match/);
});

test('a signature by another key names both keys', () => {
  const sig = signBytes(data, b.priv);
  assert.throws(() => verifyBytes(data, sig, a.trust), new RegExp(`signed by key ${b.id}, trusted key is ${a.id}`));
  // A forged key id does not help: the signature itself is checked against the trusted key.
  const forged = sig.replace(b.id, a.id);
  assert.throws(() => verifyBytes(data, forged, a.trust), /does not match the bytes/);
});

test('malformed .sig files are refused, saying what is wrong', () => {
  const good = signBytes(data, a.priv);
  const [, id, b64] = good.trim().split(' ');
  for (const [sig, why] of [
    ['', /expected one line/],
    ['garbage\n', /expected one line/],
    [`rsa ${id} ${b64}\n`, /algorithm rsa/],
    [`ed25519 ${id} ${Buffer.alloc(10).toString('base64')}\n`, /10 bytes.*64/],
    [`ed25519 ${id} ${b64}\nextra\n`, /expected one line/],
    ['x'.repeat(5000), /5000 bytes/],
  ] as const) {
    assert.throws(() => verifyBytes(data, sig, a.trust), why, JSON.stringify(sig.slice(0, 40)));
  }
});

test('key files: a private key is refused as a trusted key; wrong files are named', async () => {
  const dir = mkdtempSync(join(work, 'k-'));
  writeFileSync(join(dir, 'a.key'), a.privatePem);
  writeFileSync(join(dir, 'a.pub'), a.publicPem);
  writeFileSync(join(dir, 'junk'), 'not a key\n');
  assert.is((await loadTrustKey(join(dir, 'a.pub'))).id, a.id);
  await loadTrustKey(join(dir, 'a.key')).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /is a private key: give replicas the public half/));
  await loadTrustKey(join(dir, 'junk')).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /junk is not an Ed25519 public key.*diskless keygen/));
  await loadPrivateKey(join(dir, 'a.pub')).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /a\.pub is not an Ed25519 private key/));
  await loadPrivateKey(join(dir, 'none')).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /cannot read the signing key .*none/));
});

test('signFile and readSigned: a pair verifies; unsigned and changed files are refused by name', async () => {
  const dir = mkdtempSync(join(work, 'f-'));
  const f = join(dir, 'cluster.yaml');
  writeFileSync(f, data);
  await readSigned(f, a.trust).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /cluster\.yaml is not signed \(no .*cluster\.yaml\.sig\)/));
  assert.is((await readSigned(f, undefined)).sig, undefined, 'without trust, unsigned is fine');
  await signFile(f, a.priv);
  assert.ok((await readSigned(f, a.trust)).data.equals(data));
  writeFileSync(f, 'cluster: evil\n');
  await readSigned(f, a.trust).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /cluster\.yaml\.sig: signature by key .* does not match/));
  await signFile(f, b.priv);
  await readSigned(f, a.trust).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, `signed by key ${b.id}, trusted key is ${a.id}`));
});

test('a signed pair installed step by step verifies after a kill at any step, old or new', async () => {
  const dir = mkdtempSync(join(work, 'pair-'));
  const f = join(dir, 'cluster.yaml');
  const [old, next] = [Buffer.from('version: 1\n'), Buffer.from('version: 2\n')];
  writeFileSync(f, old);
  await signFile(f, a.priv);
  const sigNew = signBytes(next, a.priv);
  // The steps of writeSignedPair, one at a time.
  writeFileSync(`${f}.sig.next`, sigNew);
  assert.ok((await readSigned(f, a.trust)).data.equals(old), 'after step 1: the old pair');
  writeFileSync(f, next);
  const mid = await readSigned(f, a.trust);
  assert.ok(mid.data.equals(next), 'after step 2: the new file, checked against the signature being installed');
  assert.is(mid.sig, sigNew);
  rmSync(`${f}.sig.next`);
  await writeSignedPair(f, next, sigNew);
  assert.not.ok(existsSync(`${f}.sig.next`));
  assert.is(readFileSync(`${f}.sig`, 'utf8'), sigNew);
  // A .sig.next by another key is no way around the check.
  writeFileSync(f, 'version: 3\n');
  writeFileSync(`${f}.sig.next`, signBytes(Buffer.from('version: 3\n'), b.priv));
  await readSigned(f, a.trust).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /does not match/));
});

test('diskless keygen: 0600 private, 0644 public, never overwrites; sign writes FILE.sig', async () => {
  const dir = join(work, 'cli');
  const r = cli(['keygen', '--out', dir]);
  assert.is(r.code, 0, r.out);
  assert.is(statSync(join(dir, 'diskless.key')).mode & 0o777, 0o600);
  assert.is(statSync(join(dir, 'diskless.pub')).mode & 0o777, 0o644);
  const trust = await loadTrustKey(join(dir, 'diskless.pub'));
  assert.match(r.out, trust.id);
  const before = readFileSync(join(dir, 'diskless.key'));
  const again = cli(['keygen', '--out', dir]);
  assert.is(again.code, 1);
  assert.match(again.out, /diskless\.key exists; keygen never overwrites/);
  assert.ok(readFileSync(join(dir, 'diskless.key')).equals(before));

  const f = join(work, 'inv.yaml');
  writeFileSync(f, data);
  const s = cli(['sign', f, '--key', join(dir, 'diskless.key')]);
  assert.is(s.code, 0, s.out);
  assert.match(s.out, `signed by key ${trust.id}`);
  verifyBytes(data, readFileSync(`${f}.sig`), trust);

  const noKey = cli(['sign', f, '--key', join(dir, 'missing.key')]);
  assert.is(noKey.code, 1);
  assert.match(noKey.out, /cannot read the signing key .*missing\.key/);
  const pubAsKey = cli(['sign', f, '--key', join(dir, 'diskless.pub')]);
  assert.is(pubAsKey.code, 1);
  assert.match(pubAsKey.out, /diskless\.pub is not an Ed25519 private key/);
  const noFile = cli(['sign', join(work, 'nope.yaml'), '--key', join(dir, 'diskless.key')]);
  assert.is(noFile.code, 1);
  assert.match(noFile.out, /cannot read .*nope\.yaml to sign it/);
  assert.not.ok(existsSync(join(work, 'nope.yaml.sig')));
  const help = cli(['keygen', '--help']);
  assert.match(help.out, /stays with the administrator/);
  assert.match(help.out, /never put it on a replica/);
});

test.run();
