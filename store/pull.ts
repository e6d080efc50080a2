// Verified pull: an image version another replica holds is downloaded into a hidden
// folder, every artifact checked against the manifest (whose own hash the peer
// announced) and fsynced, and only then renamed into place; a corrupted copy is
// never served. `current` follows the peer's only when the version is newer.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTree } from '../rootfs/remove.js';
import { fsyncPath, renameDurable, writeFileAtomic } from '../lib/atomic.js';
import { downloadFile, fetchCapped, MANIFEST_CAP_BYTES, type TransferLimits } from './download.js';
import { sha256Hex } from './hash.js';
import type { HeldImage } from './held.js';
import { currentVersion, imageDir as imageDirOf, isSafeName, MANIFEST_FILE, PULL_PREFIX } from './layout.js';
import { lockImage } from './lock.js';
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
}

/** Pull one image version into `root`; throws (leaving nothing behind) on any mismatch. */
export async function pullVersion(from: PullSource, img: HeldImage, root: string): Promise<string> {
  const { peer, timeoutMs } = from;
  const what = `${img.name}/${img.version}`;
  if (!isSafeName(img.name) || !isSafeName(img.version)) throw new Error(`peer ${peer} announced an unsafe image name ${what}`);
  const imageDir = imageDirOf(root, img.name);
  await mkdir(imageDir, { recursive: true });
  const release = await lockImage(imageDir);
  const staging = join(imageDir, `${PULL_PREFIX}${img.version}-${process.pid}`);
  try {
    await removeTree(staging);
    await mkdir(staging);
    const base = `${from.imagesUrl}/${what}`;
    const text = await fetchCapped(`${base}/${MANIFEST_FILE}`, { timeoutMs, maxBytes: MANIFEST_CAP_BYTES });
    if (sha256Hex(text) !== img.manifest) throw new Error(`manifest.json of ${what} from ${peer} does not match the hash ${peer} announced`);
    const manifest = JSON.parse(text.toString('utf8')) as Manifest;
    for (const a of Object.values(manifest.artifacts)) {
      if (!isSafeName(a.file)) throw new Error(`manifest of ${what} names an unsafe file ${a.file}`);
      const got = await downloadFile(`${base}/${a.file}`, join(staging, a.file), { silenceMs: timeoutMs, ...from.limits, size: a.size });
      if (got.sha256 !== a.sha256 || got.size !== a.size) {
        throw new Error(`${a.file} of ${what} from ${peer} is corrupted: sha256 ${got.sha256} (${got.size} bytes), manifest says ${a.sha256} (${a.size} bytes)`);
      }
    }
    await writeFileAtomic(join(staging, MANIFEST_FILE), text);
    await fsyncPath(staging);
    await renameDurable(staging, join(imageDir, img.version));
    if (img.current && isNewer(img.version, await currentVersion(imageDir))) await pointCurrent(imageDir, img.version);
    return what;
  } finally {
    await removeTree(staging);
    await release();
  }
}
