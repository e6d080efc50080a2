// /metrics of one replica, in Prometheus text format (prom-client, a Registry of its
// own so several services live in one process). Counters follow the boot events
// (observe(), subscribed to the EventLog) and the sync rounds (syncRound()); what no
// event says (malformed DHCP packets, refused connections, replica liveness) is read
// from the servers and the membership at each scrape (sources).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BootEvent } from '../events.js';
import type { DhcpStats } from '../dhcp/server.js';
import type { DhcpEventType } from '../dhcp/policy.js';
import type { SyncReport } from '../replica/sync.js';
import type { NodeBootState } from '../status/nodes.js';
import { classify, FAILURE_KINDS, PHASES } from '../status/phases.js';
import { countStep } from './boots.js';
import { httpErrorClass, httpRoute, tftpErrorKind, TFTP_ERROR_KINDS } from './kinds.js';

const DHCP_OUTCOMES: DhcpEventType[] = ['offer', 'ack', 'nak', 'release', 'decline', 'conflict', 'inform', 'ignored'];

export interface ReplicaLiveness {
  /** The replica's address. */
  replica: string;
  live: boolean;
  /** Seconds since it last answered a heartbeat; undefined if never (or for this replica). */
  silentFor?: number;
}

/** What the scrape reads from the running service; each may be missing (a server not started). */
export interface MetricSources {
  dhcp?: () => DhcpStats | undefined;
  http?: () => { open: number; refused: number } | undefined;
  tftp?: () => { activeTransfers: number; evictions: number } | undefined;
  replicas?: () => ReplicaLiveness[];
  inventoryVersion?: () => number;
}

const P = 'diskless_';

/** Seconds: a DHCP exchange takes milliseconds, a root image to 200 nodes at once minutes. */
const PHASE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];
const BOOT_BUCKETS = [1, 2.5, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200];

type Reader<T> = () => T | undefined;

/** A counter whose value is read at scrape time from a total kept elsewhere. */
function readCounter(reg: Registry, name: string, help: string, read: Reader<number>): void {
  new Counter({
    name, help, registers: [reg],
    collect() {
      this.reset();
      const v = read();
      if (v !== undefined) this.inc(v);
    },
  });
}

function readGauge(reg: Registry, name: string, help: string, read: Reader<number>): void {
  new Gauge({
    name, help, registers: [reg],
    collect() {
      this.reset();
      const v = read();
      if (v !== undefined) this.set(v);
    },
  });
}

export class ServiceMetrics {
  readonly registry = new Registry();
  private sources: MetricSources = {};
  private readonly c;
  private readonly b;
  /** Each inventory node's boot, folded as the status model folds it. */
  private readonly nodes = new Map<string, NodeBootState>();

