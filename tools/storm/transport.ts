// How the storm's simulated clients reach DHCP servers. One transport carries every
// client of a storm; replies are handed back by xid, so hundreds of clients share a
// socket the way hundreds of NICs share one broadcast domain.
//
// - broadcast: what a PXE ROM does. DISCOVER and REQUEST go to 255.255.255.255:67
//   from port 68 with the broadcast flag set (PXE 2.1 2.2.1: the client asks for
//   broadcast replies), so every server on the segment hears them and answers to
//   255.255.255.255:68. Needs its own network namespace: nothing else may hold 68.
// - relay: like tools/dhcp/loadgen.ts, a relay agent (RFC 1542 4.1) with giaddr set to
//   our address, forwarding each request to every configured server by unicast;
//   replies come to our port 67. Works anywhere, no broadcast domain needed.
import dgram from 'node:dgram';
import { CLIENT_PORT, SERVER_PORT } from '../../pxe/dhcp/constants.js';

export interface DhcpTransport {
  readonly kind: 'broadcast' | 'relay';
  /** giaddr for requests: our address for a relay, 0.0.0.0 for broadcast. */
  readonly giaddr: string;
  send(packet: Buffer): void;
  /** Replies carrying this xid go to `fn` until the returned function is called. */
  listen(xid: number, fn: (reply: Buffer) => void): () => void;
  close(): Promise<void>;
}

export const BROADCAST = '255.255.255.255';

function bind(sock: dgram.Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address, port }, () => {
      sock.off('error', reject);
      resolve();
    });
  });
}

function demux(socks: dgram.Socket[]) {
  const handlers = new Map<number, (reply: Buffer) => void>();
  for (const s of socks) {
    s.on('message', (buf) => {
      if (buf.length < 8) return;
      handlers.get(buf.readUInt32BE(4))?.(buf);
    });
    // A lost datagram is what the retransmission timers are for.
    s.on('error', () => undefined);
  }
  return {
    listen(xid: number, fn: (reply: Buffer) => void) {
      handlers.set(xid, fn);
      return () => {
        if (handlers.get(xid) === fn) handlers.delete(xid);
      };
    },
    close: () => Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined),
  };
}

export interface BroadcastOptions {
  /**
   * An address of this namespace on the segment. Requests go out through a second
   * socket bound to it: Linux sends a limited broadcast out of the interface that
   * owns the source address, with no default route needed (as pxe/dhcp/server.ts).
   */
  localAddress: string;
  serverPort?: number;
  clientPort?: number;
}

export async function broadcastTransport(o: BroadcastOptions): Promise<DhcpTransport> {
  const port = o.clientPort ?? CLIENT_PORT;
  const recv = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  const send = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  await bind(recv, '0.0.0.0', port);
  await bind(send, o.localAddress, port).catch(async (err) => {
    recv.close();
    throw err;
  });
  send.setBroadcast(true);
  for (const s of [recv, send]) s.setRecvBufferSize(4 * 1024 * 1024);
  const d = demux([recv, send]);
  return {
    kind: 'broadcast',
    giaddr: '0.0.0.0',
    send: (packet) => send.send(packet, o.serverPort ?? SERVER_PORT, BROADCAST),
    listen: d.listen,
    close: d.close,
  };
}

export interface RelayOptions {
  /** Our address: bound, and put into giaddr. */
  relayAddress: string;
  /** Every DHCP server the relay forwards to. */
  servers: string[];
  serverPort?: number;
  /** Where replies come (67 for real servers). */
  relayPort?: number;
}

export async function relayTransport(o: RelayOptions): Promise<DhcpTransport> {
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  await bind(sock, o.relayAddress, o.relayPort ?? SERVER_PORT);
  sock.setRecvBufferSize(4 * 1024 * 1024);
  const d = demux([sock]);
  return {
    kind: 'relay',
    giaddr: o.relayAddress,
    send: (packet) => {
      for (const s of o.servers) sock.send(packet, o.serverPort ?? SERVER_PORT, s);
    },
    listen: d.listen,
    close: d.close,
  };
}
