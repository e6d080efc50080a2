// What this replica reads from its peers for the cluster view, validated: the part of a
// peer's /status it shows (inventory version, images held), kept from the heartbeats,
// and a peer's own node view (/cluster?local=1). A peer that answers something else is
// shown as if it had not answered, never trusted field by field.
import { z } from 'zod';
import { NodeViewSchema, type NodeView } from './schema.js';
import { askStatus, type AskStatus } from '../replica/heartbeat.js';
import { fetchJson } from '../../store/download.js';

export const PeerStatusSchema = z.object({
  replica: z.string().optional(),
  inventory: z.object({ version: z.number() }).partial().optional(),
  images: z.array(z.object({ name: z.string(), version: z.string(), current: z.boolean() })).max(10_000).optional(),
});
export type PeerStatus = z.infer<typeof PeerStatusSchema>;

/** Each peer's last valid /status, by address (host, no port), with when it came. */
export class PeerStatuses {
  private readonly last = new Map<string, { at: number; status: PeerStatus }>();

  constructor(private readonly now: () => number) {}

  /**
   * An ask for the heartbeats that also keeps each valid answer. What the heartbeats
   * see is unchanged: an answer the view cannot show still counts as an answer.
   */
  asking(ask: AskStatus = askStatus): AskStatus {
    return async (peer) => {
      const answer = await ask(peer);
      const ok = PeerStatusSchema.safeParse(answer);
      if (ok.success) this.last.set(peer.split(':')[0]!, { at: this.now(), status: ok.data });
      return answer;
    };
  }

  all(): ReadonlyMap<string, { at: number; status: PeerStatus }> {
    return this.last;
  }
}

const PeerNodesSchema = z.object({ replica: z.string(), nodes: z.array(NodeViewSchema).max(100_000) });

const PEER_VIEW_TIMEOUT_MS = 2000;
const PEER_VIEW_MAX_BYTES = 32 << 20;

/** A peer's own node view (host[:port]), or undefined when it does not answer, or not well. */
export async function peerNodes(peer: string): Promise<{ replica: string; nodes: NodeView[] } | undefined> {
  const answer = await fetchJson<unknown>(`http://${peer}/cluster?local=1`, { timeoutMs: PEER_VIEW_TIMEOUT_MS, maxBytes: PEER_VIEW_MAX_BYTES }).catch(() => undefined);
  const ok = PeerNodesSchema.safeParse(answer);
  return ok.success ? ok.data : undefined;
}
