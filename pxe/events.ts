// Boot events: what happened to each node (DHCP exchanges, files fetched, bytes,
// durations), printed as one human line each or as JSON lines (--log-format json).
import type { Logger } from '../lib/log.js';

export interface BootEventBase {
  /** ISO time, filled in by the event log. */
  time?: string;
  /** Node name from the inventory, when the client is known. */
  node?: string;
  mac?: string;
  client?: string;
}

export type BootEvent = BootEventBase &
  (
    | { kind: 'dhcp'; type: string; ip?: string; arch?: number | string; ipxe?: boolean; bootfile?: string; detail?: string }
    | { kind: 'tftp'; file: string; status: 'done' | 'error'; bytes: number; ms: number; error?: string; blksize?: number; windowsize?: number; step?: string }
    | { kind: 'http'; path: string; status: number; bytes: number; ms: number; range?: string }
    | { kind: 'service'; message: string }
    /** A node's own word (GET /report/<mac>/<what>): its initrd reached init or failed, its image is up. */
    | { kind: 'report'; what: ReportWhat; message?: string }
  );

/** What a node reports: `init` and `up` are phases; `sha256`, `fetch` and `retry` are failures on the way. */
export const REPORT_WHATS = ['init', 'up', 'sha256', 'fetch', 'retry'] as const;
export type ReportWhat = (typeof REPORT_WHATS)[number];

export type LogFormat = 'text' | 'json';

function human(e: BootEvent): string {
  const who = [e.node ?? '-', e.mac, e.client].filter(Boolean).join(' ');
  switch (e.kind) {
    case 'dhcp':
      return `${who} dhcp ${e.type}${e.ip ? ` ${e.ip}` : ''}${e.arch !== undefined ? ` arch=${e.arch}` : ''}${e.ipxe ? ' ipxe' : ''}${e.bootfile ? ` boot=${e.bootfile}` : ''}${e.detail ? ` (${e.detail})` : ''}`;
    case 'tftp':
      return `${who} tftp ${e.file}${e.step ? ` (${e.step})` : ''} ${e.status} ${e.bytes} bytes in ${e.ms} ms${e.error ? `: ${e.error}` : ''}`;
    case 'http':
      return `${who} http ${e.path} ${e.status} ${e.bytes} bytes in ${e.ms} ms${e.range ? ` range=${e.range}` : ''}`;
    case 'service':
      return e.message;
    case 'report':
      return `${who} report ${e.what}${e.message ? `: ${e.message}` : ''}`;
  }
}

/** Told of every event: printed ones, and quiet ones (a replica's /status polls without --verbose). */
export type EventListener = (e: BootEvent) => void;

export class EventLog {
  readonly recent: BootEvent[] = [];
  private readonly listeners = new Set<EventListener>();
  constructor(
    private readonly opts: { format: LogFormat; write?: (line: string) => void; now?: () => Date; keep?: number } = { format: 'text' },
  ) {}

  /** `quiet`: for the listeners only, neither printed nor kept in `recent`. */
  emit(e: BootEvent, o: { quiet?: boolean } = {}): void {
    const ev = { time: (this.opts.now ?? (() => new Date()))().toISOString(), ...e };
    if (!o.quiet) {
      this.recent.push(ev);
      if (this.recent.length > (this.opts.keep ?? 1000)) this.recent.shift();
      const line = this.opts.format === 'json' ? JSON.stringify(ev) : `${ev.time} ${human(ev)}`;
      (this.opts.write ?? ((l: string) => process.stdout.write(`${l}\n`)))(line);
    }
    for (const f of this.listeners) {
      try {
        f(ev);
      } catch {
        // A listener's bug must not stop the log or the others.
      }
    }
  }

  /** Call `f` with every event from now on (time filled in); returns the unsubscribe. */
  subscribe(f: EventListener): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** A Logger whose lines become service events, for code that takes a Logger. */
  logger(verbose = false): Logger {
    return {
      info: (m) => this.emit({ kind: 'service', message: m }),
      warn: (m) => this.emit({ kind: 'service', message: `warning: ${m}` }),
      debug: (m) => {
        if (verbose) this.emit({ kind: 'service', message: m });
      },
    };
  }
}

/**
 * A replica asking this one's /status (heartbeats, the sync) or its own node view
 * (/cluster?local=1, for a merged view): replication, not a boot event, so it is logged
 * only with --verbose. `servers` are the inventory's replicas.
 */
export function isPeerStatus(e: BootEvent, servers: readonly string[]): boolean {
  return e.kind === 'http' && ['/status', '/cluster'].includes(e.path.split('?')[0]!) && e.client !== undefined && servers.includes(e.client);
}

/** A request of the status page (its files, its event stream, its JSON): a person looking, not a boot event. */
export function isPageRequest(e: BootEvent): boolean {
  if (e.kind !== 'http') return false;
  const path = e.path.split('?')[0]!;
  return path === '/' || path === '/events' || path === '/cluster' || path.startsWith('/page/');
}
