// Gathering the facts of the cluster view for one replica: its node model, what the
// membership and the peers' last /status say, the sizes of the images it holds, and the
// VC store's records when there is one. The view itself is made by view.ts (pure).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Inventory } from '../../cluster/inventory.js';
import { heldImages } from '../../store/held.js';
import { versionDir } from '../../store/layout.js';
import { readManifestBytes, type Manifest } from '../../store/manifest.js';
import { FileStore, STATE_FILE } from '../../vc/store/file.js';
import { listVcs } from '../../vc/record.js';
import { mergeNodeViews, type StatusModel } from './model.js';
import { peerNodes, type PeerStatuses } from './peer-status.js';
import type { ClusterView, VcView } from './schema.js';
import { clusterView } from './view.js';

export interface StatusSources {
  self: string;
  inventory: () => Inventory;
  deadAfterMs: number;
  now: () => number;
  model: StatusModel;
  /** The live replicas now (the membership's count). */
  live: () => string[];
  peerStatuses: PeerStatuses;
  /** host[:port] of every other replica, for their node views. */
  peers: () => string[];
  imagesDir: string;
  /** The VC state store's folder; its VCs are shown when it holds a state.json. */
  vcStateDir?: string;
}

/** The manifest's facts the view shows, by "name/version" (a version never changes, so kept for good). */
function imageInfoReader(imagesDir: string) {
  const known = new Map<string, { size: number; builtAt?: string }>();
  return async (held: readonly { name: string; version: string }[]) => {
    for (const h of held) {
      const k = `${h.name}/${h.version}`;
      if (known.has(k)) continue;
      const bytes = await readManifestBytes(versionDir(imagesDir, h.name, h.version));
      if (!bytes) continue;
      try {
        const m = JSON.parse(bytes.toString('utf8')) as Manifest;
        const size = Object.values(m.artifacts ?? {}).reduce((s, a) => s + (Number.isFinite(a.size) ? a.size : 0), 0);
        known.set(k, { size, builtAt: typeof m.builtAt === 'string' ? m.builtAt : undefined });
      } catch {
        // A broken manifest is the sweep's and the sync's business; the view shows no size.
      }
    }
    return known;
  };
}

async function vcViews(dir: string | undefined): Promise<VcView[] | undefined> {
  if (!dir || !existsSync(join(dir, STATE_FILE))) return undefined;
  const entries = await listVcs(new FileStore({ dir })).catch(() => undefined);
  // The record's desired power states: this replica does not ask libvirt on the VMs' hosts.
  return entries?.map(({ value: r }) => ({ name: r.spec.name, state: r.phase, vms: r.vms.map((v) => ({ name: v.domain, host: v.host, state: v.desired })) }));
}

/** `(local) → view`: with local, this replica's own; otherwise nodes merged with the peers' own views. */
export function clusterViewSource(s: StatusSources): (local: boolean) => Promise<ClusterView> {
  const imageInfo = imageInfoReader(s.imagesDir);
  return async (local) => {
    const heldHere = await heldImages(s.imagesDir);
    const now = s.now();
    const mine = { replica: s.self, nodes: s.model.nodeViews(now) };
    const live = s.live();
    const others = local ? [] : await Promise.all(s.peers().filter((p) => live.includes(p.split(':')[0]!)).map(peerNodes));
    return clusterView({
      inventory: s.inventory(),
      self: s.self,
      now,
      deadAfterMs: s.deadAfterMs,
      live,
      nodes: mergeNodeViews([mine, ...others.filter((o) => o !== undefined)]),
      heldHere,
      peers: s.peerStatuses.all(),
      imageInfo: await imageInfo(heldHere),
      vcs: await vcViews(s.vcStateDir),
    });
  };
}
