// Console lines as the project reads and prints them: terminal escapes and control
// characters from the guest (systemd's reset, colours, CR) never reach a matched line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { controlStripper, stripControl, watchOutput } from '../../host/output.js';

const NODE_UP = 'diskless: node-up name=n1 addr=10.0.0.1';

test("systemd's soft reset and colour reset in front of the node-up line are removed", () => {
  assert.is(stripControl(`\x1b[!p\x1b]104\x07${NODE_UP}\r\n`), `${NODE_UP}\n`);
  assert.is(stripControl(`\x1b[0;1;32mOK\x1b[0m tab\there`), 'OK tab\there');
  assert.is(stripControl(`\x1b]0;title\x1b\\x\x1b=y\x1bcz\x07`), 'xyz');
  assert.is(stripControl(`\x1b[?25l\x1b[2J\x1b[H${NODE_UP}`), NODE_UP);
});

test('an escape split across chunks is held until it ends', () => {
  const s = controlStripper();
  const raw = `boot\x1b[!p\x1b]104\x07${NODE_UP}\n`;
  for (let cut = 0; cut <= raw.length; cut++) {
    const t = controlStripper();
    assert.is(t(raw.slice(0, cut)) + t(raw.slice(cut)), `boot${NODE_UP}\n`, `cut at ${cut}`);
  }
  assert.is(s('plain'), 'plain');
});

test('watchOutput matches the node-up line of a real process that prints escapes around it', async () => {
  const child = spawn('printf', [String.raw`\033[!p\033]104\007diskless: node-up name=n1 addr=10.0.0.1\r\n`]);
  const m = await watchOutput(child).waitFor(/^diskless: node-up name=(\S+) addr=(\S+)$/m, 10_000, 'node-up');
  assert.is(m[1], 'n1');
  assert.is(m[2], '10.0.0.1');
});

test.run();
