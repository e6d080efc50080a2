// `diskless status`: ask one replica for its cluster view (GET /cluster), check it
// against the schema, and print it as tables (cli/status-table.ts) or JSON, once or
// redrawn every --interval seconds (--watch).
import { fetchJson } from '../store/download.js';
import { ClusterViewSchema, clusterJsonSchema, type ClusterView } from '../pxe/status/schema.js';
import { renderStatus, replicaDead } from './status-table.js';

export interface StatusOptions {
  /** host[:port] of a replica's HTTP service. */
  replica: string;
  json: boolean;
  watch: boolean;
  intervalSeconds: number;
  deadAfterSeconds?: number;
  schema: boolean;
}

const TIMEOUT_MS = 10_000;
const MAX_BYTES = 64 << 20;

/** The view of `replica`, validated; an error naming the replica and what to check otherwise. */
export async function fetchView(replica: string): Promise<ClusterView> {
  const url = `http://${replica}/cluster`;
  let body: unknown;
  try {
    body = await fetchJson<unknown>(url, { timeoutMs: TIMEOUT_MS, maxBytes: MAX_BYTES });
  } catch (err) {
    throw new Error(`cannot get the cluster view from ${replica}: ${(err as Error).message} (is diskless serve running there, and is its HTTP port given, --replica HOST:PORT?)`);
  }
  const ok = ClusterViewSchema.safeParse(body);
  if (!ok.success) throw new Error(`${url} is not a diskless cluster view (${ok.error.issues[0]?.path.join('.')}: ${ok.error.issues[0]?.message}); is it a diskless serve of this version?`);
  return ok.data;
}

/** With --dead-after, a replica not heard from for that long is dead in the JSON too. */
export function withDeadAfter(v: ClusterView, deadAfterSeconds: number | undefined): ClusterView {
  if (deadAfterSeconds === undefined) return v;
  const at = Date.parse(v.generatedAt);
  return { ...v, replicas: v.replicas.map((r) => ({ ...r, live: !replicaDead(r, at, deadAfterSeconds) })) };
}

function frame(v: ClusterView, o: StatusOptions, tty: boolean): string {
  if (o.json) return `${JSON.stringify(withDeadAfter(v, o.deadAfterSeconds), null, 2)}\n`;
  const rows = process.stdout.rows ?? 0;
  return renderStatus(v, Date.parse(v.generatedAt), {
    color: tty && !process.env.NO_COLOR,
    deadAfterSeconds: o.deadAfterSeconds,
    // Redrawn on a terminal: the nodes that fit, failing and booting first.
    maxNodes: o.watch && tty && rows ? Math.max(5, rows - 24) : 0,
  });
}

export async function runStatus(o: StatusOptions): Promise<void> {
  if (o.schema) {
    process.stdout.write(`${JSON.stringify(clusterJsonSchema(), null, 2)}\n`);
    return;
  }
  const tty = !!process.stdout.isTTY;
  if (!o.watch) {
    process.stdout.write(frame(await fetchView(o.replica), o, tty));
    return;
  }
  for (;;) {
    let text: string;
    try {
      text = frame(await fetchView(o.replica), o, tty);
    } catch (err) {
      text = `${new Date().toISOString()} ${(err as Error).message}\n`;
    }
    // A terminal is redrawn in place; a pipe gets one frame after another.
    process.stdout.write(tty ? `\x1b[H\x1b[2J${text}` : `${text}\n`);
    await new Promise((r) => setTimeout(r, o.intervalSeconds * 1000));
  }
}
