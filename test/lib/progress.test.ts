// A step's progress: the ETA from two readings, the heartbeat line on a non-TTY (its
// progress and ETA, else its last detail line, as before), and the line redrawn in
// place on a TTY, which log lines never run into.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { etaSeconds, formatDuration } from '../../lib/eta.js';
import { runSteps, progressMeter } from '../../lib/progress.js';
import { memoryLogger } from '../../lib/log.js';
import { ttyStatusLine } from '../../lib/status-line.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('ETA: at the rate since the first reading; none without a gain, under a second, or when done', () => {
  assert.is(etaSeconds({ at: 0, fraction: 0.1 }, { at: 10_000, fraction: 0.6 }), 8);
  assert.is(etaSeconds({ at: 0, fraction: 0.5 }, { at: 10_000, fraction: 0.5 }), undefined);
  assert.is(etaSeconds({ at: 0, fraction: 0 }, { at: 500, fraction: 0.5 }), undefined);
  assert.is(etaSeconds({ at: 0, fraction: 0 }, { at: 5000, fraction: 1 }), undefined);
  assert.equal([5, 59.6, 185, 3720].map(formatDuration), ['5s', '1m00s', '3m05s', '1h02m']);
});

test('the meter: text alone until a share is known, then with an ETA; redraws at most every 200 ms', () => {
  let t = 0;
  const m = progressMeter(() => t);
  assert.is(m.line(), undefined);
  assert.ok(m.update({ text: '3 MB downloaded' }));
  assert.is(m.line(), '3 MB downloaded');
  t = 100;
  assert.not.ok(m.update({ text: '10/143 packages', fraction: 0.1 }), 'too soon to redraw');
  t = 10_100;
  assert.ok(m.update({ text: '86/143 packages', fraction: 0.6 }));
  assert.is(m.line(), '86/143 packages, ETA 8s');
});

test('non-TTY heartbeat: the progress with its ETA; without progress, the last detail line as before', async () => {
  let t = 0;
  const log = memoryLogger();
  await runSteps(
    [
      {
        name: 'bootstrap', describe: 'make the root',
        async run(_c, r) {
          r.detail('Unpacking libc6 ...');
          r.progress({ text: '14/143 packages, 9.4 MB downloaded', fraction: 0.1 });
          t = 10_000;
          r.progress({ text: '86/143 packages, 90.2 MB downloaded', fraction: 0.6 });
          await sleep(80);
        },
      },
      {
        name: 'quiet', describe: 'no progress',
        async run(_c, r) {
          r.detail('working on it');
          await sleep(80);
        },
      },
    ],
    null,
    { log, heartbeatMs: 25, clock: () => t },
  );
  const beats = log.lines.filter((l) => l.includes('still running'));
  assert.ok(beats.some((l) => /^\[1\/2\] bootstrap: still running \(10s\): 86\/143 packages, 90\.2 MB downloaded, ETA 8s$/.test(l)), beats.join('\n'));
  assert.ok(beats.some((l) => /^\[2\/2\] quiet: still running \([\d.]+s\): working on it$/.test(l)), beats.join('\n'));
  assert.not.ok(log.lines.some((l) => l.includes('\x1b')), 'no terminal codes off a TTY');
});

test('TTY: the progress line is redrawn in place, cleared for each log line and drawn again, and gone at the end', async () => {
  let out = '';
  const tty = ttyStatusLine({ write: (s: string) => (out += s), columns: 40 });
  const lines: string[] = [];
  const log = tty.logger({ info: (m) => (out += `${m}\n`, lines.push(m)), warn: () => undefined, debug: () => undefined });
  let t = 0;
  await runSteps(
    [
      {
        name: 'root-image', describe: 'make it',
        async run(_c, r) {
          r.progress({ text: '18% (2400/13069 blocks)', fraction: 0.18 });
          log.info('a line in between');
          t = 1000;
          r.progress({ text: '75% (9900/13069 blocks)', fraction: 0.75 });
        },
      },
    ],
    null,
    { log, heartbeatMs: 60_000, clock: () => t, status: tty.status },
  );
  const E = '\r\x1b[K';
  assert.ok(out.includes(`${E}[1/1] root-image: 18% (2400/13069 b`), JSON.stringify(out));
  assert.ok(out.includes(`${E}a line in between\n${E}[1/1] root-image: 18%`), 'cleared before the log line, drawn again after');
  assert.ok(out.includes(`${E}[1/1] root-image: 75% (9900/13069 b`), 'cut to the terminal width');
  assert.ok(out.includes(`${E}[1/1] root-image: done in`), 'cleared before the step ends');
});

test.run();
