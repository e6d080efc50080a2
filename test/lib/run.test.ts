// runSync() and start(): the same errors as run() (command line, exit code, stderr
// tail, the package for a missing program), for callers that cannot await and for
// processes that keep running. run() in a pseudo-terminal: the same exit codes, stderr
// and cancellation as without one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError, run, runSync, start } from '../../lib/run.js';
import { memoryLogger } from '../../lib/log.js';
import { alive } from '../helpers/procs.js';

const work = mkdtempSync(join(tmpdir(), 'run-'));
test.after(() => rmSync(work, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The error `p` fails with (the test fails if it succeeds). */
const failure = (p: Promise<unknown>) => p.then(() => assert.unreachable('should have failed'), (e: Error) => e) as Promise<Error>;

/** What a command wrote to `file`, once it has. */
async function written(file: string): Promise<string> {
  for (let i = 0; i < 100 && !existsSync(file); i++) await sleep(50);
  return readFileSync(file, 'utf8');
}

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

test('in a terminal: the tool sees one of that width; stdout comes back, stderr apart, both as lines', async () => {
  const lines: string[] = [];
  const r = await run(['sh', '-c', 'test -t 1 && stty size; test -t 2 || echo err-apart >&2'], { terminalColumns: 77, onLine: (l) => lines.push(l) });
  assert.is(r.stdout, '24 77\r\n');
  assert.is(r.stderr, 'err-apart\n');
  assert.equal(lines.sort(), ['24 77', 'err-apart']);
});

test('in a terminal: a failure carries the tool\'s own command line, exit code and stderr', async () => {
  const e = (await failure(run(['sh', '-c', 'echo progress; echo boom >&2; exit 3'], { terminalColumns: 80 }))) as CommandError;
  assert.instance(e, CommandError);
  assert.is(e.exitCode, 3);
  assert.is(e.stderrTail, 'boom');
  assert.match(e.message, /^command exited with code 3: sh -c 'echo progress; echo boom >&2; exit 3'\n--- stderr \(last lines\) ---\nboom$/);
  assert.match((await failure(run(['mksquashfs-nope', 'x'], { terminalColumns: 80 }))).message, /required program 'mksquashfs-nope' was not found/);
});

test('in a terminal: cancelled, the tool is ended and run() fails; also when `script` gets the SIGINT itself (Ctrl-C)', async () => {
  for (const how of ['abort', 'sigint'] as const) {
    const file = join(work, `${how}.pid`);
    const ac = new AbortController();
    // The tool's parent is `script`: the shell `script` starts becomes the tool (exec).
    const done = run(['sh', '-c', `echo "$$ $PPID" > ${file}.tmp && mv ${file}.tmp ${file} && exec sleep 30`], { terminalColumns: 80, signal: ac.signal });
    const [tool, script] = (await written(file)).trim().split(' ').map(Number) as [number, number];
    assert.ok(alive(tool) && alive(script));
    if (how === 'sigint') process.kill(script, 'SIGINT');
    ac.abort();
    assert.match((await failure(done)).message, /was cancelled: sh -c/);
    for (let i = 0; i < 60 && (alive(tool) || alive(script)); i++) await sleep(50);
    assert.not.ok(alive(tool), `${how}: the tool ${tool} still runs`);
    assert.not.ok(alive(script), `${how}: script ${script} still runs`);
  }
});

test('in a terminal: when the process that ran it is SIGKILLed, script and the tool end too (parent-death signals)', async () => {
  const file = join(work, 'orphan.pid');
  // A node process that runs a terminal command, then dies by SIGKILL with no chance to clean up.
  const prog = `import { run } from ${JSON.stringify(join(process.cwd(), 'lib/run.ts'))};
    await run(['sh', '-c', 'echo "$$ $PPID" > ${file}.tmp && mv ${file}.tmp ${file} && exec sleep 30'], { terminalColumns: 80 });`;
  const parent = spawn(process.execPath, ['--import', 'tsx/esm', '--input-type=module', '-e', prog], { stdio: 'ignore' });
  const [tool, script] = (await written(file)).trim().split(' ').map(Number) as [number, number];
  assert.ok(alive(tool) && alive(script));
  parent.kill('SIGKILL');
  for (let i = 0; i < 100 && (alive(tool) || alive(script)); i++) await sleep(50);
  assert.not.ok(alive(script), `script ${script} still runs`);
  assert.not.ok(alive(tool), `the tool ${tool} still runs`);
});

test.run();
