// One line at the bottom of a terminal, redrawn in place (\r and ESC[K, "erase to the
// end of the line"): the running step's progress. Every log line clears it first and
// draws it again after, so the two never mix. Only for a TTY; elsewhere progress
// shows in the heartbeat lines (lib/progress.ts).
import type { Logger } from './log.js';

export interface StatusLine {
  show(line: string): void;
  clear(): void;
}

const ERASE = '\r\x1b[K';

export function ttyStatusLine(out: { write(s: string): unknown; columns?: number }): { status: StatusLine; logger(inner: Logger): Logger } {
  let shown: string | undefined;
  const draw = (line: string) => out.write(`${ERASE}${line.slice(0, Math.max(10, (out.columns ?? 80) - 1))}`);
  const status: StatusLine = {
    show(line) {
      shown = line;
      draw(line);
    },
    clear() {
      if (shown !== undefined) out.write(ERASE);
      shown = undefined;
    },
  };
  const around = (f: (m: string) => void) => (m: string) => {
    if (shown !== undefined) out.write(ERASE);
    f(m);
    if (shown !== undefined) draw(shown);
  };
  return { status, logger: (inner) => ({ info: around(inner.info), warn: around(inner.warn), debug: around(inner.debug) }) };
}
