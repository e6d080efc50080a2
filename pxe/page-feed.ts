// What the status page is fed over /events (http/sse.ts): on connect, every inventory
// node's view from the status model (pxe/status); then, each flush, the views of the
// nodes whose boot the model saw change since. The model folds; this only picks what
// changed, so requests that are no boot (the page's own, the peers') never reach it.
import { join } from 'node:path';
import { projectRoot } from '../lib/paths.js';
import type { InventoryNode } from '../cluster/inventory.js';
import { SseHub, type SseOptions } from './http/sse.js';
import { nodeView, type StatusModel } from './status/model.js';
import { PHASE_LABELS, PHASES } from './status/phases.js';

/** The page's files: HTML, CSS and one script, served as they are (no build step). */
export const pageDir = () => process.env.DISKLESS_PAGE ?? join(projectRoot(), 'pxe/http/page');

export interface PageFeed {
  /** Items are the names of nodes that changed. */
  hub: SseHub<string>;
  close(): void;
}

export interface FeedOptions extends Omit<SseOptions<string>, 'hello' | 'batch'> {
  /** The inventory's nodes now. */
  nodes: () => readonly Pick<InventoryNode, 'name' | 'mac' | 'ip' | 'image'>[];
  now: () => number;
  cluster: () => string;
  replica: string;
}

export function startPageFeed(model: Pick<StatusModel, 'nodeViews' | 'boots' | 'subscribe'>, o: FeedOptions): PageFeed {
  const { nodes, now, cluster, replica, ...sse } = o;
  const hub = new SseHub<string>({
    ...sse,
    hello: () => ({ cluster: cluster(), replica, phases: PHASES.map((p) => ({ phase: p, label: PHASE_LABELS[p] })), nodes: model.nodeViews(now()) }),
    batch: (names) => {
      const touched = new Set(names);
      const t = now();
      return { nodes: nodes().filter((n) => touched.has(n.name)).map((n) => nodeView(n, model.boots.get(n.name), t)) };
    },
  });
  const unsubscribe = model.subscribe((c) => hub.publish(c.node));
  return {
    hub,
    close: () => {
      unsubscribe();
      hub.close();
    },
  };
}
