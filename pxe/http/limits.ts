// Connection limits of the HTTP server, so that one client (or a few) cannot take the
// service from the others: caps on open connections in total and per client address,
// a deadline for the request head, and an idle timeout for clients that stop reading.
import type { IncomingMessage, Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';

export interface HttpLimits {
  /** Open connections in all; more are closed at accept. */
  maxConnections: number;
  /** Open connections from one client address; more get 503 and are closed. */
  maxConnectionsPerClient: number;
  /** The request head must arrive within this (ms); else 408 and close. */
  headersTimeoutMs: number;
  /** The whole request must arrive within this (ms); the response is not limited. */
  requestTimeoutMs: number;
  /** A connection with no progress either way for this long (ms) is closed: a client that stops reading an artifact. */
  idleTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (ms). */
  keepAliveTimeoutMs: number;
}

// A boot storm is hundreds of nodes with one or two connections each (iPXE, then the
// initrd's fetch of the root image); a replica's sync pulls a few files at a time.
export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxConnections: 4096,
  maxConnectionsPerClient: 32,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  idleTimeoutMs: 60_000,
  keepAliveTimeoutMs: 15_000,
};

/** The limits with defaults filled in; throws naming the bad value. */
export function httpLimits(partial: Partial<HttpLimits> = {}): HttpLimits {
  const l = { ...DEFAULT_HTTP_LIMITS, ...partial };
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`HTTP limit ${k} = ${v}: give a whole number of at least 1`);
  }
  if (l.headersTimeoutMs > l.requestTimeoutMs) {
    throw new Error(`HTTP headers timeout ${l.headersTimeoutMs} ms is longer than the request timeout ${l.requestTimeoutMs} ms: make it no longer`);
  }
  return l;
}

/** Options for http.createServer that carry the timeouts Node enforces itself. */
export function serverOptions(l: HttpLimits): ServerOptions {
  return {
    headersTimeout: l.headersTimeoutMs,
    requestTimeout: l.requestTimeoutMs,
    keepAliveTimeout: l.keepAliveTimeoutMs,
    connectionsCheckingInterval: checkEvery(l),
  };
}

// Node looks for expired request heads this often; a quarter of the deadline keeps them close to it.
const checkEvery = (l: HttpLimits) => Math.max(10, Math.min(1000, Math.floor(l.headersTimeoutMs / 4)));

const BUSY = Buffer.from('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\nContent-Type: text/plain\r\nContent-Length: 39\r\n\r\ntoo many connections from this address\n');

function clientAddress(socket: Socket): string {
  return (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

/** Apply the caps and the idle timeout to a listening-to-be server. Returns live counters. */
export function applyLimits(server: Server, l: HttpLimits): { open: () => number; refused: () => number } {
  server.maxConnections = l.maxConnections;
  // Node closes a socket that sees no activity for this long (no 'timeout' listener is added).
  server.timeout = l.idleTimeoutMs;
  const perClient = new Map<string, number>();
  let open = 0;
  let refused = 0;
  server.on('connection', (socket: Socket) => {
    const ip = clientAddress(socket);
    const n = perClient.get(ip) ?? 0;
    if (n >= l.maxConnectionsPerClient) {
      refused++;
      socket.write(BUSY, () => socket.destroy());
      socket.setTimeout(1000, () => socket.destroy());
      return;
    }
    perClient.set(ip, n + 1);
    open++;
    // Node's headers timeout starts at the first byte: a connection that sends none ends
    // here, a little later, so that a started head gets Node's 408 first.
    socket.setTimeout(Math.min(l.headersTimeoutMs + 2 * checkEvery(l), l.idleTimeoutMs));
    socket.once('close', () => {
      open--;
      const left = (perClient.get(ip) ?? 1) - 1;
      if (left === 0) perClient.delete(ip);
      else perClient.set(ip, left);
    });
  });
  server.on('request', (req: IncomingMessage) => {
    if (req.socket.timeout !== l.idleTimeoutMs) req.socket.setTimeout(l.idleTimeoutMs);
  });
  return { open: () => open, refused: () => refused };
}
