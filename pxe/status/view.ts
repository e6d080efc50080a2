// The whole cluster view (GET /cluster): nodes, replicas, images and virtual clusters,
// from facts gathered elsewhere (gather.ts). Pure: every fact, and the time, is passed in.
import type { Inventory } from '../../cluster/inventory.js';
import { firstResponder, ownerOf } from '../replica/pool.js';
import type { ClusterView, ImageView, NodeView, ReplicaView, VcView } from './schema.js';
import type { PeerStatus } from './peer-status.js';
import { compareVersions } from '../../store/version.js';

export interface HeldVersion {
  name: string;
  version: string;
  current: boolean;
}

export interface ClusterFacts {
  inventory: Pick<Inventory, 'cluster' | 'version' | 'hash' | 'servers' | 'nodes' | 'networks'>;
  /** This replica's address. */
  self: string;
  now: number;
  deadAfterMs: number;
  /** The live replicas, as the membership counts them (pool split). */
  live: readonly string[];
  nodes: NodeView[];
  heldHere: readonly HeldVersion[];
  /** Each peer's last /status answer (address → when it came, and what it said). */
  peers: ReadonlyMap<string, { at: number; status: PeerStatus }>;
  /** Size and build time of the versions this replica holds ("name/version" →). */
  imageInfo: ReadonlyMap<string, { size: number; builtAt?: string }>;
  vcs?: VcView[];
}

const iso = (ms: number) => new Date(ms).toISOString();
const ref = (i: { name: string; version: string }) => `${i.name}/${i.version}`;

/** At most this many pool addresses are weighed per view; a bigger pool is sampled evenly. */
export const SHARE_SAMPLE = 4096;

/** Each live replica's share of the pool addresses and of the reserved nodes' first answers (pxe/replica/pool.ts). */
export function shares(inv: Pick<Inventory, 'networks' | 'nodes'>, live: readonly string[]): Map<string, { pool: number; nodes: number }> {
  const out = new Map(live.map((r) => [r, { pool: 0, nodes: 0 }]));
  const pools = inv.networks.flatMap((n) => (n.pool ? [n.pool] : []));
  const total = pools.reduce((s, p) => s + (p.end - p.start + 1), 0);
  const step = Math.max(1, Math.ceil(total / SHARE_SAMPLE));
  let weighed = 0;
  for (const p of pools) {
    for (let ip = p.start; ip <= p.end; ip += step) {
      const o = ownerOf(ip, live);
      if (o) out.get(o)!.pool++;
      weighed++;
    }
  }
  for (const n of inv.nodes) {
    const o = firstResponder(n.mac, live);
    if (o) out.get(o)!.nodes++;
  }
  for (const s of out.values()) {
    s.pool = weighed ? s.pool / weighed : 0;
    s.nodes = inv.nodes.length ? s.nodes / inv.nodes.length : 0;
  }
  return out;
}

function replicaViews(f: ClusterFacts): ReplicaView[] {
  const all = f.inventory.servers.includes(f.self) ? f.inventory.servers : [f.self, ...f.inventory.servers];
  const share = shares(f.inventory, f.live);
  return all.map((address) => {
    const self = address === f.self;
    const peer = f.peers.get(address);
    const held = self ? f.heldHere : (peer?.status.images ?? []);
    return {
      address,
      self,
      live: f.live.includes(address),
      lastHeartbeat: self ? iso(f.now) : peer && iso(peer.at),
      inventoryVersion: self ? f.inventory.version : peer?.status.inventory?.version,
      images: held.map(ref),
      poolShare: share.get(address)?.pool ?? 0,
      nodeShare: share.get(address)?.nodes ?? 0,
    };
  });
}

function imageViews(f: ClusterFacts, replicas: readonly ReplicaView[]): ImageView[] {
  const byRef = new Map<string, { name: string; version: string; currentHere?: boolean; currentThere: boolean; replicas: string[] }>();
  const add = (r: string, i: HeldVersion, self: boolean) => {
    const k = ref(i);
    const e = byRef.get(k) ?? { name: i.name, version: i.version, currentThere: false, replicas: [] };
    if (self) e.currentHere = i.current;
    else e.currentThere ||= i.current;
    e.replicas.push(r);
    byRef.set(k, e);
  };
  for (const i of f.heldHere) add(f.self, i, true);
  for (const r of replicas) if (!r.self) for (const i of f.peers.get(r.address)?.status.images ?? []) add(r.address, i, false);
  const namesHere = new Set(f.heldHere.map((i) => i.name));
  const views = [...byRef.entries()].map(([k, e]) => {
    // `current` as this replica has it; for an image it does not hold at all, as a peer says.
    const current = namesHere.has(e.name) ? !!e.currentHere : e.currentThere;
    const info = f.imageInfo.get(k);
    const nodes = f.inventory.nodes.filter((n) => n.image === k || (current && n.image === e.name)).length;
    return { name: e.name, version: e.version, current, size: info?.size, builtAt: info?.builtAt, replicas: e.replicas, nodes };
  });
  return views.sort((a, b) => a.name.localeCompare(b.name) || compareVersions(a.version, b.version));
}

export function clusterView(f: ClusterFacts): ClusterView {
  const replicas = replicaViews(f);
  return {
    cluster: f.inventory.cluster,
    replica: f.self,
    generatedAt: iso(f.now),
    deadAfterSeconds: f.deadAfterMs / 1000,
    inventory: { version: f.inventory.version, hash: f.inventory.hash },
    nodes: f.nodes,
    replicas,
    images: imageViews(f, replicas),
    vcs: f.vcs,
  };
}
