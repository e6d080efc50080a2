// A small logger interface that every long-running piece takes as a parameter,
// so tests can capture what was said and the CLI can choose the output form.
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
}

export function consoleLogger(opts: { verbose?: boolean; stream?: NodeJS.WritableStream } = {}): Logger {
  const out = opts.stream ?? process.stderr;
  return {
    info: (m) => out.write(`${m}\n`),
    warn: (m) => out.write(`warning: ${m}\n`),
    debug: (m) => {
      if (opts.verbose) out.write(`  ${m}\n`);
    },
  };
}

export function silentLogger(): Logger {
  return { info() {}, warn() {}, debug() {} };
}

/** A logger that keeps every line, for tests. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(m),
    warn: (m) => lines.push(`warning: ${m}`),
    debug: (m) => lines.push(`debug: ${m}`),
  };
}
