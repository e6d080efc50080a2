// One simulated network-booting node: a DHCP exchange with the PXE spec's timers,
// then what iPXE does with the answer: fetch the boot script from the boot-file URL,
// walk it (kernel, initrd, `|| goto` the next replica on failure), download every
// image and hash it. Timings and failures are recorded, not thrown.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { macToBuffer } from '../../cluster/addr.js';
import { BOOTREQUEST, FLAG_BROADCAST, MsgType, Opt, USER_CLASS_IPXE, VENDOR_PXE } from '../../pxe/dhcp/constants.js';
import { decode, emptyMessage, encode, type DhcpMessage } from '../../pxe/dhcp/packet.js';
import { getIp, getText, getU8, ip, text, u16, u8 } from '../../pxe/dhcp/options.js';
import { expandBootFile, parseScript, type Step } from './script.js';
import type { DhcpTransport } from './transport.js';
import { playInitrd, type InitrdOptions } from './initrd.js';

/**
 * PXE 2.1 2.2.1: DHCPDISCOVER is sent four more times, with timeouts of 4, 8, 16 and
 * 32 seconds, before the ROM gives up (PXE-E51). The same schedule is used for the
 * DHCPREQUEST; when it runs out the client starts over with a DISCOVER (RFC 2131 3.1.5).
 */
export const PXE_TIMEOUTS_S = [4, 8, 16, 32]; // seconds
/** How long iPXE waits on an HTTP connection that does not answer (it has no fixed figure; 15 s is near its TCP give-up). */
export const HTTP_TIMEOUT_S = 15; // seconds

export interface ClientOptions {
  mac: string;
  transport: DhcpTransport;
  /** Multiplies every PXE/iPXE timer (1 = real timings; 0.05 turns 4 s into 200 ms). */
  timeScale?: number;
  /** Whole boots tried (DHCP again after a failed script fetch or a walked-out script), like a node that reboots. */
  maxBoots?: number;
  /** Rounds through the script's `:failed` -> first-replica loop before giving up. */
  maxScriptRounds?: number;
  /** Then fetch this file from the kernel's folder, as the initrd's /init fetches the root image. */
  rootFile?: string;
  /** Source address for HTTP (the leased one when the namespace holds it). */
  httpLocalAddress?: (leased: string) => string | undefined;
  now?: () => number;
  /** After `boot`, play the initrd and the image too (initrd.ts): root image, sha256 check, reports of init and up. */
  initrd?: Pick<InitrdOptions, 'rounds' | 'upAfterMs' | 'retryMs'>;
}

export interface Fetched {
  what: string;
  url: string;
  /** A kernel's command line, from the script. */
  cmdline?: string;
  bytes: number;
  sha256: string;
  ms: number;
}

export interface ClientResult {
  mac: string;
  ok: boolean;
  error?: string;
  /** From the ACK. */
  address?: string;
  /** Server id of the ACK. */
  dhcpServer?: string;
  bootFile?: string;
  /** Milliseconds per phase of the boot that succeeded; total is the whole thing, retries included. */
  dhcpMs?: number;
  scriptMs?: number;
  filesMs?: number;
  /** With `initrd`: from `boot` to a good root image. */
  rootMs?: number;
  /** With `initrd`: reports the replica did not take. */
  reportErrors?: number;
  totalMs: number;
  /** Files of the boot that succeeded, in fetch order (kernel, initrd, modules). */
  files: Fetched[];
  /** DHCP packets sent again after a timeout. */
  retransmits: number;
  /** Whole boots restarted (script unreachable, every replica failed). */
  reboots: number;
  /** `|| goto` fallbacks taken. */
  fallbacks: number;
  /** Every failure seen on the way, booted or not. */
  errors: string[];
}

const PARAMS = [Opt.SUBNET_MASK, Opt.ROUTER, Opt.DNS, Opt.HOST_NAME, Opt.DOMAIN_NAME, Opt.VENDOR_SPECIFIC, Opt.VENDOR_CLASS_ID, Opt.TFTP_SERVER_NAME, Opt.BOOTFILE_NAME, Opt.IPXE_ENCAP];
const PXE_VENDOR = `${VENDOR_PXE}:Arch:00000:UNDI:002001`; // PXE 2.1 2.2.1
const MAX_DHCP_SIZE = 1472; // u16: what iPXE asks for (Ethernet MTU less IP/UDP headers)

/** A request the way iPXE sends one on a BIOS machine. */
function request(type: number, xid: number, mac: string, giaddr: string, secs: number, offer?: { serverId: string; address: string }): Buffer {
  const m: DhcpMessage = emptyMessage(BOOTREQUEST);
  m.xid = xid;
  m.secs = Math.min(0xffff, secs);
  m.giaddr = giaddr;
  m.hops = giaddr === '0.0.0.0' ? 0 : 1;
  m.flags = FLAG_BROADCAST;
  macToBuffer(mac).copy(m.chaddr);
  const o = m.options;
  o.set(Opt.MESSAGE_TYPE, u8(type));
  o.set(Opt.MAX_MESSAGE_SIZE, u16(MAX_DHCP_SIZE));
  if (offer) {
    o.set(Opt.SERVER_ID, ip(offer.serverId));
    o.set(Opt.REQUESTED_IP, ip(offer.address));
  }
  o.set(Opt.CLIENT_ARCH, u16(0));
  o.set(Opt.CLIENT_NDI, Buffer.from([1, 2, 1]));
  o.set(Opt.CLIENT_UUID, Buffer.concat([u8(0), createHash('md5').update(mac).digest()]));
  o.set(Opt.VENDOR_CLASS_ID, text(PXE_VENDOR));
  o.set(Opt.USER_CLASS, text(USER_CLASS_IPXE));
  o.set(Opt.PARAM_REQUEST_LIST, Buffer.from(PARAMS));
  return encode(m);
}

