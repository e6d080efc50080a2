// Remove a build tree without ever crossing into another filesystem: if a killed
// bootstrap left /proc or /dev mounted inside it, those mounts are detached first
// and `rm --one-file-system` refuses to descend into anything still mounted.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { run } from '../lib/run.js';

async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  const prefix = `${resolve(dir)}/`;
  return text
    .split('\n')
    .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' ') ?? '')
    .filter((m) => m.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

export async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const m of await mountsUnder(dir)) await run(['umount', '--lazy', m]).catch(() => undefined);
  await run(['rm', '-rf', '--one-file-system', dir]);
}
