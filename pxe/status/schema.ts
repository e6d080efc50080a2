// The cluster view as JSON (GET /cluster, `diskless status --json`): its one schema,
// zod, from which the types come. Replicas validate a peer's answer with it, and
// `clusterJsonSchema()` publishes it as JSON Schema (`diskless status --schema`).
import { z } from 'zod';
import { FAILURE_KINDS, PHASES } from './phases.js';

const iso = z.string().describe('ISO 8601 time');

export const PhaseSpanSchema = z.object({
  phase: z.enum(PHASES),
  at: iso,
  /** How long the phase lasted (to the next one, or to the view's time while under way). */
  ms: z.number().nonnegative(),
});

export const FailureSchema = z.object({
  kind: z.enum(FAILURE_KINDS),
  at: iso,
  message: z.string(),
  /** The replica that saw it, in a view merged from several. */
  replica: z.string().optional(),
});

export const BootSchema = z.object({
  startedAt: iso,
  upAt: iso.optional(),
  /** From the first phase seen to up, or to the view's time while under way. */
  ms: z.number().nonnegative(),
  phases: z.array(PhaseSpanSchema),
});

export const NodeViewSchema = z.object({
  name: z.string(),
  mac: z.string(),
  ip: z.string(),
  image: z.string(),
  /** The furthest phase of the boot under way (or last seen); `unknown`: no boot seen. */
  phase: z.enum([...PHASES, 'unknown']),
  /** When that phase began. */
  since: iso.optional(),
  /** A failure came after the last phase reached: the node is stuck or retrying. */
  failed: z.boolean(),
  boot: BootSchema.optional(),
  failures: z.array(FailureSchema),
  /** The last boot that reached `up`. */
  lastBoot: BootSchema.optional(),
  /** The replica whose events this is (in a merged view). */
  seenBy: z.string().optional(),
});

export const ReplicaViewSchema = z.object({
  address: z.string(),
  self: z.boolean(),
  live: z.boolean(),
  /** When it last answered a heartbeat (this replica: the view's time). */
  lastHeartbeat: iso.optional(),
  inventoryVersion: z.number().optional(),
  /** "name/version" of every image version it holds, by its last /status. */
  images: z.array(z.string()),
  /** Share of the DHCP pool addresses it owns now (0..1). */
  poolShare: z.number().min(0).max(1),
  /** Share of the reserved nodes whose first DHCP answer is its (0..1). */
  nodeShare: z.number().min(0).max(1),
});

export const ImageViewSchema = z.object({
  name: z.string(),
  version: z.string(),
  current: z.boolean(),
  /** Bytes of its artifacts, when this replica holds it. */
  size: z.number().nonnegative().optional(),
  builtAt: z.string().optional(),
  /** Addresses of the replicas that hold it. */
  replicas: z.array(z.string()),
  /** How many inventory nodes boot it. */
  nodes: z.number().int().nonnegative(),
});

export const VmViewSchema = z.object({ name: z.string(), host: z.string().optional(), state: z.string() });
export const VcViewSchema = z.object({ name: z.string(), state: z.string().optional(), vms: z.array(VmViewSchema) });

export const ClusterViewSchema = z.object({
  cluster: z.string(),
  /** The replica that made the view. */
  replica: z.string(),
  generatedAt: iso,
  deadAfterSeconds: z.number().positive(),
  inventory: z.object({ version: z.number(), hash: z.string() }),
  nodes: z.array(NodeViewSchema),
  replicas: z.array(ReplicaViewSchema),
  images: z.array(ImageViewSchema),
  /** Virtual clusters, when this replica's host has the VC store. */
  vcs: z.array(VcViewSchema).optional(),
});

export type PhaseSpanView = z.infer<typeof PhaseSpanSchema>;
export type FailureView = z.infer<typeof FailureSchema>;
export type BootView = z.infer<typeof BootSchema>;
export type NodeView = z.infer<typeof NodeViewSchema>;
export type ReplicaView = z.infer<typeof ReplicaViewSchema>;
export type ImageView = z.infer<typeof ImageViewSchema>;
export type VcView = z.infer<typeof VcViewSchema>;
export type ClusterView = z.infer<typeof ClusterViewSchema>;

/** The JSON Schema of the cluster view, for tools that do not speak zod. */
export function clusterJsonSchema(): object {
  return z.toJSONSchema(ClusterViewSchema);
}
