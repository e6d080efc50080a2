// Real image builds for the heavy end-to-end files, shared across one test run:
// `build-image debian` (and its xen-dom0 variant) is built once per run (scripts/test.mjs gives each run a fresh
// DISKLESS_TEST_RUN_DIR) and every build uses one bootstrap cache in that folder, so a
// later build with other flags reuses the bootstrap. A lock file keeps two builds apart.
// Every build is signed with the run's cluster key (runKeys), so replicas serve it with --trust.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, linkSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths.js';
import { generateKeys } from '../../lib/sign.js';

export const DEBIAN = 'debian-bookworm-amd64';
export const XEN = 'debian-bookworm-amd64-xen-dom0';

let ownRunDir: string | undefined;

/** The run's folder: DISKLESS_TEST_RUN_DIR, else (a file run alone) one for this process, removed at exit. */
export function runDir(): string {
  if (process.env.DISKLESS_TEST_RUN_DIR) return process.env.DISKLESS_TEST_RUN_DIR;
  if (!ownRunDir) {
    const dir = mkdtempSync(join(tmpdir(), 'diskless-run-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    ownRunDir = dir;
  }
  return ownRunDir;
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Run `fn` holding the run's build lock; a lock left by a dead process is taken over. */
function withLock<T>(fn: () => T): T {
  const lock = join(runDir(), 'build.lock');
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      writeFileSync(lock, String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(lock, 'utf8'));
      if (holder && !alive(holder)) rmSync(lock, { force: true });
      else sleep(1000);
    }
  }
  try {
    return fn();
  } finally {
    unlinkSync(lock);
  }
}

/**
 * The run's cluster key pair (diskless keygen's file names), made on first use: written
 * into a private folder renamed into place, so two files asking at once share one pair.
 */
export function runKeys(): { key: string; pub: string; id: string } {
  const dir = join(runDir(), 'keys');
  if (!existsSync(join(dir, 'diskless.pub'))) {
    const tmp = mkdtempSync(join(runDir(), '.keys-'));
    const k = generateKeys();
    writeFileSync(join(tmp, 'diskless.key'), k.privatePem, { mode: 0o600 });
    writeFileSync(join(tmp, 'diskless.pub'), k.publicPem);
    writeFileSync(join(tmp, 'id'), k.id);
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another process made them first
    }
  }
  return { key: join(dir, 'diskless.key'), pub: join(dir, 'diskless.pub'), id: readFileSync(join(dir, 'id'), 'utf8') };
}

function build(args: string[], out: string): string {
  const res = spawnSync(
    process.execPath,
    ['--import', 'tsx/esm', join(projectRoot(), 'cli/build-image.ts'), ...args, '--out', out, '--cache-dir', join(runDir(), 'cache'), '--sign-key', runKeys().key],
    { cwd: projectRoot(), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const text = `${res.stdout}${res.stderr}`;
  if (res.status !== 0) throw new Error(`build-image ${args.join(' ')} exited ${res.status ?? res.signal}:\n${text.slice(-4000)}`);
  return text;
}

/** Run the `build-image` bin entry (from source) into `out` with the run's bootstrap cache; return its output. */
export function buildImage(args: string[], out: string): string {
  return withLock(() => build(args, out));
}

/** Hard-link copy of a folder, leaving out dot entries (locks, staging); images are replaced, never written in place. */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'))) {
    const [src, dst] = [join(from, e.name), join(to, e.name)];
    if (e.isDirectory()) linkTree(src, dst);
    else if (e.isSymbolicLink()) symlinkSync(readlinkSync(src), dst);
    else linkSync(src, dst);
  }
}

export interface BuiltImage {
  /** The output of this run's one build of the image (the first build with an empty cache, for debian). */
  log: string;
  /** The version `current` pointed at. */
  version: string;
}

export type BuiltDebian = BuiltImage;

/**
 * One shared build of the run, built on first use into `<run>/<key>/images`, put into
 * `images/<image>` as hard links so each file may add versions and images beside it
 * without touching the others. A failed build is remembered: later files fail at once
 * with its output.
 */
function builtShared(key: string, args: string[], image: string, images: string): BuiltImage {
  const shared = join(runDir(), key);
  const log = join(shared, 'build.log');
  const failed = join(shared, 'build.failed');
  const text = withLock(() => {
    if (existsSync(failed)) throw new Error(`this run's build-image ${args.join(' ')} failed earlier:\n${readFileSync(failed, 'utf8')}`);
    if (!existsSync(log)) {
      mkdirSync(shared, { recursive: true });
      try {
        writeFileSync(log, build(args, join(shared, 'images')));
      } catch (err) {
        writeFileSync(failed, (err as Error).message);
        throw err;
      }
    }
    return readFileSync(log, 'utf8');
  });
  linkTree(join(shared, 'images', image), join(images, image));
  return { log: text, version: readlinkSync(join(images, image, 'current')) };
}

/** The run's `build-image debian` in `images/debian-bookworm-amd64` (see builtShared). */
export function builtDebian(images: string): BuiltImage {
  return builtShared('debian', ['debian'], DEBIAN, images);
}

/** The run's `build-image debian --variant xen-dom0` in `images/debian-bookworm-amd64-xen-dom0`; its bootstrap comes from the run's cache. */
export function builtXen(images: string): BuiltImage {
  return builtShared('xen', ['debian', '--variant', 'xen-dom0'], XEN, images);
}
