// The live inventory with a trusted key: taken at start and at every reload only with
// FILE.sig by that key; a refused reload keeps the inventory (and signature) in service.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LiveInventory } from '../../pxe/inventory-reload.js';
import { generateKeys, signFile, type TrustKey } from '../../lib/sign.js';
import { memoryLogger } from '../../lib/log.js';
import { sample } from '../helpers/inventory.js';

const work = mkdtempSync(join(tmpdir(), 'dl-live-inv-'));
test.after(() => rmSync(work, { recursive: true, force: true }));
const k = generateKeys();
const key = createPrivateKey(k.privatePem);
const trust: TrustKey = { key: createPublicKey(k.publicPem), id: k.id };
const other = createPrivateKey(generateKeys().privatePem);
const v = (n: number) => sample.replace('cluster: lab', `cluster: lab\nversion: ${n}`);

test('start: an unsigned file is refused by name; a signed one is served with its signature', async () => {
  const file = join(work, 'a.yaml');
  writeFileSync(file, v(1));
  await LiveInventory.load(file, memoryLogger(), trust).then(
    () => assert.unreachable('unsigned taken'),
    (e: Error) => assert.match(e.message, /inventory .*a\.yaml refused: .*a\.yaml is not signed/),
  );
  await signFile(file, key);
  const live = await LiveInventory.load(file, memoryLogger(), trust);
  assert.is(live.current.version, 1);
  assert.match(live.sig!, new RegExp(`^ed25519 ${k.id} `));
});

test('reload: unsigned or wrongly signed edits are refused and logged; a signed one is taken', async () => {
  const file = join(work, 'b.yaml');
  writeFileSync(file, v(1));
  await signFile(file, key);
  const log = memoryLogger();
  const live = await LiveInventory.load(file, log, trust);
  const sig1 = live.sig;
  writeFileSync(file, v(2));
  assert.not.ok(await live.reload('SIGHUP'));
  assert.ok(log.lines.some((l) => /inventory reload \(SIGHUP\) failed; still serving version 1 .*\n.*b\.yaml\.sig: signature by key .* does not match/.test(l)), log.lines.join('\n'));
  await signFile(file, other);
  assert.not.ok(await live.reload('SIGHUP'));
  assert.ok(log.lines.some((l) => new RegExp(`signed by key [0-9a-f]{16}, trusted key is ${k.id}`).test(l)), log.lines.join('\n'));
  assert.is(live.current.version, 1);
  assert.is(live.sig, sig1, 'the signature in service stays with its inventory');
  await signFile(file, key);
  assert.ok(await live.reload('SIGHUP'));
  assert.is(live.current.version, 2);
  assert.is.not(live.sig, sig1);
});

test('without a key: unsigned files load as before, and a .sig beside one is passed on', async () => {
  const file = join(work, 'c.yaml');
  writeFileSync(file, v(1));
  const live = await LiveInventory.load(file, memoryLogger());
  assert.is(live.sig, undefined);
  await signFile(file, key);
  await live.reload('SIGHUP');
  assert.match(live.sig!, /^ed25519 /);
});

test.run();
