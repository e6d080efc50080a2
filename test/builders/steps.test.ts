// The pipeline hands facts from step to step: each step gets what earlier steps
// returned (artifacts merged), and a step placed before the one that makes its
// facts fails naming them, before it runs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runBuildSteps, stepsFor } from '../../builders/pipeline.js';
import { memoryLogger } from '../../lib/log.js';
import type { BuildContext, BuildStep } from '../../builders/context.js';

const ctx = { log: memoryLogger(), signal: new AbortController().signal } as unknown as BuildContext;
const seen: unknown[] = [];

const boot: BuildStep<never, 'kernel' | 'rootInputs'> = {
  name: 'boot',
  describe: 'makes the kernel fact',
  needs: [],
  run: async () => ({ kernel: { version: '6.1', file: '/boot/vmlinuz-6.1' }, rootInputs: 'abc' }),
};
const k: BuildStep<'kernel', 'artifacts'> = {
  name: 'k',
  describe: 'adds an artifact',
  needs: ['kernel'],
  run: async (_c, f) => ({ artifacts: { kernel: `vmlinuz-${f.kernel.version}` } }),
};
const r: BuildStep<'rootInputs', 'artifacts'> = {
  name: 'r',
  describe: 'adds another',
  needs: ['rootInputs'],
  run: async () => ({ artifacts: { root: 'root.squashfs' } }),
};
const last: BuildStep<'kernel' | 'artifacts'> = {
  name: 'last',
  describe: 'reads them',
  needs: ['kernel', 'artifacts'],
  run: async (_c, f) => {
    seen.push(f.artifacts, f.kernel.version);
    return {};
  },
};

test('each step reads the facts earlier steps returned; artifacts from several steps are merged', async () => {
  const timings = await runBuildSteps([boot, k, r, last], ctx);
  assert.equal(timings.map((t) => t.name), ['boot', 'k', 'r', 'last']);
  assert.equal(seen, [{ kernel: 'vmlinuz-6.1', root: 'root.squashfs' }, '6.1']);
});

test('a step before the step that makes its facts fails, naming them, and does not run', async () => {
  let ran = false;
  const early: BuildStep<'kernel'> = { name: 'early', describe: 'too early', needs: ['kernel'], run: async () => ((ran = true), {}) };
  await runBuildSteps([early, boot], ctx).then(
    () => assert.unreachable('should fail'),
    (err: Error) => assert.match(err.message, 'step early needs kernel, which no step before it made'),
  );
  assert.not.ok(ran);
});

test('the initrd is built after the layers whose sha256 it carries: root image, then the service layer', () => {
  assert.equal(stepsFor({}).map((s) => s.name), ['bootstrap', 'customize', 'kernel', 'trim', 'firmware', 'root-image', 'initrd', 'manifest', 'publish']);
  assert.equal(stepsFor({ service: true }).map((s) => s.name), ['bootstrap', 'customize', 'kernel', 'trim', 'firmware', 'root-image', 'service', 'initrd', 'manifest', 'publish']);
});

test('layers from several steps are merged like artifacts', async () => {
  const root: BuildStep<never, 'layers'> = { name: 'root', describe: '', needs: [], run: async () => ({ layers: { 'root.squashfs': 'aa' } }) };
  const svc: BuildStep<never, 'layers'> = { name: 'svc', describe: '', needs: [], run: async () => ({ layers: { 'service.squashfs': 'bb' } }) };
  let got: unknown;
  const read: BuildStep<'layers'> = { name: 'read', describe: '', needs: ['layers'], run: async (_c, f) => ((got = f.layers), {}) };
  await runBuildSteps([root, svc, read], ctx);
  assert.equal(got, { 'root.squashfs': 'aa', 'service.squashfs': 'bb' });
});

test.run();
