// Heartbeats: ask every other replica's /status, apart from the image pulls (a long
// download must not make a peer look dead), and tell the membership who answered and
// what it holds. The clock and the question are injected; real ones by default.
import { heldRefs } from './pool.js';
import type { Membership } from './membership.js';
import { fetchJson } from '../../store/download.js';

/** The part of a peer's /status that heartbeats read. */
export interface PeerAnswer {
  images?: readonly { name: string; version: string; current: boolean }[];
}

/** Ask one peer (host[:port]); undefined when it does not answer, or not well. */
export type AskStatus = (peer: string) => Promise<PeerAnswer | undefined>;

const ASK_TIMEOUT_MS = 3000;

export const askStatus: AskStatus = (peer) =>
  fetchJson<PeerAnswer>(`http://${peer}/status`, { timeoutMs: ASK_TIMEOUT_MS }).catch(() => undefined);

/** A third of --dead-after, at most 10 s: a live peer is asked about three times before it could count as dead. */
export function beatIntervalMs(deadAfterMs: number): number {
  return Math.min(10_000, deadAfterMs / 3);
}

/** One round: ask every peer at once; each that answers is heard at the time its answer arrives. */
export async function beat(peers: readonly string[], membership: Membership, now: () => number, ask: AskStatus = askStatus): Promise<void> {
  await Promise.all(
    peers.map(async (peer) => {
      const st = await ask(peer);
      if (!st) return;
      membership.heard(peer.split(':')[0]!, now(), Array.isArray(st.images) ? heldRefs(st.images) : undefined);
    }),
  );
}

export interface HeartbeatOptions {
  /** host[:port] of every other replica, read at each round (the inventory may change). */
  peers: () => string[];
  membership: Membership;
  now: () => number;
  ask?: AskStatus;
  /** Run after each round (this replica re-reads what it holds). */
  afterRound?: () => Promise<void>;
  /** During the first --dead-after, ask again this soon while a peer has never answered; default 1 s. */
  eagerMs?: number;
}

/**
 * A round at once (who is up, and what they hold), then one every beatIntervalMs. Boot
 * scripts list only peers heard from, so during the first --dead-after a peer that has
 * not answered yet (it may be starting at the same time) is asked again sooner.
 */
export function startHeartbeats(o: HeartbeatOptions): { stop(): void } {
  const startedAt = o.now();
  let eager: NodeJS.Timeout | undefined;
  let stopped = false;
  const unheard = () => o.peers().some((p) => o.membership.heardFrom([p.split(':')[0]!], o.now()).length === 0);
  const round = async () => {
    await beat(o.peers(), o.membership, o.now, o.ask);
    await o.afterRound?.().catch(() => undefined);
    if (stopped || eager || o.now() - startedAt >= o.membership.deadAfterMs || !unheard()) return;
    eager = setTimeout(() => {
      eager = undefined;
      void round();
    }, o.eagerMs ?? 1000);
    eager.unref();
  };
  const timer = setInterval(() => void round(), beatIntervalMs(o.membership.deadAfterMs));
  timer.unref();
  void round();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
      clearTimeout(eager);
    },
  };
}
