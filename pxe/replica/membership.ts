// Replica membership: which replicas are live, from the answers to this one's
// heartbeats, and what each holds; and from that, this replica's share of the work.
// Pure: every question takes the time (`now`, ms) and the inventory's servers, so
// liveness is tested with a manual clock. A peer not heard from for `deadAfterMs`
// (or never, `deadAfterMs` after start) is dead: its share of the pool and of the
// first answers moves to the survivors at that very millisecond, and comes back to
// it at the first heartbeat it answers again. Boot scripts are stricter: they list
// only replicas heard from within `deadAfterMs`, never one not heard from yet.
import { firstResponder, holdersOf, liveReplicas, ownerOf } from './pool.js';

export interface MembershipOptions {
  /** This replica's address. */
  self: string;
  /** When this replica started (ms): a peer not heard from yet counts as heard then. */
  startedAt: number;
  deadAfterMs: number;
}

export class Membership {
  readonly self: string;
  readonly deadAfterMs: number;
  private readonly startedAt: number;
  private readonly lastSeen = new Map<string, number>();
  /** Each peer's holdings by its last /status ("name/version", and "name" when current). */
  private readonly peerHeld = new Map<string, ReadonlySet<string>>();
  private heldHere: ReadonlySet<string> = new Set();

  constructor(o: MembershipOptions) {
    this.self = o.self;
    this.startedAt = o.startedAt;
    this.deadAfterMs = o.deadAfterMs;
  }

  /** Peer `peer` (an address) answered a heartbeat at `now`, holding `held` if it said. */
  heard(peer: string, now: number, held?: ReadonlySet<string>): void {
    this.lastSeen.set(peer, now);
    if (held) this.peerHeld.set(peer, held);
  }

  /** When peer `peer` last answered a heartbeat (ms); undefined if never. */
  lastHeard(peer: string): number | undefined {
    return this.lastSeen.get(peer);
  }

  /** What this replica holds now. */
  holding(held: ReadonlySet<string>): void {
    this.heldHere = held;
  }

  /** The live replicas among `servers`: this one, and every peer heard from within deadAfterMs. */
  live(servers: readonly string[], now: number): string[] {
    return liveReplicas(this.self, servers, this.lastSeen, this.startedAt, now, this.deadAfterMs);
  }

  /** Does this replica own pool address `ip` (pxe/replica/pool.ts)? */
  owns(ip: number, servers: readonly string[], now: number): boolean {
    return ownerOf(ip, this.live(servers, now)) === this.self;
  }

  /** Is this replica the first responder for a reserved node's DISCOVER? */
  answersFirst(mac: string, servers: readonly string[], now: number): boolean {
    return firstResponder(mac, this.live(servers, now)) === this.self;
  }

  /**
   * This replica, and every peer among `servers` heard from within deadAfterMs. Unlike
   * live(), a peer never heard from is not counted: a node must not be sent to it.
   */
  heardFrom(servers: readonly string[], now: number): string[] {
    return servers.filter((r) => {
      const seen = this.lastSeen.get(r);
      return r === this.self || (seen !== undefined && now - seen < this.deadAfterMs);
    });
  }

  /** The replicas to list in a boot script for image `ref` ("name/version"): heard from, and holding it. */
  holdersOf(ref: string, servers: readonly string[], now: number): string[] {
    return holdersOf(ref, this.self, this.heardFrom(servers, now), this.peerHeld);
  }

  /** Can this replica boot a node of image `image` now: it holds it, or no live peer does. */
  canBoot(image: string, servers: readonly string[], now: number): boolean {
    return this.heldHere.has(image) || !this.live(servers, now).some((r) => r !== this.self && this.peerHeld.get(r)?.has(image));
  }
}
