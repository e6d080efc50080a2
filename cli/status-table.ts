// `diskless status` as terminal tables: nodes, replicas, images and virtual clusters
// from one cluster view (pxe/status/schema.ts). Pure: the view, the time and whether to
// colour in, text out. Colour is only ever an addition: the plain text says the same.
import { PHASE_LABELS } from '../pxe/status/phases.js';
import type { ClusterView, NodeView, ReplicaView } from '../pxe/status/schema.js';

export interface RenderOptions {
  /** ANSI colours (stdout is a TTY and NO_COLOR is not set). */
  color: boolean;
  /** A replica not heard from for this long is shown dead, whatever it was counted as (default: the view's). */
  deadAfterSeconds?: number;
  /** Show at most this many nodes, failing first (0: all). */
  maxNodes?: number;
}

const CODES = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;
type Style = keyof typeof CODES;

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const width = (s: string) => [...s.replace(ANSI, '')].length;

/** Rows as aligned columns (two spaces apart), the header in bold. */
export function table(header: string[], rows: string[][], paint: (s: Style, t: string) => string): string {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - width(c)))).join('  ').trimEnd();
  return [paint('bold', line(header)), ...rows.map(line)].join('\n');
}

/** 950 ms, 12.3 s, 4 min 5 s, 2 h 3 min. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function bytes(n: number | undefined): string {
  if (n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

/** How a node stands: up, booting, failing or unknown (no boot seen). */
export function nodeState(n: NodeView): 'up' | 'booting' | 'failing' | 'unknown' {
  if (n.phase === 'unknown') return 'unknown';
  if (n.failed) return 'failing';
  return n.phase === 'up' ? 'up' : 'booting';
}

/** Dead when the replica counts it dead, or when it was last heard from longer ago than `deadAfterS`. */
export function replicaDead(r: ReplicaView, generatedAt: number, deadAfterS: number): boolean {
  if (r.self) return false;
  if (!r.live) return true;
  return r.lastHeartbeat === undefined || generatedAt - Date.parse(r.lastHeartbeat) >= deadAfterS * 1000;
}

const STATE_ORDER = { failing: 0, booting: 1, unknown: 2, up: 3 };
const STATE_STYLE = { failing: 'red', booting: 'yellow', unknown: 'dim', up: 'green' } as const;

function nodesTable(v: ClusterView, now: number, o: RenderOptions, paint: (s: Style, t: string) => string): string {
  const counts = { up: 0, booting: 0, failing: 0, unknown: 0 };
  for (const n of v.nodes) counts[nodeState(n)]++;
  const sorted = [...v.nodes].sort((a, b) => STATE_ORDER[nodeState(a)] - STATE_ORDER[nodeState(b)]);
  const shown = o.maxNodes ? sorted.slice(0, o.maxNodes) : sorted;
  const rows = shown.map((n) => {
    const st = nodeState(n);
    const phase = n.phase === 'unknown' ? 'no boot seen' : PHASE_LABELS[n.phase];
    const last = n.failures.at(-1);
    return [
      n.name,
      n.ip,
      n.image,
      paint(STATE_STYLE[st], st === 'failing' ? `${phase} (failing)` : phase),
      n.since ? duration(now - Date.parse(n.since)) : '-',
      n.boot && n.phase !== 'up' ? duration(n.boot.ms) : '-',
      n.lastBoot ? duration(n.lastBoot.ms) : '-',
      last && st === 'failing' ? paint('red', `${last.kind}: ${last.message}`) : '',
    ];
  });
  const title = `NODES  ${v.nodes.length}: ${counts.up} up, ${counts.booting} booting, ${counts.failing} failing, ${counts.unknown} not seen`;
  const more = shown.length < sorted.length ? `\n… ${sorted.length - shown.length} more (all up or not seen; --all shows them)` : '';
  return `${paint('bold', title)}\n${table(['NAME', 'IP', 'IMAGE', 'PHASE', 'SINCE', 'BOOTING', 'LAST BOOT', 'FAILURE'], rows, paint)}${more}`;
}

function replicasTable(v: ClusterView, now: number, deadAfterS: number, paint: (s: Style, t: string) => string): string {
  const rows = v.replicas.map((r) => {
    const dead = replicaDead(r, now, deadAfterS);
    return [
      r.self ? `${r.address} (this)` : r.address,
      dead ? paint('red', 'dead') : paint('green', 'live'),
      r.self ? 'now' : r.lastHeartbeat ? `${duration(now - Date.parse(r.lastHeartbeat))} ago` : 'never',
      r.inventoryVersion === undefined ? '-' : `v${r.inventoryVersion}`,
      String(r.images.length),
      pct(r.poolShare),
      pct(r.nodeShare),
    ];
  });
  return `${paint('bold', `REPLICAS  ${v.replicas.length}`)}\n${table(['ADDRESS', 'STATE', 'HEARTBEAT', 'INVENTORY', 'IMAGES', 'POOL', 'FIRST ANSWERS'], rows, paint)}`;
}

function imagesTable(v: ClusterView, paint: (s: Style, t: string) => string): string {
  const rows = v.images.map((i) => [i.name, i.version, i.current ? paint('green', 'current') : '', bytes(i.size), String(i.nodes), i.replicas.join(', ')]);
  return `${paint('bold', `IMAGES  ${v.images.length}`)}\n${table(['IMAGE', 'VERSION', 'CURRENT', 'SIZE', 'NODES', 'HELD BY'], rows, paint)}`;
}

function vcsTable(v: ClusterView, paint: (s: Style, t: string) => string): string | undefined {
  if (!v.vcs) return undefined;
  const rows = v.vcs.flatMap((c) => (c.vms.length ? c.vms : [{ name: '-', host: undefined, state: '-' }]).map((m) => [c.name, c.state ?? '-', m.name, m.host ?? '-', m.state]));
  return `${paint('bold', `VIRTUAL CLUSTERS  ${v.vcs.length}`)}\n${table(['VC', 'STATE', 'VM', 'HOST', 'POWER (DESIRED)'], rows, paint)}`;
}

/** The whole view as text, at `now` (ms). */
export function renderStatus(v: ClusterView, now: number, o: RenderOptions): string {
  const paint = (s: Style, t: string) => (o.color && t ? `\x1b[${CODES[s]}m${t}\x1b[0m` : t);
  const deadAfterS = o.deadAfterSeconds ?? v.deadAfterSeconds;
  const head = `cluster ${v.cluster}, inventory v${v.inventory.version}, as seen by ${v.replica} at ${v.generatedAt} (replicas dead after ${deadAfterS} s)`;
  const parts = [head, nodesTable(v, now, o, paint), replicasTable(v, now, deadAfterS, paint), imagesTable(v, paint), vcsTable(v, paint)];
  return `${parts.filter((p) => p !== undefined).join('\n\n')}\n`;
}
