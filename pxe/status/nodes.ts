// Each node's boot as its events tell it: the phases of the boot under way with the
// time each began, the failures on the way, and the last boot that reached `up`. The
// fold is pure (`advance`); NodeBoots keeps one state per inventory node and is fed
// by the event log. Memory is bounded: inventory nodes only, MAX_FAILURES per boot.
import type { BootEvent } from '../events.js';
import { classify, PHASES, phaseIndex, startsOver, type FailureKind, type Phase, type Step } from './phases.js';

export const MAX_FAILURES = 20;

export interface Failure {
  kind: FailureKind;
  at: number;
  message: string;
  /** The replica that saw it (merged views), when not this one. */
  replica?: string;
}

export interface Boot {
  startedAt: number;
  /** The furthest phase reached. */
  phase: Phase;
  /** When each phase reached began (ms since the epoch). */
  marks: Partial<Record<Phase, number>>;
  failures: Failure[];
  /** When it reached `up`. */
  upAt?: number;
  /** The last event that touched it. */
  lastAt: number;
}

export interface NodeBootState {
  current?: Boot;
  /** The last boot that reached `up` (the current one, once it has). */
  lastUp?: Boot;
}

function newBoot(phase: Phase, at: number): Boot {
  return { startedAt: at, phase, marks: { [phase]: at }, failures: [], lastAt: at, upAt: phase === 'up' ? at : undefined };
}

/** The state after one step. Never mutates `s`. */
export function advance(s: NodeBootState, step: Step): NodeBootState {
  const cur = s.current;
  if ('failure' in step) {
    const failure: Failure = { kind: step.failure, at: step.at, message: step.message };
    // A failure before any phase seen here (the node booted through another replica), or
    // the initrd's after init, opens a boot whose start this replica did not see.
    const fromInitrd = step.failure === 'sha256' || step.failure === 'fetch' || step.failure === 'retry';
    const unseen = !cur || (fromInitrd && phaseIndex(cur.phase) >= phaseIndex('init'));
    const boot = unseen ? { ...newBoot(fromInitrd ? 'kernel' : 'dhcp', step.at), marks: {} } : cur;
    const failures = [...boot.failures, failure].slice(-MAX_FAILURES);
    return { ...s, current: { ...boot, failures, lastAt: Math.max(boot.lastAt, step.at) } };
  }
  if (!cur || startsOver(step.phase, cur.phase)) return settle({ ...s, current: newBoot(step.phase, step.at) });
  const seen = cur.marks[step.phase];
  const marks = { ...cur.marks, [step.phase]: seen === undefined ? step.at : Math.min(seen, step.at) };
  const phase = phaseIndex(step.phase) > phaseIndex(cur.phase) ? step.phase : cur.phase;
  const upAt = step.phase === 'up' ? (cur.upAt ?? step.at) : cur.upAt;
  return settle({ ...s, current: { ...cur, phase, marks, upAt, startedAt: Math.min(cur.startedAt, step.at), lastAt: Math.max(cur.lastAt, step.at) } });
}

/** A boot that reached `up` is also the last boot up. */
function settle(s: NodeBootState): NodeBootState {
  return s.current?.upAt !== undefined ? { ...s, lastUp: s.current } : s;
}

/** Each phase reached by `b`, with when it began and how long it lasted (to the next one, or to `now` for the last unless it is `up`). */
export function phaseSpans(b: Boot, now: number): { phase: Phase; at: number; ms: number }[] {
  const reached = PHASES.filter((p) => b.marks[p] !== undefined).map((p) => ({ phase: p, at: b.marks[p]! }));
  return reached.map((r, i) => {
    const next = reached[i + 1]?.at ?? (r.phase === 'up' ? r.at : now);
    return { ...r, ms: Math.max(0, next - r.at) };
  });
}

/** One state per inventory node, folded from the events as they come. */
export class NodeBoots {
  private readonly states = new Map<string, NodeBootState>();

  constructor(private readonly isNode: (name: string) => boolean = () => true) {}

  /** Fold one event in; events of no inventory node, or of no boot, change nothing. */
  apply(e: BootEvent): void {
    if (!e.node || !this.isNode(e.node)) return;
    const step = classify(e);
    if (!step) return;
    this.states.set(e.node, advance(this.states.get(e.node) ?? {}, step));
  }

  get(node: string): NodeBootState | undefined {
    return this.states.get(node);
  }

  /** Forget nodes no longer in the inventory. */
  retain(names: ReadonlySet<string>): void {
    for (const n of this.states.keys()) if (!names.has(n)) this.states.delete(n);
  }
}
