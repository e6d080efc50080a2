// Server-sent events for the status page (HTML Living Standard 9.2, "Server-sent
// events"): each open page holds one /events stream. Items are queued and sent as one
// `batch` message per flush, written once and shared by every client, so a boot storm
// costs one JSON.stringify per flush, not one per event per client. The number of
// clients is capped; a client that stops reading is dropped (its EventSource
// reconnects and gets a fresh `hello`); a comment line every heartbeat keeps idle
// connections and proxies open and finds clients that went away.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface SseOptions<T> {
  /** The `hello` message's data, sent to each client as it connects: the state the batches apply to. */
  hello: () => unknown;
  /** The `batch` message's data for items queued since the last flush. */
  batch?: (items: T[]) => unknown;
  /** Streams open at once; more get 503 with Retry-After. */
  maxClients?: number;
  /** Milliseconds between flushes of queued items. */
  flushMs?: number;
  /** Milliseconds between heartbeat comments. */
  heartbeatMs?: number;
  /** Bytes a client may leave unread before it is dropped. */
  maxUnreadBytes?: number;
  /** Items held between flushes; older ones are dropped and the batch says how many. */
  maxQueued?: number;
}

export const SSE_DEFAULTS = { maxClients: 64, flushMs: 250, heartbeatMs: 15_000, maxUnreadBytes: 4 * 1024 * 1024, maxQueued: 20_000 };

/** EventSource waits this long before reconnecting (ms). */
const RETRY_MS = 3000;

/** One SSE message: `event:` and one `data:` line (JSON has no raw newlines). */
export function sseMessage(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class SseHub<T> {
  private readonly clients = new Set<ServerResponse>();
  private queued: T[] = [];
  private dropped = 0;
  private readonly o: Required<Omit<SseOptions<T>, 'batch'>> & Pick<SseOptions<T>, 'batch'>;
  private readonly timers: ReturnType<typeof setInterval>[];
  /** Streams refused (cap) or dropped (unread) since start. */
  readonly stats = { refused: 0, dropped: 0, sent: 0 };

  constructor(opts: SseOptions<T>) {
    this.o = { ...SSE_DEFAULTS, ...opts };
    this.timers = [setInterval(() => this.flush(), this.o.flushMs), setInterval(() => this.broadcast(': heartbeat\n\n'), this.o.heartbeatMs)];
    for (const t of this.timers) t.unref();
  }

  size(): number {
    return this.clients.size;
  }

  /** Queue an item for the next batch. Cheap: nothing is encoded or written here. */
  publish(item: T): void {
    this.queued.push(item);
    if (this.queued.length > this.o.maxQueued) {
      this.queued.shift();
      this.dropped++;
    }
  }

  /** Take over a GET /events response: headers, `hello`, then batches until either side closes. */
  attach(req: IncomingMessage, res: ServerResponse): void {
    if (this.clients.size >= this.o.maxClients) {
      this.stats.refused++;
      const body = `${this.o.maxClients} status pages are open on this replica already; close one or use another replica\n`;
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '30', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    let hello: string;
    try {
      hello = sseMessage('hello', this.o.hello());
    } catch (err) {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`the status model failed: ${(err as Error).message}\n`);
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    this.clients.add(res);
    const gone = () => this.clients.delete(res);
    req.once('close', gone);
    res.once('close', gone);
    res.on('error', gone);
    this.write(res, `retry: ${RETRY_MS}\n${hello}`);
  }

  /** Send what is queued now (the timer does this every flushMs). */
  flush(): void {
    if (this.queued.length === 0) return;
    const items = this.queued;
    const dropped = this.dropped;
    this.queued = [];
    this.dropped = 0;
    if (this.clients.size === 0) return;
    let data: unknown;
    try {
      data = this.o.batch ? this.o.batch(items) : { items };
    } catch {
      return;
    }
    this.broadcast(sseMessage('batch', dropped ? { ...(data as object), dropped } : data));
  }

  /** End every stream and stop the timers. */
  close(): void {
    for (const t of this.timers) clearInterval(t);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private broadcast(chunk: string): void {
    if (this.clients.size === 0) return;
    const buf = Buffer.from(chunk);
    for (const res of this.clients) this.write(res, buf);
  }

  private write(res: ServerResponse, chunk: string | Buffer): void {
    if (res.destroyed || res.writableEnded) {
      this.clients.delete(res);
      return;
    }
    // A page that stops reading (a frozen tab, a stalled link) must not hold our memory.
    if (res.writableLength > this.o.maxUnreadBytes) {
      this.stats.dropped++;
      this.clients.delete(res);
      res.destroy();
      return;
    }
    this.stats.sent++;
    res.write(chunk);
  }
}
