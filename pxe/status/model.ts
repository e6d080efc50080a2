// The nodes' part of the cluster view: each inventory node's boot as NodeBoots folded
// it, turned into JSON-ready facts at a given time. Pure but for StatusModel, which
// holds the fold and is fed by the event log (`attach`).
import type { InventoryNode } from '../../cluster/inventory.js';
import type { BootEvent, EventLog } from '../events.js';
import { NodeBoots, phaseSpans, type Boot, type NodeBootState } from './nodes.js';
import { phaseIndex } from './phases.js';
import type { BootView, NodeView } from './schema.js';

const iso = (ms: number) => new Date(ms).toISOString();

export function bootView(b: Boot, now: number): BootView {
  const end = b.upAt ?? now;
  return {
    startedAt: iso(b.startedAt),
    upAt: b.upAt === undefined ? undefined : iso(b.upAt),
    ms: Math.max(0, end - b.startedAt),
    phases: phaseSpans(b, now).map((p) => ({ ...p, at: iso(p.at) })),
  };
}

/** One node's facts at `now`. */
export function nodeView(n: Pick<InventoryNode, 'name' | 'mac' | 'ip' | 'image'>, s: NodeBootState | undefined, now: number): NodeView {
  const base = { name: n.name, mac: n.mac, ip: n.ip, image: n.image };
  const b = s?.current;
  if (!b) return { ...base, phase: 'unknown', failed: false, failures: [] };
  const since = b.marks[b.phase];
  const lastFailure = b.failures.at(-1)?.at;
  // A failure after the last phase began, and no `up` since: stuck or retrying.
  const failed = lastFailure !== undefined && b.upAt === undefined && lastFailure >= (since ?? b.startedAt);
  return {
    ...base,
    phase: b.phase,
    since: since === undefined ? undefined : iso(since),
    failed,
    boot: bootView(b, now),
    failures: b.failures.map((f) => ({ ...f, at: iso(f.at) })),
    lastBoot: s.lastUp ? bootView(s.lastUp, now) : undefined,
  };
}

/** Every inventory node's facts, in inventory order. */
export function nodeViews(nodes: readonly InventoryNode[], boots: Pick<NodeBoots, 'get'>, now: number): NodeView[] {
  return nodes.map((n) => nodeView(n, boots.get(n.name), now));
}

/** Last activity of a node view (ms), to pick the freshest of several replicas' views. */
function activity(v: NodeView): number {
  const times = [v.since, v.boot?.startedAt, v.failures.at(-1)?.at, v.boot?.upAt].filter((t): t is string => !!t).map(Date.parse);
  return times.length ? Math.max(...times) : -Infinity;
}

/**
 * One view per node from several replicas' (this one first): each node's freshest, by
 * its last activity; on a tie the one further on. A node boots through one replica's
 * DHCP and may fetch from another, so each replica sees part of it.
 */
export function mergeNodeViews(views: readonly { replica: string; nodes: readonly NodeView[] }[]): NodeView[] {
  const best = new Map<string, NodeView>();
  const order: string[] = [];
  const mine = new Set(views[0]?.nodes.map((n) => n.name));
  for (const { replica, nodes } of views) {
    for (const v of nodes) {
      // Only this replica's inventory's nodes: a peer with another inventory version adds none.
      if (!mine.has(v.name)) continue;
      const had = best.get(v.name);
      if (!had) order.push(v.name);
      const rank = (x: NodeView) => [activity(x), x.phase === 'unknown' ? -1 : phaseIndex(x.phase)] as const;
      const [a, p] = rank(v);
      const [ha, hp] = had ? rank(had) : [-Infinity, -2];
      if (!had || a > ha || (a === ha && p > hp)) best.set(v.name, views[0]?.replica === replica ? v : { ...v, seenBy: replica });
    }
  }
  return order.map((n) => best.get(n)!);
}

/** The boots of the current inventory's nodes, kept up to date from the event log. */
export interface NodeChange {
  node: string;
  before?: NodeBootState;
  after: NodeBootState;
  event: BootEvent;
}

export class StatusModel {
  readonly boots: NodeBoots;
  private readonly listeners = new Set<(c: NodeChange) => void>();
  private names: ReadonlySet<string>;

  constructor(private readonly nodes: () => readonly InventoryNode[]) {
    this.names = new Set(nodes().map((n) => n.name));
    this.boots = new NodeBoots((n) => this.names.has(n));
  }

  /** The inventory changed: nodes that left are forgotten. */
  inventoryChanged(): void {
    this.names = new Set(this.nodes().map((n) => n.name));
    this.boots.retain(this.names);
  }

  apply(e: BootEvent): void {
    const c = this.boots.apply(e);
    if (!c) return;
    for (const f of this.listeners) {
      try {
        f({ ...c, event: e });
      } catch {
        // A listener's bug must not stop the fold or the others.
      }
    }
  }

  /**
   * Call `f` after each event that changed a node's boot, with the state before and
   * after; changeFacts (nodes.ts) says what changed. For the page's live updates and
   * the metrics.
   */
  subscribe(f: (c: NodeChange) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** Fold every event the log emits from now on; returns the detach. */
  attach(log: Pick<EventLog, 'subscribe'>): () => void {
    return log.subscribe((e) => this.apply(e));
  }

  nodeViews(now: number): NodeView[] {
    return nodeViews(this.nodes(), this.boots, now);
  }
}
