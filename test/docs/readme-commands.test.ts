// Every command line the README shows (`npx build-image …`, `npx diskless …` in its
// shell blocks) parses against the real CLI: a flag that does not exist, or a value the
// CLI refuses, fails here. Run with DISKLESS_ARGS_ONLY=1: parsed and checked, nothing done.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths.js';

const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');

/** Lines of code blocks (but YAML and JSON), with their README line numbers, comments removed. */
function shellLines(md: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  let fence: string | undefined; // the open block's language ('' for none)
  md.split('\n').forEach((l, i) => {
    if (/^```/.test(l)) fence = fence === undefined ? l.slice(3).trim() : undefined;
    else if (fence !== undefined && !/^(yaml|json)/.test(fence)) out.push({ line: i + 1, text: l.replace(/\s+#.*$/, '').trim() });
  });
  return out;
}

/** Shell words: spaces split, single and double quotes group. Enough for documentation. */
function words(s: string): string[] {
  return [...s.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

const lines = shellLines(readme);
const commands = lines.filter((l) => /^(sudo\s+)?npx (build-image|diskless)\b/.test(l.text));

test('the README shows commands to check', () => {
  assert.ok(commands.length >= 10, `found ${commands.length}`);
});

test('no bare `diskless`: after npm ci it is not on PATH (npx diskless)', () => {
  const bare = lines.filter((l) => /^(sudo\s+)?(diskless|build-image)\s/.test(l.text));
  assert.equal(bare.map((l) => `README.md:${l.line}: ${l.text}`), []);
});

test('every documented command line parses: no unknown flag, no refused value', () => {
  const bad: string[] = [];
  for (const c of commands) {
    const all = words(c.text.replace(/^sudo\s+/, ''));
    const end = all.findIndex((w) => ['|', '||', '&&', ';', '>', '>>', '&'].includes(w)); // the command, not what its output goes to
    const [, bin, ...args] = end < 0 ? all : all.slice(0, end);
    const r = spawnSync(process.execPath, ['--import', 'tsx/esm', join(projectRoot(), `cli/${bin}.ts`), ...args], {
      cwd: projectRoot(),
      env: { ...process.env, DISKLESS_ARGS_ONLY: '1', NO_COLOR: '1' },
      encoding: 'utf8',
    });
    if (r.status !== 0) bad.push(`README.md:${c.line}: ${c.text}\n  ${`${r.stdout}${r.stderr}`.trim().split('\n')[0]}`);
  }
  assert.equal(bad, []);
});

test.run();
