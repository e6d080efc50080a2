// What the status page is fed over /events (http/sse.ts): on connect, every inventory
// node's view from the status model (pxe/status); then, each flush, the views of the
// nodes whose events came in since. The model folds; this only picks what changed.
// Page and replication requests are no boot events and are left out.
import { join } from 'node:path';
import { projectRoot } from '../lib/paths.js';
import { isPageRequest, type BootEvent, type EventLog } from './events.js';
import { SseHub, type SseOptions } from './http/sse.js';
import type { StatusModel } from './status/model.js';
import type { InventoryNode } from '../cluster/inventory.js';
import { nodeView } from './status/model.js';
import { PHASE_LABELS, PHASES } from './status/phases.js';

/** The page's files: HTML, CSS and one script, served as they are (no build step). */
export const pageDir = () => process.env.DISKLESS_PAGE ?? join(projectRoot(), 'pxe/http/page');

export interface PageFeed {
  hub: SseHub<BootEvent>;
  close(): void;
}

export interface FeedOptions extends Omit<SseOptions<BootEvent>, 'hello' | 'batch'> {
  model: Pick<StatusModel, 'nodeViews' | 'boots'>;
  /** The inventory's nodes now. */
  nodes: () => readonly Pick<InventoryNode, 'name' | 'mac' | 'ip' | 'image'>[];
  now: () => number;
  cluster: () => string;
  replica: string;
  isPeerStatus: (e: BootEvent) => boolean;
}

export function startPageFeed(events: Pick<EventLog, 'subscribe'>, o: FeedOptions): PageFeed {
  const { model, nodes, now, cluster, replica, isPeerStatus, ...sse } = o;
  const hub = new SseHub<BootEvent>({
    ...sse,
    hello: () => ({ cluster: cluster(), replica, phases: PHASES.map((p) => ({ phase: p, label: PHASE_LABELS[p] })), nodes: model.nodeViews(now()) }),
    batch: (items) => {
      const touched = new Set(items.map((e) => e.node));
      const t = now();
      return { nodes: nodes().filter((n) => touched.has(n.name)).map((n) => nodeView(n, model.boots.get(n.name), t)) };
    },
  });
  const unsubscribe = events.subscribe((e) => {
    // Only events about a node can change a node's view.
    if (e.node && !isPageRequest(e) && !isPeerStatus(e)) hub.publish(e);
  });
  return {
    hub,
    close: () => {
      unsubscribe();
      hub.close();
    },
  };
}
