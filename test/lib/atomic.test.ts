// The crash-safe write under SIGKILL at random points: a child rewrites a file in a
// loop, alternating a 1 MB and a 4 MB content, and is killed after a random delay.
// The file is always exactly one of the two, never partial or empty; the killed
// writer's temp file is removed by the next write.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths.js';
import { strayTemps, symlinkAtomic, writeFileAtomic } from '../../lib/atomic.js';
import { atomicContents } from '../helpers/atomic-contents.js';

const ROUNDS = 40;
const [OLD, NEW] = atomicContents();

/** Start the writer, wait until it writes, let it run `delayMs`, SIGKILL it. */
async function killWriterAfter(file: string, delayMs: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx/esm', join(projectRoot(), 'test/helpers/atomic-writer.ts'), file], {
    cwd: projectRoot(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('writing') && resolve());
    child.on('exit', (code) => reject(new Error(`writer exited (${code}) before writing`)));
  });
  await new Promise((r) => setTimeout(r, delayMs));
  child.kill('SIGKILL');
  assert.is(await exited, 'SIGKILL');
}

test('SIGKILL at random points: the file is the old or the new content, whole; the next write removes the stray temp', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-atomic-'));
  const file = join(dir, 'state.json');
  const seen = { old: 0, new: 0, strays: 0 };
  try {
    writeFileSync(file, OLD);
    for (let round = 0; round < ROUNDS; round++) {
      await killWriterAfter(file, Math.floor(Math.random() * 120));
      const got = readFileSync(file);
      const which = got.equals(OLD) ? 'old' : got.equals(NEW) ? 'new' : undefined;
      assert.ok(which, `round ${round}: ${got.length} bytes, neither the old (${OLD.length}) nor the new (${NEW.length}) content`);
      seen[which!]++;
      const strays = readdirSync(dir).filter((n) => n !== 'state.json');
      assert.ok(strays.length <= 1, `round ${round}: at most the killed writer's temp is left: ${strays.join(', ')}`);
      assert.equal((await strayTemps(file)).map((p) => p.slice(dir.length + 1)), strays, 'every leftover is recognised as stray');
      seen.strays += strays.length;
      // The next write (here, from this process) removes what the killed one left.
      await writeFileAtomic(file, OLD);
      assert.equal(readdirSync(dir), ['state.json'], `round ${round}: the next write leaves only the target`);
    }
    // The kills landed both between and inside writes, and after both contents.
    assert.ok(seen.new > 0 && seen.old > 0, JSON.stringify(seen));
    assert.ok(seen.strays > 0, `no kill landed inside a write: ${JSON.stringify(seen)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a write that fails leaves the old content and no temp file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-atomic-'));
  const file = join(dir, 'state.json');
  try {
    writeFileSync(file, 'old');
    await writeFileAtomic(join(dir, 'missing', 'x'), 'new').then(
      () => assert.unreachable('a missing folder fails'),
      (err: Error) => assert.match(err.message, /ENOENT/),
    );
    await writeFileAtomic(file, 'new', { mode: 0o600 });
    assert.is(readFileSync(file, 'utf8'), 'new');
    assert.equal(readdirSync(dir), ['state.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('symlinkAtomic replaces a link in place and leaves no temp', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-atomic-'));
  try {
    await symlinkAtomic('v1', join(dir, 'current'));
    await symlinkAtomic('v2', join(dir, 'current'));
    assert.is(readlinkSync(join(dir, 'current')), 'v2');
    assert.equal(readdirSync(dir), ['current']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
