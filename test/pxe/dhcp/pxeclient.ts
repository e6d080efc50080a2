// A PXE-ROM-like DHCP client for the namespace tests, run inside the client namespace:
//   node --import tsx/esm pxeclient.ts '<json ClientSpec>'
// It broadcasts a DISCOVER (broadcast flag set, PXEClient, arch, UUID) from 0.0.0.0:68,
// collects every OFFER for a while, then optionally REQUESTs the address offer (DORA)
// and, with the address on its interface, sends the proxyDHCP REQUEST to port 4011 of
// the proxy server from a socket bound to that address, so only a unicast reply can
// reach it (PXE 2.1 2.2.6). Prints one line "RESULT <json>" and exits.
// A ROM sends from 0.0.0.0 out of its only NIC; Node has no SO_BINDTODEVICE, so the
// client adds a default route via `iface` in its (test-made) namespace first.
// busybox udhcpc cannot play this part: it takes the first OFFER, which may be the
// proxy's with yiaddr 0.0.0.0.
import dgram from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { macToBuffer } from '../../../cluster/addr.js';
import { BOOTREQUEST, CLIENT_PORT, FLAG_BROADCAST, MsgType, Opt, PXE_PORT, SERVER_PORT, VENDOR_PXE } from '../../../pxe/dhcp/constants.js';
import { decode, emptyMessage, encode, type DhcpMessage } from '../../../pxe/dhcp/packet.js';
import { getIp, getText, getU8, ip, text, u16, u8 } from '../../../pxe/dhcp/options.js';

export interface ClientSpec {
  iface: string;
  mac: string;
  /** How long to collect OFFERs after the DISCOVER (ms). */
  collectMs: number;
  /** REQUEST the offer that carries an address, and wait for the ACK. */
  dora?: boolean;
  /** Then put the address on `iface` and send a REQUEST to this server's port 4011. */
  proxyServer?: string;
}

export interface SeenReply {
  from: string;
  type?: number;
  yiaddr: string;
  siaddr: string;
  file: string;
  serverId?: string;
  vendorClass?: string;
  bootfile?: string;
  hasVendorOpts: boolean;
}

export interface ClientResult {
  offers: SeenReply[];
  ack?: SeenReply;
  proxyAck?: SeenReply;
  error?: string;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as ClientSpec;
const xid = (Math.random() * 0xffffffff) >>> 0;
const UUID = Buffer.concat([Buffer.from([0]), Buffer.from('00112233445566778899aabbccddeeff', 'hex')]);

function message(type: number, extra: Array<[number, Buffer]>, ciaddr = '0.0.0.0', broadcast = true): Buffer {
  const m = emptyMessage(BOOTREQUEST);
  m.xid = xid;
  m.flags = broadcast ? FLAG_BROADCAST : 0;
  m.ciaddr = ciaddr;
  macToBuffer(spec.mac).copy(m.chaddr);
  m.options = new Map<number, Buffer>([
    [Opt.MESSAGE_TYPE, u8(type)],
    ...extra,
    [Opt.PARAM_REQUEST_LIST, Buffer.from([Opt.SUBNET_MASK, Opt.ROUTER, Opt.VENDOR_CLASS_ID, Opt.VENDOR_SPECIFIC, Opt.TFTP_SERVER_NAME, Opt.BOOTFILE_NAME])],
    [Opt.VENDOR_CLASS_ID, text(`${VENDOR_PXE}:Arch:00000:UNDI:002001`)],
    [Opt.CLIENT_ARCH, u16(0)],
    [Opt.CLIENT_UUID, UUID],
  ]);
  return encode(m);
}

function seen(m: DhcpMessage, from: dgram.RemoteInfo): SeenReply {
  return {
    from: `${from.address}:${from.port}`,
    type: getU8(m.options, Opt.MESSAGE_TYPE),
    yiaddr: m.yiaddr,
    siaddr: m.siaddr,
    file: m.file,
    serverId: getIp(m.options, Opt.SERVER_ID),
    vendorClass: getText(m.options, Opt.VENDOR_CLASS_ID),
    bootfile: getText(m.options, Opt.BOOTFILE_NAME),
    hasVendorOpts: m.options.has(Opt.VENDOR_SPECIFIC),
  };
}

async function bind(address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind({ address, port: CLIENT_PORT }, () => resolve());
  });
  s.setBroadcast(true);
  return s;
}

/** Send `pkt` (again every second) until `want` accepts a reply or `ms` pass; collect what `want` accepts. */
function exchange(s: dgram.Socket, pkt: Buffer, to: [string, number], ms: number, want: (m: DhcpMessage) => boolean, stopAtFirst: boolean): Promise<SeenReply[]> {
  return new Promise((resolve) => {
    const got: SeenReply[] = [];
    const finish = () => {
      clearInterval(again);
      clearTimeout(timer);
      s.off('message', on);
      resolve(got);
    };
    const on = (buf: Buffer, rinfo: dgram.RemoteInfo) => {
      let m: DhcpMessage;
      try {
        m = decode(buf);
      } catch {
        return;
      }
      if (m.xid !== xid || !want(m)) return;
      got.push(seen(m, rinfo));
      if (stopAtFirst) finish();
    };
    s.on('message', on);
    const send = () =>
      s.send(pkt, to[1], to[0], (err) => {
        if (err) result.error ??= `send to ${to[0]}:${to[1]}: ${err.message}`;
      });
    send();
    const again = setInterval(() => got.length === 0 && send(), 1000);
    const timer = setTimeout(finish, ms);
  });
}

const result: ClientResult = { offers: [] };
try {
  const route = spawnSync('ip', ['route', 'replace', 'default', 'dev', spec.iface], { encoding: 'utf8' });
  if (route.status !== 0) throw new Error(`ip route replace default dev ${spec.iface}: ${route.stderr}`);
  const bcast = await bind('0.0.0.0');
  const isType = (t: number) => (m: DhcpMessage) => getU8(m.options, Opt.MESSAGE_TYPE) === t;
  result.offers = await exchange(bcast, message(MsgType.DISCOVER, []), ['255.255.255.255', SERVER_PORT], spec.collectMs, isType(MsgType.OFFER), false);
  const addressOffer = result.offers.find((o) => o.yiaddr !== '0.0.0.0');
  if (spec.dora && addressOffer) {
    const req = message(MsgType.REQUEST, [
      [Opt.SERVER_ID, ip(addressOffer.serverId ?? '0.0.0.0')],
      [Opt.REQUESTED_IP, ip(addressOffer.yiaddr)],
    ]);
    result.ack = (await exchange(bcast, req, ['255.255.255.255', SERVER_PORT], 5000, isType(MsgType.ACK), true))[0];
  }
  bcast.close();
  if (spec.proxyServer && result.ack) {
    const r = spawnSync('ip', ['addr', 'add', `${result.ack.yiaddr}/24`, 'dev', spec.iface], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip addr add: ${r.stderr}`);
    const uni = await bind(result.ack.yiaddr);
    const req = message(MsgType.REQUEST, [], result.ack.yiaddr, false);
    result.proxyAck = (await exchange(uni, req, [spec.proxyServer, PXE_PORT], 5000, isType(MsgType.ACK), true))[0];
    uni.close();
  }
} catch (err) {
  result.error = (err as Error).message;
}
console.log(`RESULT ${JSON.stringify(result)}`);
