// The HTTP side of the boot service: per-node boot scripts, image artifacts (with
// Range requests and the manifest's sha256 as ETag) and iPXE binaries. Thin: the
// route is decided by routes.ts, files are sent by send-file.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname } from 'node:path';
import { cacheControl, route, type Route } from './routes.js';
import { IPXE_BINARIES, resolveIpxeFiles, stillRegular } from './ipxe-files.js';
import { sendFile } from './send-file.js';
import { FileCache } from './file-cache.js';
import { applyLimits, httpLimits, serverOptions, type HttpLimits } from './limits.js';
import { renderBootScript, renderErrorScript } from '../bootscript.js';
import type { ImageStore } from '../images.js';
import type { Inventory } from '../../cluster/inventory.js';
import type { BootEvent } from '../events.js';
import type { SseHub } from './sse.js';

export interface HttpServerOptions {
  images: ImageStore;
  inventory: () => Inventory;
  /** Distributions' folder: a `<distro>/boot/` in it overrides a shared boot template. */
  templatesDir: string;
  /** The shared boot templates (default pxe/templates/). */
  bootTemplatesDir?: string;
  ipxeDir: string;
  /** The iPXE binaries resolved at start (resolveIpxeFiles), when the caller already did; else resolved here. */
  ipxeFiles?: ReadonlyMap<string, string>;
  /** host:port of the replicas to list in a boot script for this image. */
  servers: (image: { name: string; version: string }) => string[];
  address?: string;
  port?: number;
  onEvent?: (e: BootEvent) => void;
  /** The served inventory's signature, for /inventory.sig; none: 404. */
  inventorySig?: () => string | undefined;
  /** /metrics: the text and its Content-Type; none: 404. */
  metrics?: () => Promise<{ body: string; contentType: string }>;
  /** Extra fields for /status. */
  status?: () => object | Promise<object>;
  /** The cluster view for /cluster (`local`: without asking peers); none: 404. */
  cluster?: (local: boolean) => Promise<object>;
  /** Connection caps and timeouts; DEFAULT_HTTP_LIMITS for what is not given. */
  limits?: Partial<HttpLimits>;
  /** Memory for image artifacts held whole (file-cache.ts); 0 turns it off. */
  cacheBytes?: number;
  /** The status page: its files (pxe/http/page) and the hub that serves /events; none: 404. */
  page?: { dir: string; events: Pick<SseHub<never>, 'attach'> };
}

export interface HttpServer {
  server: Server;
  port: number;
  /** Connections open now, and those refused by the per-client cap since start. */
  connections(): { open: number; refused: number };
  /** Bytes of image artifacts held in memory. */
  cachedBytes(): number;
  close(): Promise<void>;
}

