// The root image tools' progress. mksquashfs draws "[====\   ]  2400/13069  18%"
// frames, every 250 ms in a terminal (rootfs/formats.ts gives it one; on a pipe it
// draws one only when its count is a multiple of 100 as it looks); mkfs.erofs prints
// "ESC[KProcessing <path> ..." for each entry of the root, so its share is the count
// over the root's entries. Pure: a line in (lib/run.ts splits at \r too), a state out.
import type { Progress } from './progress.js';
import { stripControl } from '../../lib/control.js';

/** mksquashfs's frame: blocks done, blocks known so far, its percentage. */
export function mksquashfsFrame(line: string): { done: number; total: number; percent: number } | undefined {
  const m = /\]\s+(\d+)\/(\d+)\s+(\d+)%\s*$/.exec(line);
  return m ? { done: Number(m[1]), total: Number(m[2]), percent: Number(m[3]) } : undefined;
}

export function describeMksquashfs(f: { done: number; total: number; percent: number }): Progress {
  return { text: `${f.percent}% (${f.done}/${f.total} blocks)`, fraction: f.total ? f.done / f.total : 0 };
}

/** A mkfs.erofs line without its terminal codes (ESC[K and the like). */
export function stripTerminal(line: string): string {
  return stripControl(line).trim();
}

/** The path mkfs.erofs says it is processing, if the line is one of those. */
export function erofsProcessing(line: string): string | undefined {
  return /^Processing (.*) \.\.\.$/.exec(stripTerminal(line))?.[1];
}

export function describeErofs(done: number, entries: number): Progress {
  if (!entries) return { text: `${done} entries` };
  const fraction = Math.min(1, done / entries);
  return { text: `${Math.floor(fraction * 100)}% (${done}/${entries} entries)`, fraction };
}
