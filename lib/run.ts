// The one wrapper every external process goes through: logs the command line,
// honours dry-run, and turns failures into errors that carry the argv, the exit
// code and the tail of stderr (and, for a missing program, the package to install).
import { execa, execaSync, type Result } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from './log.js';
import { missingToolMessage } from './hosttools.js';

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  input?: string | Buffer;
  log?: Logger;
  dryRun?: boolean;
  /** Called with each line the command prints (stdout and stderr), for progress. */
  onLine?: (line: string) => void;
  /** Return stdout as a Buffer instead of a string. */
  binary?: boolean;
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Run it in a pseudo-terminal this many columns wide, for a tool that draws its progress
   * only on a terminal. Its stdout comes back with \r\n line ends; its stderr stays apart.
   */
  terminalColumns?: number;
}

export interface RunResult {
  stdout: string;
  stdoutBuffer?: Buffer;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly argv: string[],
    readonly exitCode: number | undefined,
    readonly stderrTail: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

export function quoteArgv(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

const notFound = (res: Result) =>
  (res as { code?: string }).code === 'ENOENT' || /ENOENT/.test(String(res.message ?? '')) && res.exitCode === undefined;

/** The error for a finished command, or undefined when it succeeded. */
function failure(res: Result, argv: string[], timeoutMs: number | undefined): CommandError | undefined {
  const stderr = String(res.stderr ?? '');
  if (notFound(res)) {
    return new CommandError(missingToolMessage(argv[0]!), argv, undefined, '');
  }
  if (!res.failed) return undefined;
  const why = res.timedOut
    ? `timed out after ${timeoutMs} ms`
    : res.isCanceled
      ? 'was cancelled'
      : res.signal
        ? `was killed by ${res.signal}`
        : `exited with code ${res.exitCode}`;
  const t = tail(stderr);
  return new CommandError(`command ${why}: ${quoteArgv(argv)}${t ? `\n--- stderr (last lines) ---\n${t}` : ''}`, argv, res.exitCode, t);
}

/**
 * argv run by util-linux `script` in a pseudo-terminal of `columns` (a new one is 0 wide, and
 * progress bars draw nothing). The real stderr reaches the tool as fd 3, and becomes its stderr
 * there. `script` ends the tool on SIGTERM or SIGINT; -e passes on its exit code. If this process
 * is SIGKILLed, a parent-death signal ends `script`, and another the tool (mksquashfs ignores the
 * SIGHUP of its terminal closing, and would run on to its end).
 */
function inTerminal(argv: string[], columns: number): string[] {
  const inner = `exec 2>&3 3>&-; stty cols ${Math.floor(columns)} rows 24 && exec setpriv --pdeathsig KILL ${quoteArgv(argv)}`;
  return ['sh', '-c', 'SHELL=/bin/sh exec setpriv --pdeathsig KILL script -qfec "$1" /dev/null 3>&2', 'sh', inner];
}

/** A failure of the `script` wrapper itself, or of the tool in it, named as run() names it for a plain command. */
function terminalFailure(res: Result, argv: string[], signal: AbortSignal | undefined): CommandError | undefined {
  const stderr = String(res.stderr ?? '');
  // sh says "not found", setpriv "failed to execute X: No such file or directory".
  if (res.exitCode === 127 && /not found|No such file/.test(stderr)) {
    const tool = /failed to execute (\S+):/.exec(stderr)?.[1] ?? /(\S+): not found/.exec(stderr)?.[1] ?? argv[0]!;
    return new CommandError(missingToolMessage(tool), argv, undefined, '');
  }
  // `script` exits 0 when a SIGINT or SIGTERM made it end the tool: that is no success.
  if (!res.failed && signal?.aborted) return new CommandError(`command was cancelled: ${quoteArgv(argv)}`, argv, undefined, '');
  return undefined;
}

export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  if (!argv[0]) throw new Error('run: empty command');
  const line = quoteArgv(argv);
  opts.log?.debug(`$ ${line}`);
  if (opts.dryRun) return { stdout: '', stderr: '' };
  const [file, ...args] = opts.terminalColumns ? inTerminal(argv, opts.terminalColumns) : argv;
  const child = execa(file!, args, {
    cwd: opts.cwd,
    env: opts.env,
    input: opts.input,
    encoding: opts.binary ? 'buffer' : 'utf8',
    stripFinalNewline: false,
    reject: false,
    timeout: opts.timeoutMs,
    cancelSignal: opts.signal,
    maxBuffer: 1024 * 1024 * 1024,
  });
  if (opts.onLine) {
    const onLine = opts.onLine;
    let pending = '';
    const feed = (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const parts = pending.split(/\r?\n|\r/);
      pending = parts.pop() ?? '';
      for (const p of parts) if (p.trim()) onLine(p);
    };
    child.stdout?.on('data', feed);
    child.stderr?.on('data', feed);
  }
  const res = await child;
  const err = (opts.terminalColumns ? terminalFailure(res, argv, opts.signal) : undefined) ?? failure(res, argv, opts.timeoutMs);
  if (err) throw err;
  const stderr = String(res.stderr ?? '');
  if (opts.binary) {
    const buf = res.stdout as unknown as Uint8Array;
    return { stdout: '', stdoutBuffer: Buffer.from(buf), stderr };
  }
  return { stdout: String(res.stdout), stderr };
}

/** True when `tool` can be found on PATH. */
export async function hasTool(tool: string): Promise<boolean> {
  const res = await execa('sh', ['-c', `command -v "$1"`, 'sh', tool], { reject: false });
  return res.exitCode === 0;
}

export async function requireTools(tools: string[]): Promise<void> {
  for (const t of tools) {
    if (!(await hasTool(t))) throw new Error(missingToolMessage(t));
  }
}

export interface RunSyncOptions extends Pick<RunOptions, 'cwd' | 'env' | 'input' | 'log' | 'timeoutMs'> {
  /** Return a failure (exit code, signal, timeout) as `exitCode` instead of throwing; a missing program still throws. */
  allowFail?: boolean;
}

/** run() for callers that must not yield: setting up namespaces and links step by step. */
export function runSync(argv: string[], opts: RunSyncOptions = {}): RunResult & { exitCode: number | undefined } {
  const [file, ...args] = argv;
  if (!file) throw new Error('runSync: empty command');
  opts.log?.debug(`$ ${quoteArgv(argv)}`);
  const res = execaSync(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    input: opts.input,
    stripFinalNewline: false,
    reject: false,
    timeout: opts.timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
  });
  const err = failure(res, argv, opts.timeoutMs);
  if (err && (!opts.allowFail || notFound(res))) throw err;
  return { stdout: String(res.stdout ?? ''), stderr: String(res.stderr ?? ''), exitCode: res.exitCode };
}