function clientIp(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

/** A /cluster body is reused this long: twenty open status pages polling cost one view, not twenty. */
export const CLUSTER_REUSE_MS = 1000;

function clusterBodies(view: (local: boolean) => Promise<object>) {
  const made = new Map<string, { at: number; body: Promise<string> }>();
  return (local: boolean, nodes: boolean): Promise<string> => {
    const key = `${local}/${nodes}`;
    const hit = made.get(key);
    if (hit && performance.now() - hit.at < CLUSTER_REUSE_MS) return hit.body;
    const body = view(local).then((v) => `${JSON.stringify(nodes ? v : { ...v, nodes: undefined }, null, 2)}\n`);
    made.set(key, { at: performance.now(), body });
    body.catch(() => made.get(key)?.body === body && made.delete(key));
    return body;
  };
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const ipxe = opts.ipxeFiles ?? (await resolveIpxeFiles(opts.ipxeDir));
  const clusterBody = opts.cluster ? clusterBodies(opts.cluster) : undefined;
  const limits = httpLimits(opts.limits);
  const cache = opts.cacheBytes === 0 ? undefined : new FileCache(opts.cacheBytes);
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const ip = clientIp(req);
    const r = route(req.url ?? '/');
    let bytes = 0;
    const inv = opts.inventory();
    const mac = r.kind === 'boot-script' || (r.kind === 'report' && 'mac' in r) ? r.mac : undefined;
    const node = mac ? inv.byMac.get(mac) : inv.nodes.find((n) => n.ip === ip);
    res.on('finish', () => {
      opts.onEvent?.({
        kind: 'http',
        client: ip,
        node: node?.name,
        mac: node?.mac ?? mac,
        path: req.url ?? '/',
        status: res.statusCode,
        bytes,
        ms: Math.round(performance.now() - started),
        range: typeof req.headers.range === 'string' ? req.headers.range : undefined,
      });
    });
    const text = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      const buf = Buffer.from(body);
      bytes = buf.length;
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': buf.length, 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : buf);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return text(405, 'only GET and HEAD\n');
    }
    const file = (dir: string, name: string, etag?: string) => {
      if (etag) res.setHeader('ETag', `"${etag}"`);
      res.setHeader('Cache-Control', cacheControl(r, !!etag));
      sendFile(req, res, dir, name, { validators: !etag, cache: etag ? cache : undefined, onBytes: (n) => (bytes += n), onError: (status, message) => text(status, `${message}\n`) });
    };
    switch (r.kind) {
      case 'status':
        return text(200, `${JSON.stringify({ cluster: inv.cluster, inventory: { version: inv.version, hash: inv.hash }, ...(await opts.status?.()) }, null, 2)}\n`, 'application/json');
      case 'metrics': {
        const m = await opts.metrics?.();
        return m ? text(200, m.body, m.contentType) : text(404, 'this server has no /metrics\n');
      }
      case 'inventory':
        // The inventory as this replica serves it, for replicas with an older version.
        return text(200, inv.text, 'application/yaml');
      case 'inventory-sig': {
        const sig = opts.inventorySig?.();
        return sig === undefined ? text(404, 'this replica serves an unsigned inventory\n') : text(200, sig);
      }
      case 'boot-script':
        return bootScript(r, node, text);
      case 'report':
        if ('error' in r) return text(400, `${r.error}\n`);
        if (!node) return text(404, `no node with MAC ${r.mac} in the inventory\n`);
        // A HEAD asks, it does not report.
        if (req.method === 'GET') opts.onEvent?.({ kind: 'report', what: r.what, message: r.message, node: node.name, mac: node.mac, client: ip });
        return text(200, 'ok\n');
      case 'cluster':
        if (!clusterBody) return text(404, 'this server keeps no cluster view\n');
        return text(200, await clusterBody(r.local, r.nodes), 'application/json');
      case 'artifact-sha256':
      case 'artifact': {
        let img;
        try {
          img = await opts.images.resolve(r.version === 'current' ? r.image : `${r.image}/${r.version}`);
        } catch (err) {
          return text(404, `${(err as Error).message}\n`);
        }
        if (r.kind === 'artifact' && (r.file === 'manifest.json' || r.file === 'manifest.json.sig')) return file(img.dir, r.file);
        const art = Object.values(img.manifest.artifacts).find((a) => a.file === r.file);
        if (!art) return text(404, `image ${img.name} ${img.version} has no artifact ${r.file}\n`);
        if (r.kind === 'artifact-sha256') return text(200, `${art.sha256}  ${art.file}\n`);
        return file(img.dir, r.file, art.sha256);
      }
      case 'ipxe-binary': {
        const real = ipxe.get(r.file);
        if (!real || !(await stillRegular(real))) return text(404, `no ${r.file}: /ipxe/ serves ${IPXE_BINARIES.join(', ')} as found in ${opts.ipxeDir} at start (apt-get install ipxe, then restart)\n`);
        return file(dirname(real), basename(real));
      }
      case 'page':
        if (!opts.page) return text(404, 'this server has no status page\n');
        res.setHeader('Cache-Control', 'no-cache');
        return sendFile(req, res, opts.page.dir, r.file, { validators: true, onBytes: (n) => (bytes += n), onError: (status, message) => text(status, `${message}\n`) });
      case 'events':
        if (!opts.page) return text(404, 'this server has no status page\n');
        if (req.method === 'HEAD') return text(200, '', 'text/event-stream');
        return opts.page.events.attach(req, res);
      case 'not-found':
        return text(404, `${r.reason}\n`);
    }
  };

  const bootScript = async (
    r: Extract<Route, { kind: 'boot-script' }>,
    node: ReturnType<Inventory['byMac']['get']>,
    text: (s: number, b: string, t?: string) => void,
  ) => {
    const type = 'text/plain; charset=utf-8';
    const fail = async (message: string) => {
      // iPXE shows a script's echo lines; a 404 would only say "not found".
      if (r.format === 'ipxe') return text(200, await renderErrorScript(r.mac, message, opts.bootTemplatesDir), type);
      return text(404, `${message}\n`);
    };
    if (!node) return fail(`no node with MAC ${r.mac} in the inventory`);
    let image;
    try {
      image = await opts.images.resolve(node.image);
    } catch (err) {
      return fail((err as Error).message);
    }
    try {
      const inv = opts.inventory();
      return text(200, await renderBootScript(opts.templatesDir, r.format, { node, cluster: inv.cluster, image, servers: opts.servers(image), replica: inv.servers.includes(node.ip) }, opts.bootTemplatesDir), type);
    } catch (err) {
      return fail((err as Error).message);
    }
  };

  const server = createServer(serverOptions(limits), (req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`internal error: ${err.message}\n`);
    });
  });
  const counts = applyLimits(server, limits);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 80, opts.address ?? '0.0.0.0', () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    connections: () => ({ open: counts.open(), refused: counts.refused() }),
    cachedBytes: () => cache?.size() ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