interface Lease {
  address: string;
  serverId: string;
  bootFile: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** DISCOVER -> first OFFER with a boot file -> REQUEST -> ACK, on the PXE schedule. */
async function dhcp(o: ClientOptions, scale: number, r: ClientResult, t0: number): Promise<Lease> {
  const now = o.now ?? performance.now.bind(performance);
  // A REQUEST that runs out of tries (the chosen server died) starts over once more.
  for (let round = 0; round < 2; round++) {
    const xid = randomBytes(4).readUInt32BE(0);
    let resolveReply!: (m: DhcpMessage) => void;
    let want: number = MsgType.OFFER;
    const unlisten = o.transport.listen(xid, (buf) => {
      let m: DhcpMessage;
      try {
        m = decode(buf);
      } catch {
        return;
      }
      const type = getU8(m.options, Opt.MESSAGE_TYPE);
      if (type === want || (want === MsgType.ACK && type === MsgType.NAK)) resolveReply(m);
    });
    try {
      const exchange = async (packet: () => Buffer): Promise<DhcpMessage | undefined> => {
        for (let i = 0; i <= PXE_TIMEOUTS_S.length; i++) {
          if (i === PXE_TIMEOUTS_S.length) return undefined;
          const got = new Promise<DhcpMessage>((res) => (resolveReply = res));
          o.transport.send(packet());
          if (i > 0) r.retransmits++;
          let timer: ReturnType<typeof setTimeout> | undefined;
          const reply = await Promise.race([got, new Promise<undefined>((res) => (timer = setTimeout(() => res(undefined), PXE_TIMEOUTS_S[i]! * 1000 * scale)))]);
          clearTimeout(timer);
          if (reply) return reply;
        }
      };
      const secs = () => Math.floor((now() - t0) / 1000);
      want = MsgType.OFFER;
      const offer = await exchange(() => request(MsgType.DISCOVER, xid, o.mac, o.transport.giaddr, secs()));
      if (!offer) throw new Error(`no DHCP offer after ${PXE_TIMEOUTS_S.length} tries (PXE-E51)`);
      const serverId = getIp(offer.options, Opt.SERVER_ID) ?? offer.siaddr;
      const chosen = { serverId, address: offer.yiaddr };
      want = MsgType.ACK;
      const ack = await exchange(() => request(MsgType.REQUEST, xid, o.mac, o.transport.giaddr, secs(), chosen));
      if (!ack) {
        r.errors.push(`no ACK from ${serverId} for ${offer.yiaddr}`);
        continue;
      }
      if (getU8(ack.options, Opt.MESSAGE_TYPE) === MsgType.NAK) {
        r.errors.push(`NAK from ${serverId}: ${getText(ack.options, Opt.MESSAGE) ?? ''}`);
        continue;
      }
      const bootFile = getText(ack.options, Opt.BOOTFILE_NAME) || ack.file;
      if (!bootFile) throw new Error(`ACK from ${serverId} has no boot file`);
      return { address: ack.yiaddr, serverId: getIp(ack.options, Opt.SERVER_ID) ?? serverId, bootFile };
    } finally {
      unlisten();
    }
  }
  throw new Error('DHCP: no ACK after starting over');
}

/** GET a URL on a fresh connection (every node has its own), hashing as it arrives; `keep`: return the body too. */
export function get(url: string, timeoutMs: number, localAddress: string | undefined, keep = url.endsWith('.ipxe')): Promise<{ body?: Buffer; bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let bytes = 0;
    const req = http.get(url, { agent: false, localAddress, timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`${url}: HTTP ${res.statusCode}`));
        return;
      }
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        hash.update(d);
        if (keep) chunks.push(d);
      });
      res.on('end', () => {
        if (!res.complete) return reject(new Error(`${url}: connection closed mid-transfer`));
        resolve({ body: keep ? Buffer.concat(chunks) : undefined, bytes, sha256: hash.digest('hex') });
      });
      res.on('error', (err) => reject(new Error(`${url}: ${err.message}`)));
      res.on('aborted', () => reject(new Error(`${url}: connection closed mid-transfer`)));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new Error(`${url}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
  });
}

/** Walk the script like iPXE: a failed command with `|| goto X` jumps, without one it ends the script. */
async function walk(steps: Step[], labels: Map<string, number>, o: ClientOptions, scale: number, r: ClientResult, timeoutMs: number, local: string | undefined): Promise<Fetched[]> {
  let files: Fetched[] = [];
  let rounds = 0;
  const maxRounds = o.maxScriptRounds ?? 2;
  const jump = (label: string | undefined, why: string): number => {
    if (!label) throw new Error(why);
    const to = labels.get(label);
    if (to === undefined) throw new Error(`${why}; and no label ${label} in the script`);
    return to;
  };
  for (let pc = 0, budget = 10_000; pc < steps.length && budget > 0; budget--) {
    const s = steps[pc]!;
    switch (s.op) {
      case 'fetch': {
        const t = performance.now();
        try {
          const got = await get(s.url, timeoutMs, local);
          // A new kernel starts a new set of images, as iPXE's `kernel` does (imgfree first).
          if (s.what === 'kernel') files = [];
          files.push({ what: s.what, url: s.url, cmdline: s.cmdline, bytes: got.bytes, sha256: got.sha256, ms: performance.now() - t });
          pc++;
        } catch (err) {
          r.errors.push((err as Error).message);
          r.fallbacks += s.onFail ? 1 : 0;
          pc = jump(s.onFail, (err as Error).message);
        }
        break;
      }
      case 'goto':
        // Going back to an earlier label is a new round through the replicas.
        if (labels.get(s.label) !== undefined && labels.get(s.label)! <= pc && ++rounds >= maxRounds) {
          throw new Error(`every replica failed ${rounds} times over`);
        }
        pc = jump(s.label, `goto ${s.label}`);
        break;
      case 'sleep':
        await sleep(s.seconds * 1000 * scale);
        pc++;
        break;
      case 'boot':
        if (files.some((f) => f.what === 'kernel')) return files;
        pc = jump(s.onFail, 'boot: no kernel loaded');
        break;
      case 'other':
        pc++;
        break;
    }
  }
  throw new Error('the script ended without booting');
}

/** The root image from the replica and folder the kernel came from. */
async function fetchRoot(files: Fetched[], rootFile: string, timeoutMs: number, local: string | undefined): Promise<Fetched> {
  const kernel = files.find((f) => f.what === 'kernel')!;
  const url = `${kernel.url.slice(0, kernel.url.lastIndexOf('/'))}/${rootFile}`;
  const t = performance.now();
  const got = await get(url, timeoutMs * 4, local); // an idle timeout: a big root under a storm stalls longer
  return { what: 'root', url, bytes: got.bytes, sha256: got.sha256, ms: performance.now() - t };
}

export async function bootClient(o: ClientOptions): Promise<ClientResult> {
  const now = o.now ?? performance.now.bind(performance);
  const scale = o.timeScale ?? 1;
  const timeoutMs = HTTP_TIMEOUT_S * 1000 * scale;
  const t0 = now();
  const r: ClientResult = { mac: o.mac, ok: false, totalMs: 0, files: [], retransmits: 0, reboots: 0, fallbacks: 0, errors: [] };
  const maxBoots = o.maxBoots ?? 3;
  for (let boot = 0; boot < maxBoots; boot++) {
    if (boot > 0) r.reboots++;
    const tb = now();
    try {
      const lease = await dhcp(o, scale, r, t0);
      const td = now();
      Object.assign(r, { address: lease.address, dhcpServer: lease.serverId, bootFile: lease.bootFile, dhcpMs: td - tb });
      const url = expandBootFile(lease.bootFile, o.mac);
      if (!/^http:\/\//.test(url)) throw new Error(`boot file ${url} is not an http:// URL (this client only acts as iPXE)`);
      const local = o.httpLocalAddress?.(lease.address);
      const script = await get(url, timeoutMs, local);
      const ts = now();
      r.scriptMs = ts - td;
      const { steps, labels } = parseScript(script.body!.toString('utf8'));
      r.files = await walk(steps, labels, o, scale, r, timeoutMs, local);
      if (o.rootFile) r.files.push(await fetchRoot(r.files, o.rootFile, timeoutMs, local));
      r.filesMs = now() - ts;
      r.ok = true;
      r.error = undefined;
      break;
    } catch (err) {
      r.error = (err as Error).message;
      r.errors.push(r.error);
    }
  }
  if (r.ok && o.initrd) await afterBoot(o, r, timeoutMs);
  r.totalMs = now() - t0;
  return r;
}

/** The initrd's part of a boot that got its kernel: root image, then init and up (or its failures). */
async function afterBoot(o: ClientOptions, r: ClientResult, timeoutMs: number): Promise<void> {
  const kernel = r.files.find((f) => f.what === 'kernel');
  // The initrd's wget waits as long as the transfer takes: a scaled-down iPXE timeout would fail slow fetches on a busy machine.
  const i = await playInitrd({ ...o.initrd, mac: o.mac, cmdline: kernel?.cmdline ?? '', timeoutMs: Math.max(timeoutMs, HTTP_TIMEOUT_S * 1000), localAddress: o.httpLocalAddress?.(r.address!) });
  Object.assign(r, { rootMs: i.rootMs, reportErrors: i.reportErrors });
  r.errors.push(...i.errors);
  if (!i.ok) Object.assign(r, { ok: false, error: i.error });
}
