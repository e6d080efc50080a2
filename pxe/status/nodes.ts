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
  /** This node's boots seen here, counted from 1: a new number is a new boot. */
  n: number;
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

function newBoot(prev: Boot | undefined, phase: Phase, at: number): Boot {
  return { n: (prev?.n ?? 0) + 1, startedAt: at, phase, marks: { [phase]: at }, failures: [], lastAt: at, upAt: phase === 'up' ? at : undefined };
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
    const boot = unseen ? { ...newBoot(cur, fromInitrd ? 'kernel' : 'dhcp', step.at), marks: {} } : cur;
    const failures = [...boot.failures, failure].slice(-MAX_FAILURES);
    return { ...s, current: { ...boot, failures, lastAt: Math.max(boot.lastAt, step.at) } };
  }
  if (!cur || startsOver(step.phase, cur.phase)) return settle({ ...s, current: newBoot(cur, step.phase, step.at) });
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

/** What one change did: a boot began, a phase was newly reached (and how long the one before lasted), up, a failure. */
export interface ChangeFacts {
  newBoot: boolean;
  /** A phase this boot reached for the first time, with the previous furthest phase's duration (ms). */
  reached?: { phase: Phase; previous?: { phase: Phase; ms: number } };
  up: boolean;
  failure?: Failure;
}

export function changeFacts(before: NodeBootState | undefined, after: NodeBootState): ChangeFacts {
  const b = before?.current;
  const a = after.current!;
  const newBoot = !b || a.n !== b.n;
  const was = newBoot ? undefined : b;
  const reached = was && was.phase === a.phase ? undefined : a.phase;
  const prevAt = was?.marks[was.phase];
  return {
    newBoot,
    reached: reached && { phase: reached, previous: was && prevAt !== undefined ? { phase: was.phase, ms: Math.max(0, (a.marks[reached] ?? prevAt) - prevAt) } : undefined },
    up: a.upAt !== undefined && was?.upAt === undefined,
    // By identity: the list is capped, so its length may not grow.
    failure: a.failures.at(-1) !== was?.failures.at(-1) ? a.failures.at(-1) : undefined,
  };
}

/** One state per inventory node, folded from the events as they come. */
export class NodeBoots {
  private readonly states = new Map<string, NodeBootState>();

  constructor(private readonly isNode: (name: string) => boolean = () => true) {}

  /** Fold one event in; events of no inventory node, or of no boot, change nothing (undefined). */
  apply(e: BootEvent): { node: string; before?: NodeBootState; after: NodeBootState } | undefined {
    if (!e.node || !this.isNode(e.node)) return undefined;
    const step = classify(e);
    if (!step) return undefined;
    const before = this.states.get(e.node);
    const after = advance(before ?? {}, step);
    this.states.set(e.node, after);
    return { node: e.node, before, after };
  }

  get(node: string): NodeBootState | undefined {
    return this.states.get(node);
  }

  /** Forget nodes no longer in the inventory. */
  retain(names: ReadonlySet<string>): void {
    for (const n of this.states.keys()) if (!names.has(n)) this.states.delete(n);
  }
}
