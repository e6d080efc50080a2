// Verified pull: an image version another replica holds is downloaded into a hidden
// folder, every artifact checked against the manifest (whose own hash the peer
// announced) and fsynced, and only then renamed into place; a corrupted copy is
// never served. `current` follows the peer's only when the version is newer.
// With a trusted key, manifest.json must come with manifest.json.sig by that key,
// checked before any artifact is fetched; the pair is kept so it is served on.
// The image lock is held only to rename the version in and move `current`, so pulls
// of several versions of one image run side by side.
import { existsSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import { SIG_SUFFIX, verifyBytes, type TrustKey } from '../lib/sign.js';
import { join } from 'node:path';
import { removeTree } from '../rootfs/remove.js';
import { fsyncPath, renameDurable, writeFileAtomic } from '../lib/atomic.js';
import { downloadFile, fetchCapped, fetchCappedOptional, MANIFEST_CAP_BYTES, type TransferLimits } from './download.js';
import { sha256Hex } from './hash.js';
import type { HeldImage } from './held.js';
import { currentVersion, imageDir as imageDirOf, isSafeName, MANIFEST_FILE, PULL_PREFIX } from './layout.js';
import { inTurn, lockImage } from './lock.js';
import type { Manifest } from './manifest.js';
import { pointCurrent } from './publish.js';
import { isNewer } from './version.js';

export interface PullSource {
  /** Who is asked, for messages: host[:port]. */
  peer: string;
  /** URL of the peer's images folder; files are fetched as <url>/<name>/<version>/<file>. */
  imagesUrl: string;
  timeoutMs: number;
  /** Bounds on each artifact (store/download.ts); silence defaults to `timeoutMs`. */
  limits?: Partial<TransferLimits>;
  /** Take only manifests signed by this key. */
  trust?: TrustKey;
}

/** Fetch `url` as bytes, or undefined on a 404 (an unsigned image has no manifest.json.sig). */
function fetchOptional(url: string, timeoutMs: number): Promise<Buffer | undefined> {
  return fetchCappedOptional(url, { timeoutMs, maxBytes: MANIFEST_CAP_BYTES });
}

/** The manifest, checked against the hash the peer announced, its signature (with `trust`) and its name and version. */
async function fetchManifest(from: PullSource, img: HeldImage, base: string): Promise<{ text: Buffer; sig?: Buffer; manifest: Manifest }> {
  const { peer, timeoutMs, trust } = from;
  const what = `${img.name}/${img.version}`;
  const text = await fetchCapped(`${base}/${MANIFEST_FILE}`, { timeoutMs, maxBytes: MANIFEST_CAP_BYTES });
  if (sha256Hex(text) !== img.manifest) throw new Error(`manifest.json of ${what} from ${peer} does not match the hash ${peer} announced`);
  const sig = await fetchOptional(`${base}/${MANIFEST_FILE}${SIG_SUFFIX}`, timeoutMs);
  if (trust) {
    if (!sig) throw new Error(`manifest.json of ${what} from ${peer} is not signed (no manifest.json.sig), and this replica trusts only key ${trust.id}`);
    try {
      verifyBytes(text, sig, trust);
    } catch (err) {
      throw new Error(`manifest.json.sig of ${what} from ${peer}: ${(err as Error).message}`);
    }
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text.toString('utf8')) as Manifest;
  } catch (err) {
    throw new Error(`manifest.json of ${what} from ${peer} is not JSON: ${(err as Error).message}`);
  }
  if (manifest.name !== img.name || manifest.version !== img.version) {
    throw new Error(`manifest.json served as ${what} by ${peer} describes ${manifest.name}/${manifest.version}`);
  }
  return { text, sig, manifest };
}

/** Pull one image version into `root`; throws (leaving nothing behind) on any mismatch. */
export async function pullVersion(from: PullSource, img: HeldImage, root: string): Promise<string> {
  const { peer, timeoutMs } = from;
  const what = `${img.name}/${img.version}`;
  if (!isSafeName(img.name) || !isSafeName(img.version)) throw new Error(`peer ${peer} announced an unsafe image name ${what}`);
  const imageDir = imageDirOf(root, img.name);
  const base = `${from.imagesUrl}/${what}`;
  // Checked before anything is written: a refused manifest leaves no trace.
  const { text, sig, manifest } = await fetchManifest(from, img, base);
  const fresh = !existsSync(imageDir);
  await mkdir(imageDir, { recursive: true });
  const staging = join(imageDir, `${PULL_PREFIX}${img.version}-${process.pid}`);
  try {
    await removeTree(staging);
    await mkdir(staging);
    for (const a of Object.values(manifest.artifacts)) {
      if (!isSafeName(a.file)) throw new Error(`manifest of ${what} names an unsafe file ${a.file}`);
      const got = await downloadFile(`${base}/${a.file}`, join(staging, a.file), { silenceMs: timeoutMs, ...from.limits, size: a.size });
      if (got.sha256 !== a.sha256 || got.size !== a.size) {
        throw new Error(`${a.file} of ${what} from ${peer} is corrupted: sha256 ${got.sha256} (${got.size} bytes), manifest says ${a.sha256} (${a.size} bytes)`);
      }
    }
    if (sig) await writeFileAtomic(join(staging, `${MANIFEST_FILE}${SIG_SUFFIX}`), sig);
    await writeFileAtomic(join(staging, MANIFEST_FILE), text);
    await fsyncPath(staging);
    await inTurn(imageDir, async () => {
      const release = await lockImage(imageDir);
      try {
        if (existsSync(join(imageDir, img.version))) throw new Error(`${what} appeared here while it was being pulled; keeping the copy already in place`);
        await renameDurable(staging, join(imageDir, img.version));
        if (img.current && isNewer(img.version, await currentVersion(imageDir))) await pointCurrent(imageDir, img.version);
      } finally {
        await release();
      }
    });
    return what;
  } catch (err) {
    // Nothing left behind, not even the image's folder when this pull made it.
    await removeTree(staging);
    if (fresh) await rmdir(imageDir).catch(() => {});
    throw err;
  } finally {
    await removeTree(staging);
  }
}
