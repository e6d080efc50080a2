// Progress for long work: each named step prints when it starts and how long it
// took; a step that runs long prints a heartbeat with its latest detail line.
import type { Logger } from './log.js';

export interface StepReporter {
  /** A line of detail from inside the running step (shown in heartbeats and with --verbose). */
  detail(line: string): void;
  /** A result worth showing always (sizes, versions, what was reused). */
  note(line: string): void;
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
  opts: { log: Logger; heartbeatMs?: number; clock?: () => number; signal?: AbortSignal },
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
    const timer = setInterval(() => {
      opts.log.info(`${tag}: still running (${fmt(clock() - start)})${last ? `: ${last}` : ''}`);
    }, opts.heartbeatMs ?? 15_000);
    timer.unref();
    try {
      await step.run(ctx, {
        detail: (line) => {
          last = line.length > 160 ? `${line.slice(0, 157)}...` : line;
          opts.log.debug(`${step.name}: ${line}`);
        },
        note: (line) => opts.log.info(`      ${line}`),
      });
    } catch (err) {
      opts.log.info(`${tag}: failed after ${fmt(clock() - start)}`);
      throw err;
    } finally {
      clearInterval(timer);
    }
    const ms = clock() - start;
    timings.push({ name: step.name, seconds: Math.round(ms) / 1000 });
    opts.log.info(`${tag}: done in ${fmt(ms)}`);
  }
  return timings;
}
