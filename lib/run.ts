// The one wrapper every external process goes through: logs the command line,
// honours dry-run, and turns failures into errors that carry the argv, the exit
// code and the tail of stderr (and, for a missing program, the package to install).
import { execa } from 'execa';
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

export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('run: empty command');
  const line = quoteArgv(argv);
  opts.log?.debug(`$ ${line}`);
  if (opts.dryRun) return { stdout: '', stderr: '' };
  const child = execa(file, args, {
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
  const stderr = String(res.stderr ?? '');
  if ((res as { code?: string }).code === 'ENOENT' || /ENOENT/.test(String(res.message ?? '')) && res.exitCode === undefined) {
    throw new CommandError(missingToolMessage(file), argv, undefined, '');
  }
  if (res.failed) {
    const why = res.timedOut
      ? `timed out after ${opts.timeoutMs} ms`
      : res.isCanceled
        ? 'was cancelled'
        : res.signal
          ? `was killed by ${res.signal}`
          : `exited with code ${res.exitCode}`;
    const t = tail(stderr);
    throw new CommandError(`command ${why}: ${line}${t ? `\n--- stderr (last lines) ---\n${t}` : ''}`, argv, res.exitCode, t);
  }
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
