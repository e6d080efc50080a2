// What one boot step means for the boot counters and histograms, read from the status
// model's fold (pxe/status/nodes.ts advance()). Pure: a node's state and a step in, the
// new state and what to count out. Counted as this replica saw it: a boot whose start
// it did not see (the node's DHCP went to another replica) is not "started" here, and
// a phase lasts until the next phase this replica saw.
import { advance, type NodeBootState } from '../status/nodes.js';
import { phaseIndex, startsOver, type FailureKind, type Phase, type Step } from '../status/phases.js';

export interface BootCount {
  after: NodeBootState;
  /** A new boot began with this step. */
  started: boolean;
  /** The boot reached `up`: its length in seconds from the first phase seen (undefined: up was the first). */
  finished?: { seconds?: number };
  /** A phase ended (the boot went on to a later one): which, and how long it lasted. */
  phaseDone?: { phase: Phase; seconds: number };
  /** A failure on the way, and whether it is this boot's first. */
  failure?: { kind: FailureKind; first: boolean };
}

export function countStep(before: NodeBootState, step: Step): BootCount {
  const after = advance(before, step);
  const cur = before.current;
  if ('failure' in step) {
    return { after, started: false, failure: { kind: step.failure, first: after.current?.failures.length === 1 } };
  }
  const started = !cur || startsOver(step.phase, cur.phase);
  const out: BootCount = { after, started };
  if (!started && phaseIndex(step.phase) > phaseIndex(cur.phase) && cur.marks[cur.phase] !== undefined) {
    out.phaseDone = { phase: cur.phase, seconds: Math.max(0, step.at - cur.marks[cur.phase]!) / 1000 };
  }
  const wasUp = !started && cur.upAt !== undefined;
  if (step.phase === 'up' && !wasUp) {
    const boot = after.current!;
    out.finished = started ? {} : { seconds: Math.max(0, step.at - boot.startedAt) / 1000 };
  }
  return out;
}
