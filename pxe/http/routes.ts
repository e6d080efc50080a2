// What an HTTP path asks for. Pure: a path in, a route out; nothing here touches files.
import { normalizeMac } from '../../cluster/addr.js';
import { CURRENT, MANIFEST_FILE, SAFE_NAME as NAME } from '../../store/layout.js';
import { parseReport, type Report } from '../status/report.js';

export type Route =
  | { kind: 'boot-script'; mac: string; format: 'ipxe' | 'grub' }
  | { kind: 'artifact'; image: string; version: string; file: string }
  /** `<artifact>.sha256`: the manifest's hash in sha256sum format, for the initrd's check. */
  | { kind: 'artifact-sha256'; image: string; version: string; file: string }
  | { kind: 'ipxe-binary'; file: string }
  | { kind: 'status' }
  /** Prometheus text format (pxe/metrics/). */
  | { kind: 'metrics' }
  | { kind: 'inventory' }
  /** The inventory's signature (FILE.sig), for replicas that trust the cluster key. */
  | { kind: 'inventory-sig' }
  /** A node's report of its boot (pxe/status/report.ts); `error` when malformed. */
  | ({ kind: 'report' } & (Report | { error: string }))
  /**
   * The cluster view as JSON; `local`: this replica's own, without asking its peers;
   * `nodes: false` (`?nodes=0`): without the node views (a status page that has them live).
   */
  | { kind: 'cluster'; local: boolean; nodes: boolean }
  /** The status page: `/` is its index.html, `/page/<file>` its CSS and script. */
  | { kind: 'page'; file: string }
  /** The status page's live stream (server-sent events). */
  | { kind: 'events' }
  | { kind: 'not-found'; reason: string };

export const PAGE_INDEX = 'index.html';

export function route(rawPath: string): Route {
  let path: string;
  try {
    path = decodeURIComponent(rawPath.split('?')[0] ?? '');
  } catch {
    return { kind: 'not-found', reason: 'bad percent-encoding' };
  }
  const parts = path.split('/').filter(Boolean);
  if (parts.some((p) => p === '..' || p === '.' || p.includes('\0'))) return { kind: 'not-found', reason: 'dot segments are refused' };
  const [head, ...rest] = parts;
  if (parts.length === 0) return { kind: 'page', file: PAGE_INDEX };
  if (head === 'page' && rest.length === 1 && NAME.test(rest[0]!)) return { kind: 'page', file: rest[0]! };
  if (head === 'events' && rest.length === 0) return { kind: 'events' };
  if (head === 'status' && rest.length === 0) return { kind: 'status' };
  if (head === 'inventory' && rest.length === 0) return { kind: 'inventory' };
  if (head === 'metrics' && rest.length === 0) return { kind: 'metrics' };
  if (head === 'inventory.sig' && rest.length === 0) return { kind: 'inventory-sig' };
  if (head === 'report') return { kind: 'report', ...parseReport(rest, rawPath.split('?').slice(1).join('?')) };
  if (head === 'cluster' && rest.length === 0) {
    const q = rawPath.split('?')[1] ?? '';
    return { kind: 'cluster', local: /(^|&)local=1(&|$)/.test(q), nodes: !/(^|&)nodes=0(&|$)/.test(q) };
  }
  if (head === 'boot' && rest.length === 1) {
    const m = /^(.+?)\.(ipxe|grub\.cfg)$/.exec(rest[0]!);
    const mac = m && normalizeMac(m[1]!);
    if (!m || !mac) return { kind: 'not-found', reason: 'boot scripts are /boot/<mac>.ipxe or /boot/<mac>.grub.cfg' };
    return { kind: 'boot-script', mac, format: m[2] === 'ipxe' ? 'ipxe' : 'grub' };
  }
  if (head === 'images' && rest.length === 3 && rest.every((p) => NAME.test(p))) {
    const [image, version, file] = rest as [string, string, string];
    if (file.endsWith('.sha256')) {
      const of = file.slice(0, -'.sha256'.length);
      // The manifest holds the artifacts' hashes, not its own: never answer its .sha256 with the manifest.
      if (of === MANIFEST_FILE) return { kind: 'not-found', reason: `${MANIFEST_FILE} has no .sha256: the manifest is the list of hashes` };
      return { kind: 'artifact-sha256', image, version, file: of };
    }
    return { kind: 'artifact', image, version, file };
  }
  if (head === 'ipxe' && rest.length === 1 && NAME.test(rest[0]!)) return { kind: 'ipxe-binary', file: rest[0]! };
  return { kind: 'not-found', reason: 'no such route' };
}

const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * Cache-Control for a file: an artifact under a version path never changes (its ETag is
 * the manifest's sha256), so it is cached for good; `current/` moves with every build
 * and everything else may change, so they are revalidated (If-None-Match) on each use.
 */
export function cacheControl(r: Route, contentAddressed: boolean): string {
  return contentAddressed && r.kind === 'artifact' && r.version !== CURRENT ? IMMUTABLE : 'no-cache';
}