  constructor() {
    const reg = this.registry;
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) => new Counter<L>({ name: P + name, help, labelNames, registers: [reg] });
    this.c = {
      dhcp: counter('dhcp_requests_total', 'DHCP requests by what this replica did: offer, ack, nak, release, decline, conflict, inform, ignored', ['outcome']),
      tftpTransfers: counter('tftp_transfers_total', 'TFTP read requests by how they ended: done or error', ['status']),
      tftpErrors: counter('tftp_errors_total', 'failed TFTP transfers by kind: not_found, access, timeout, client_abort, too_long, evicted, shutdown, io, other', ['kind']),
      tftpBytes: counter('tftp_sent_bytes_total', 'bytes sent over TFTP'),
      http: counter('http_requests_total', 'HTTP requests by route (boot-script, artifact, artifact-sha256, ipxe-binary, status, metrics, inventory, inventory-sig, report, cluster, not-found) and status code', ['route', 'code']),
      httpErrors: counter('http_errors_total', 'HTTP requests answered with an error, by route and class (4xx, 5xx)', ['route', 'class']),
      httpBytes: counter('http_sent_bytes_total', 'body bytes sent over HTTP, by route', ['route']),
      syncRounds: counter('sync_rounds_total', 'rounds of pulling from the other replicas, by result (ok, failed)', ['result']),
      syncPulls: counter('sync_pulls_total', 'image versions pulled from another replica, every artifact verified'),
      syncRefusals: counter('sync_refusals_total', 'image versions or inventories a replica offered and this one did not take (failed check, signature or download)', ['what']),
      syncAdopted: counter('sync_inventory_adopted_total', 'newer inventories adopted from another replica'),
      syncConflicts: counter('sync_inventory_conflicts_total', 'rounds that found another inventory with the same version'),
      syncUnreachable: counter('sync_unreachable_total', 'replicas that did not answer a sync round, one per replica per round'),
      syncPruned: counter('sync_pruned_total', 'image versions removed by the retention rule'),
    };
    this.b = {
      started: counter('boots_started_total', 'boots whose start this replica saw (a DHCP exchange or a loader, kernel or root fetch that begins a boot)'),
      finished: counter('boots_finished_total', 'boots that reached up (the node said so)'),
      failed: counter('boots_failed_total', 'boots with at least one failure (counted at the first; such a boot may still come up)'),
      failures: counter('boot_failures_total', 'failures on the way, by kind: sha256, fetch, retry (the node said so), http, tftp, dhcp', ['kind']),
      phase: new Histogram({
        name: `${P}boot_phase_seconds`, help: 'how long each boot phase lasted (dhcp, loader, kernel, root, init), to the next phase this replica saw',
        labelNames: ['phase'], buckets: PHASE_BUCKETS, registers: [reg],
      }),
      boot: new Histogram({ name: `${P}boot_seconds`, help: 'boots from their first phase to up', buckets: BOOT_BUCKETS, registers: [reg] }),
    };
    for (const kind of FAILURE_KINDS) this.b.failures.inc({ kind }, 0);
    for (const phase of PHASES.filter((p) => p !== 'up')) this.b.phase.zero({ phase });
    // Known label values start at 0, so a rate over them works before the first one happens.
    for (const outcome of DHCP_OUTCOMES) this.c.dhcp.inc({ outcome }, 0);
    for (const status of ['done', 'error']) this.c.tftpTransfers.inc({ status }, 0);
    for (const kind of TFTP_ERROR_KINDS) this.c.tftpErrors.inc({ kind }, 0);
    for (const result of ['ok', 'failed']) this.c.syncRounds.inc({ result }, 0);
    for (const what of ['image', 'inventory']) this.c.syncRefusals.inc({ what }, 0);
    this.dhcpErrors();
    readCounter(reg, `${P}http_connections_refused_total`, 'HTTP connections refused by the per-client cap', () => this.sources.http?.()?.refused);
    readGauge(reg, `${P}http_connections_open`, 'HTTP connections open now', () => this.sources.http?.()?.open);
    readGauge(reg, `${P}tftp_transfers_active`, 'TFTP transfers running now', () => this.sources.tftp?.()?.activeTransfers);
    readCounter(reg, `${P}tftp_evictions_total`, 'unacknowledged TFTP transfers ended to make room for a new request', () => this.sources.tftp?.()?.evictions);
    readGauge(reg, `${P}inventory_version`, 'the version: of the inventory in service', () => this.sources.inventoryVersion?.());
    this.liveness();
  }

  /** Where the scrape reads what no event says; given once the servers are up. */
  watch(sources: MetricSources): void {
    this.sources = sources;
  }

  observe(e: BootEvent): void {
    this.boot(e);
    const c = this.c;
    switch (e.kind) {
      case 'dhcp':
        c.dhcp.inc({ outcome: e.type });
        return;
      case 'tftp':
        c.tftpTransfers.inc({ status: e.status });
        c.tftpBytes.inc(e.bytes);
        if (e.status === 'error') c.tftpErrors.inc({ kind: tftpErrorKind(e.error) });
        return;
      case 'http': {
        const route = httpRoute(e.path);
        c.http.inc({ route, code: String(e.status) });
        c.httpBytes.inc({ route }, e.bytes);
        const cls = httpErrorClass(e.status);
        if (cls) c.httpErrors.inc({ route, class: cls });
        return;
      }
      case 'service':
        return;
    }
  }

  /** A step of an inventory node's boot. */
  private boot(e: BootEvent): void {
    const step = e.node ? classify(e) : undefined;
    if (!step) return;
    const n = countStep(this.nodes.get(e.node!) ?? {}, step);
    this.nodes.set(e.node!, n.after);
    const b = this.b;
    if (n.started) b.started.inc();
    if (n.phaseDone) b.phase.observe({ phase: n.phaseDone.phase }, n.phaseDone.seconds);
    if (n.finished) {
      b.finished.inc();
      if (n.finished.seconds !== undefined) b.boot.observe(n.finished.seconds);
    }
    if (n.failure) {
      b.failures.inc({ kind: n.failure.kind });
      if (n.failure.first) b.failed.inc();
    }
  }

  /** Forget nodes no longer in the inventory. */
  retainNodes(names: ReadonlySet<string>): void {
    for (const n of this.nodes.keys()) if (!names.has(n)) this.nodes.delete(n);
  }

  /** One sync round's report, or its failure. */
  syncRound(r: SyncReport | Error): void {
    const c = this.c;
    if (r instanceof Error) {
      c.syncRounds.inc({ result: 'failed' });
      return;
    }
    c.syncRounds.inc({ result: 'ok' });
    c.syncPulls.inc(r.pulled.length);
    for (const f of r.refusals) c.syncRefusals.inc({ what: f.what });
    if (r.inventory === 'adopted') c.syncAdopted.inc();
    if (r.inventory === 'conflict') c.syncConflicts.inc();
    c.syncUnreachable.inc(r.unreachable.length);
    c.syncPruned.inc(r.pruned.length);
  }

  /** The text to serve, and its Content-Type. */
  async render(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  /** Dropped packets the DHCP server counts itself (no boot event says them). */
  private dhcpErrors(): void {
    const sources = () => this.sources;
    readCounter(this.registry, `${P}dhcp_packets_received_total`, 'DHCP packets received', () => sources().dhcp?.()?.received);
    new Counter({
      name: `${P}dhcp_errors_total`,
      help: 'DHCP packets dropped or not answered, by kind: malformed (with the reason), rate_limited (mac, source), policy_error, send_error, unsendable',
      labelNames: ['kind', 'reason'],
      registers: [this.registry],
      collect() {
        this.reset();
        const s = sources().dhcp?.();
        if (!s) return;
        for (const [reason, n] of Object.entries(s.malformedBy)) this.inc({ kind: 'malformed', reason }, n);
        this.inc({ kind: 'rate_limited', reason: 'mac' }, s.limited.mac);
        this.inc({ kind: 'rate_limited', reason: 'source' }, s.limited.source);
        this.inc({ kind: 'policy_error' }, s.policyErrors);
        this.inc({ kind: 'send_error' }, s.sendErrors);
        this.inc({ kind: 'unsendable' }, s.unsendable);
      },
    });
  }

  /** Each replica of the inventory: live or not, and how long since it answered. */
  private liveness(): void {
    const read = () => this.sources.replicas?.() ?? [];
    new Gauge({
      name: `${P}replica_up`, help: 'replicas of the inventory this one counts as live (1) or dead (0); itself always 1', labelNames: ['replica'], registers: [this.registry],
      collect() {
        this.reset();
        for (const r of read()) this.set({ replica: r.replica }, r.live ? 1 : 0);
      },
    });
    new Gauge({
      name: `${P}replica_silent_seconds`, help: 'seconds since each other replica last answered a heartbeat (absent: never)', labelNames: ['replica'], registers: [this.registry],
      collect() {
        this.reset();
        for (const r of read()) if (r.silentFor !== undefined) this.set({ replica: r.replica }, r.silentFor);
      },
    });
  }
}
