// The DHCP server's sockets: the listening one, a sender bound to the server's
// address for broadcasts, and the proxyDHCP port.
import dgram from 'node:dgram';
import type { Logger } from '../../lib/log.js';
import { PXE_PORT, SERVER_PORT } from './constants.js';

const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

const defaultSocket = () => dgram.createSocket({ type: 'udp4', reuseAddr: true });

export interface SocketOptions {
  /** Bind address of the listening sockets. */
  address: string;
  serverIp: string;
  port?: number;
  proxyDhcp?: boolean;
  pxePort?: number;
  recvBufferBytes?: number;
  createSocket?: () => dgram.Socket;
  log: Logger;
}

/** A datagram arrived on `localPort`; answer it through `sock`. */
export type OnDatagram = (sock: dgram.Socket, localPort: number, buf: Buffer, rinfo: dgram.RemoteInfo) => void;

async function openSocket(o: SocketOptions, port: number, bindAddress: string, onDatagram: OnDatagram, replyVia?: () => dgram.Socket | undefined): Promise<dgram.Socket> {
  const { log } = o;
  const sock = (o.createSocket ?? defaultSocket)();
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ port, address: bindAddress }, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  sock.setBroadcast(true);
  const want = o.recvBufferBytes ?? RECV_BUFFER_BYTES;
  try {
    sock.setRecvBufferSize(want);
  } catch (err) {
    log.debug(`dhcp: cannot set the receive buffer: ${(err as Error).message}`);
  }
  // Linux reports twice what it grants (bookkeeping); less than asked means net.core.rmem_max capped it.
  const got = sock.getRecvBufferSize() / 2;
  if (got < want) log.warn(`dhcp: receive buffer ${Math.round(got / 1024)} KiB, not the ${want / 1024} KiB asked: a boot storm may lose DISCOVERs (raise it with sysctl -w net.core.rmem_max=${want})`);
  const localPort = sock.address().port;
  sock.on('message', (buf, rinfo) => onDatagram(replyVia?.() ?? sock, localPort, buf, rinfo));
  sock.on('error', (err) => log.warn(`dhcp: socket error on ${bindAddress}:${localPort}: ${err.message}`));
  return sock;
}

/**
 * Replies to 255.255.255.255 need an outgoing interface. A socket bound to
 * 0.0.0.0 has none (no SO_BINDTODEVICE in Node) and fails with ENETUNREACH
 * unless a default route happens to point the right way. Linux sends a limited
 * broadcast out of the interface that owns the socket's source address
 * (route.c "special hack"), so replies go through a second socket bound to
 * serverIp on the same port (SO_REUSEADDR); it also receives unicast RENEWs.
 */
export async function openSockets(o: SocketOptions, onDatagram: OnDatagram): Promise<dgram.Socket[]> {
  const socks: dgram.Socket[] = [];
  let sender: dgram.Socket | undefined;
  try {
    const port = o.port ?? SERVER_PORT;
    const main = await openSocket(o, port, o.address, onDatagram, () => sender);
    socks.push(main);
    if (o.address === '0.0.0.0') {
      try {
        sender = await openSocket(o, main.address().port, o.serverIp, onDatagram);
        socks.push(sender);
      } catch (err) {
        o.log.warn(`dhcp: cannot bind ${o.serverIp}:${port} for replies (${(err as Error).message}); broadcasts follow the routing table`);
      }
    }
    if (o.proxyDhcp) socks.push(await openSocket(o, o.pxePort ?? PXE_PORT, o.address, onDatagram));
  } catch (err) {
    for (const s of socks) s.close();
    throw err;
  }
  return socks;
}