type Stdio = 'ignore' | 'pipe' | 'inherit';

export interface StartOptions extends Pick<RunOptions, 'cwd' | 'env' | 'log'> {
  /** Default: stdin ignored, stdout and stderr piped for the caller to read. */
  stdio?: [Stdio, Stdio, Stdio];
}

/**
 * A long-running process (a server, a VM), returned as soon as it is started. Its output
 * is not buffered: the caller reads the pipes, and ends it by PID. With `log`, a failed
 * end is logged as a warning with the command line and the tail of stderr. A plain
 * ChildProcess, not execa's: that one is a thenable, so an async function returning it
 * would wait for the process to end.
 */
export function start(argv: string[], opts: StartOptions = {}): ChildProcess {
  const [file, ...args] = argv;
  if (!file) throw new Error('start: empty command');
  const line = quoteArgv(argv);
  const log = opts.log;
  log?.debug(`$ ${line} &`);
  const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'] });
  child.on('error', (err: NodeJS.ErrnoException) => {
    const msg = err.code === 'ENOENT' ? missingToolMessage(file) : `could not start ${line}: ${err.message}`;
    if (log) log.warn(msg);
    else process.emitWarning(msg);
  });
  if (log) {
    // Only when asked: reading stderr here would take it from a caller that listens later.
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8192)));
    child.once('close', (code, signal) => {
      if (code === 0) return;
      const t = tail(stderr);
      log.warn(`command ${signal ? `was killed by ${signal}` : `exited with code ${code}`}: ${line}${t ? `\n--- stderr (last lines) ---\n${t}` : ''}`);
    });
  }
  return child;
}
