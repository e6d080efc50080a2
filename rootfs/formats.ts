// Read-only root image formats, one registered object each: how to make the image
// from a folder and how to check that the result reads back.
import { run } from '../lib/run.js';
import type { Logger } from '../lib/log.js';

export type RootFormat = 'squashfs' | 'erofs';

export interface RootImageFormat {
  name: RootFormat;
  /** Artifact file name in the version folder. */
  file: string;
  /** Host tools needed, for an early "install X" error. */
  tools: string[];
  /** The filesystem type the initrd passes to mount. */
  fsType: string;
  /** The kernel module that reads it. */
  module: string;
  build(root: string, out: string, o: { log?: Logger; onLine?: (l: string) => void; signal?: AbortSignal }): Promise<void>;
  /** Read the image's superblock back; returns a one-line summary or throws. */
  verify(image: string, o?: { log?: Logger }): Promise<string>;
}

export const squashfs: RootImageFormat = {
  name: 'squashfs',
  file: 'root.squashfs',
  tools: ['mksquashfs', 'unsquashfs', 'script'],
  fsType: 'squashfs',
  module: 'squashfs',
  async build(root, out, o) {
    // Its bar is the build's progress (builders/progress/). In a terminal it draws it every 250 ms;
    // on a pipe only when the block count it samples happens to be a multiple of 100, so all but never.
    await run(['mksquashfs', root, out, '-noappend', '-comp', 'zstd', '-b', '1M', '-quiet'], { ...o, terminalColumns: 80 });
  },
  async verify(image, o) {
    const { stdout } = await run(['unsquashfs', '-s', image], o);
    const bytes = /Filesystem size (\d+) bytes/.exec(stdout)?.[1];
    const comp = /Compression (\w+)/.exec(stdout)?.[1];
    const inodes = /Number of inodes (\d+)/.exec(stdout)?.[1];
    if (!bytes || !comp) throw new Error(`unsquashfs -s ${image} did not describe a squashfs superblock:\n${stdout}`);
    return `squashfs, ${comp}, ${(Number(bytes) / 1e6).toFixed(1)} MB, ${inodes ?? '?'} inodes`;
  },
};

export const erofs: RootImageFormat = {
  name: 'erofs',
  file: 'root.erofs',
  tools: ['mkfs.erofs', 'fsck.erofs', 'stdbuf'],
  fsType: 'erofs',
  module: 'erofs',
  async build(root, out, o) {
    await run(['stdbuf', '-o0', 'mkfs.erofs', '-zlz4hc', out, root], o);
  },
  async verify(image, o) {
    await run(['fsck.erofs', image], o);
    return 'erofs, lz4hc, fsck clean';
  },
};

export const ROOT_FORMATS: Record<RootFormat, RootImageFormat> = { squashfs, erofs };
