// A VC ops context for tests: a temp state dir with a FileStore, a fake images folder,
// the in-memory hypervisor, a memory logger and a fixed clock.
import { chmodSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../../../lib/log.js';
import { FileStore } from '../../../vc/store/file.js';
import { opsContext, type OpsContext } from '../../../vc/ops/context.js';
import { specFromFlags, type VcFlags } from '../../../vc/spec.js';
import type { CreateInput } from '../../../vc/ops/create.js';
import { FakeHypervisor } from '../../helpers/fake-hypervisor.js';
import { makeImages } from '../../../tools/images.js';

export function setup(o: { alive?: OpsContext['alive'] } = {}) {
  const stateDir = mkdtempSync(join(tmpdir(), 'diskless-vcops-'));
  chmodSync(stateDir, 0o755);
  const images = makeImages({ name: 'deb' });
  chmodSync(images.root, 0o755);
  const driver = new FakeHypervisor();
  const log = memoryLogger();
  const store = new FileStore({ dir: stateDir });
  const ctx = opsContext({ store, driver, stateDir, host: 'h1', log, now: () => new Date('2026-12-01T18:00:00Z'), alive: o.alive ?? ((pid) => pid === process.pid) });
  const input = (flags: VcFlags, start = false): CreateInput => ({ imagesDir: images.root, start, spec: (so) => specFromFlags(flags, so) });
  /** Files under the VC folders (scratch disks, save files, console logs). */
  const vmFilesOf = (vc: string) => (existsSync(join(stateDir, 'vms', vc)) ? readdirSync(join(stateDir, 'vms', vc)).sort() : []);
  return { stateDir, images, driver, log, store, ctx, input, vmFilesOf };
}

/** Assert that `p` rejects with a message matching `re`; returns the error. */
export async function rejects(p: Promise<unknown>, re: RegExp): Promise<Error> {
  try {
    await p;
  } catch (err) {
    if (!re.test((err as Error).message)) throw new Error(`rejected with "${(err as Error).message}", expected ${re}`);
    return err as Error;
  }
  throw new Error(`resolved, expected a rejection matching ${re}`);
}
