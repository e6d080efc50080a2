// runSync() and start(): the same errors as run() (command line, exit code, stderr
// tail, the package for a missing program), for callers that cannot await and for
// processes that keep running.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CommandError, runSync, start } from '../../lib/run.js';
import { memoryLogger } from '../../lib/log.js';

test('runSync returns stdout and stderr, with the final newline', () => {
  const r = runSync(['sh', '-c', 'echo out; echo err >&2']);
  assert.is(r.stdout, 'out\n');
  assert.is(r.stderr, 'err\n');
  assert.is(r.exitCode, 0);
});

test('runSync passes input to stdin', () => {
  assert.is(runSync(['cat'], { input: 'abc' }).stdout, 'abc');
});

test('a failing runSync throws with the command line, exit code and stderr tail', () => {
  try {
    runSync(['sh', '-c', 'echo boom >&2; exit 3']);
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.instance(err, CommandError);
    const e = err as CommandError;
    assert.is(e.exitCode, 3);
    assert.is(e.stderrTail, 'boom');
    assert.match(e.message, /exited with code 3: sh -c 'echo boom >&2; exit 3'/);
    assert.match(e.message, /boom/);
  }
});

test('runSync with allowFail returns the exit code instead', () => {
  const r = runSync(['sh', '-c', 'echo no >&2; exit 2'], { allowFail: true });
  assert.is(r.exitCode, 2);
  assert.is(r.stderr, 'no\n');
});

test('runSync with allowFail still throws for a missing program, naming the package', () => {
  assert.throws(() => runSync(['qemu-system-x86_64-not-here'], { allowFail: true }), /was not found on this host/);
  assert.throws(() => runSync(['mksquashfs-nope']), /not found/);
});

test('runSync times out', () => {
  assert.throws(() => runSync(['sleep', '5'], { timeoutMs: 200 }), /timed out after 200 ms: sleep 5/);
});

test('start returns at once with stdout piped, and logs the command line', async () => {
  const log = memoryLogger();
  const child = start(['sh', '-c', 'echo hello; sleep 0.1; echo bye'], { log });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise((r) => child.once('exit', r));
  assert.is(code, 0);
  assert.is(out, 'hello\nbye\n');
  assert.ok(log.lines.some((l) => l.includes("sh -c 'echo hello; sleep 0.1; echo bye' &")), log.lines.join('\n'));
});

test('a started process that fails is logged with its command line and stderr tail', async () => {
  const log = memoryLogger();
  const child = start(['sh', '-c', 'echo broken >&2; exit 4'], { log });
  await new Promise((r) => child.once('exit', r));
  await new Promise((r) => setTimeout(r, 50));
  const warning = log.lines.find((l) => l.startsWith('warning: '));
  assert.ok(warning, log.lines.join('\n'));
  assert.match(warning!, /exited with code 4: sh -c/);
  assert.match(warning!, /broken/);
});

test('start returns a plain ChildProcess: an async function returning it does not wait for the end', async () => {
  const begin = async () => start(['sleep', '30']);
  const t0 = Date.now();
  const child = await Promise.race([begin(), new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000))]);
  assert.ok(child, 'awaiting the started process waited for it to end');
  assert.ok(Date.now() - t0 < 2000);
  const exited = new Promise((r) => child!.once('exit', r));
  process.kill(child!.pid!, 'SIGTERM');
  await exited;
});

test('start: a missing program is logged, naming the package', async () => {
  const log = memoryLogger();
  const child = start(['qemu-system-x86_64-not-here'], { log });
  await new Promise((r) => child.once('close', r));
  assert.ok(log.lines.some((l) => /warning: required program 'qemu-system-x86_64-not-here' was not found/.test(l)), log.lines.join('\n'));
});

test('start honours stdio', async () => {
  const child = start(['sh', '-c', 'echo x'], { stdio: ['ignore', 'ignore', 'pipe'] });
  assert.is(child.stdout, null);
  await new Promise((r) => child.once('exit', r));
});

test.run();
