// Progress for long work: each named step prints when it starts and how long it
// took; a step that runs long prints a heartbeat with its progress (its tool's own
// count, with an ETA once the whole is known) or else its latest detail line. On a
// TTY the progress is also redrawn in place as it changes (status-line.ts).
import type { Logger } from './log.js';
import { etaSeconds, formatDuration, type Reading } from './eta.js';
import type { StatusLine } from './status-line.js';

export interface StepReporter {
  /** A line of detail from inside the running step (shown in heartbeats and with --verbose). */
  detail(line: string): void;
  /** A result worth showing always (sizes, versions, what was reused). */
  note(line: string): void;
  /** How far the step is, from its tool's output; `fraction` (0..1) once the whole is known. */
  progress(p: { text: string; fraction?: number }): void;
}

export interface Step<C> {
  name: string;
  describe: string;
  run(ctx: C, report: StepReporter): Promise<void>;
}

export interface StepTiming {
  name: string;
  seconds: number;
}

const fmt = (ms: number) => (ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`);

export async function runSteps<C>(
  steps: Step<C>[],
  ctx: C,
  opts: { log: Logger; heartbeatMs?: number; clock?: () => number; signal?: AbortSignal; status?: StatusLine },
): Promise<StepTiming[]> {
  const clock = opts.clock ?? (() => performance.now());
  const timings: StepTiming[] = [];
  const total = steps.length;
  for (const [i, step] of steps.entries()) {
    const tag = `[${i + 1}/${total}] ${step.name}`;
    if (opts.signal?.aborted) throw new Error(`interrupted before ${step.name}`);
    opts.log.info(`${tag}: ${step.describe}`);
    const start = clock();
    let last = '';
    const meter = progressMeter(clock);
    const timer = setInterval(() => {
      const said = meter.line() ?? last;
      opts.log.info(`${tag}: still running (${fmt(clock() - start)})${said ? `: ${said}` : ''}`);
    }, opts.heartbeatMs ?? 15_000);
    timer.unref();
    try {
      await step.run(ctx, {
        detail: (line) => {
          last = line.length > 160 ? `${line.slice(0, 157)}...` : line;
          opts.log.debug(`${step.name}: ${line}`);
        },
        note: (line) => opts.log.info(`      ${line}`),
        progress: (p) => {
          if (meter.update(p) && opts.status) opts.status.show(`${tag}: ${meter.line()}`);
        },
      });
    } catch (err) {
      opts.log.info(`${tag}: failed after ${fmt(clock() - start)}`);
      throw err;
    } finally {
      clearInterval(timer);
      opts.status?.clear();
    }
    const ms = clock() - start;
    timings.push({ name: step.name, seconds: Math.round(ms) / 1000 });
    opts.log.info(`${tag}: done in ${fmt(ms)}`);
  }
  return timings;
}

const REDRAW_MS = 200;

/** The latest progress of a step and its ETA; update() says when a redraw is due (at most every REDRAW_MS). */
export function progressMeter(clock: () => number) {
  let text: string | undefined;
  let first: Reading | undefined;
  let now: Reading | undefined;
  let drawnAt = -Infinity;
  return {
    update(p: { text: string; fraction?: number }): boolean {
      text = p.text;
      if (p.fraction !== undefined) {
        now = { at: clock(), fraction: p.fraction };
        first ??= now;
      }
      if (clock() - drawnAt < REDRAW_MS) return false;
      drawnAt = clock();
      return true;
    },
    line(): string | undefined {
      if (text === undefined) return undefined;
      const eta = first && now ? etaSeconds(first, now) : undefined;
      return eta === undefined ? text : `${text}, ETA ${formatDuration(eta)}`;
    },
  };
}
