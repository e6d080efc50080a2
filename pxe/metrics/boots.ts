// What one boot step means for the boot counters and histograms, from the status
// model's own account of the change (pxe/status/nodes.ts advance() and changeFacts()).
// Pure: a node's state and a step in, the new state and what to count out. Counted as
// this replica saw it: a phase lasts until the next phase this replica saw.
import { advance, changeFacts, type NodeBootState } from '../status/nodes.js';
import type { FailureKind, Phase, Step } from '../status/phases.js';

export interface BootCount {
  after: NodeBootState;
  /** A new boot began with this step. */
  started: boolean;
  /** The boot reached `up`: its length in seconds from its first phase (undefined: up was the first seen). */
  finished?: { seconds?: number };
  /** A phase ended (the boot went on to a later one): which, and how long it lasted. */
  phaseDone?: { phase: Phase; seconds: number };
  /** A failure on the way, and whether it is this boot's first. */
  failure?: { kind: FailureKind; first: boolean };
}

export function countStep(before: NodeBootState, step: Step): BootCount {
  const after = advance(before, step);
  const f = changeFacts(before, after);
  const boot = after.current!;
  const out: BootCount = { after, started: f.newBoot };
  const prev = f.reached?.previous;
  if (prev) out.phaseDone = { phase: prev.phase, seconds: prev.ms / 1000 };
  if (f.up) out.finished = f.newBoot ? {} : { seconds: Math.max(0, boot.upAt! - boot.startedAt) / 1000 };
  if (f.failure) out.failure = { kind: f.failure.kind, first: boot.failures.length === 1 };
  return out;
}
