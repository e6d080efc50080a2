// What the status page is fed: the boot events of this replica, as they are logged,
// over the /events stream (http/sse.ts). Page and replication requests are left out:
// they are people and peers looking, not nodes booting.
import { join } from 'node:path';
import { projectRoot } from '../lib/paths.js';
import { isPageRequest, type BootEvent, type EventLog } from './events.js';
import { SseHub, type SseOptions } from './http/sse.js';

/** The page's files: HTML, CSS and one script, served as they are (no build step). */
export const pageDir = () => process.env.DISKLESS_PAGE ?? join(projectRoot(), 'pxe/http/page');

export interface PageFeed {
  hub: SseHub<BootEvent>;
  close(): void;
}

export function startPageFeed(
  events: EventLog,
  o: { hello: () => unknown; batch?: (items: BootEvent[]) => unknown; isPeerStatus: (e: BootEvent) => boolean } & Omit<SseOptions<BootEvent>, 'hello' | 'batch'>,
): PageFeed {
  const { isPeerStatus, ...sse } = o;
  const hub = new SseHub<BootEvent>(sse);
  const unsubscribe = events.subscribe((e) => {
    if (!isPageRequest(e) && !isPeerStatus(e)) hub.publish(e);
  });
  return {
    hub,
    close: () => {
      unsubscribe();
      hub.close();
    },
  };
}
