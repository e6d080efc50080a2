// What a simulated node does after iPXE's `boot`, as the initrd's /init would
// (overlays/initrd/root.sh) and then the booted image: read diskless.image= and
// diskless.servers= from the kernel command line, fetch the root image from each
// replica in turn until its sha256 is the one built into the initrd (here: the
// manifest's, which is what the build put there), then report to the replica
// (GET /report/<mac>/<what>, pxe/status/report.ts): each refusal (`sha256`), `init`
// once the root is good, and `up` a moment later. Timings and failures are recorded.
import { get } from './client.js';

export interface InitrdOptions {
  mac: string;
  cmdline: string;
  timeoutMs: number;
  localAddress?: string;
  /** Rounds through the replicas before giving up (the real /init tries for ever). */
  rounds?: number;
  /** From `init` to `up` (ms): the image's own start. */
  upAfterMs?: number;
  /** Pause between rounds (ms). */
  retryMs?: number;
}

export interface InitrdResult {
  ok: boolean;
  error?: string;
  rootMs?: number;
  /** Reports the replica did not take (not a 200). */
  reportErrors: number;
  errors: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `diskless.name=`, `.image=` (name/version) and `.servers=` of a kernel command line. */
export function bootArgs(cmdline: string): { image?: string; servers: string[] } {
  const arg = (k: string) => cmdline.split(/\s+/).find((a) => a.startsWith(`diskless.${k}=`))?.slice(k.length + 10);
  return { image: arg('image'), servers: (arg('servers') ?? '').split(',').filter(Boolean) };
}

export async function playInitrd(o: InitrdOptions): Promise<InitrdResult> {
  const r: InitrdResult = { ok: false, reportErrors: 0, errors: [] };
  const { image, servers } = bootArgs(o.cmdline);
  if (!image || servers.length === 0) {
    r.error = `no diskless.image= or diskless.servers= on the command line: ${o.cmdline}`;
    return r;
  }
  const macPath = o.mac.replace(/:/g, '-');
  const report = async (server: string, what: string, msg?: string) => {
    const url = `http://${server}/report/${macPath}/${what}${msg ? `?msg=${encodeURIComponent(msg)}` : ''}`;
    await get(url, o.timeoutMs, o.localAddress).catch(() => void r.reportErrors++);
  };
  const t0 = performance.now();
  for (let round = 0; round < (o.rounds ?? 2); round++) {
    if (round > 0) await sleep(o.retryMs ?? 0);
    for (const server of servers) {
      const base = `http://${server}/images/${image}`;
      try {
        const manifest = JSON.parse((await get(`${base}/manifest.json`, o.timeoutMs, o.localAddress, true)).body!.toString('utf8')) as { artifacts: Record<string, { file: string; sha256: string }> };
        const root = manifest.artifacts.root;
        if (!root) throw new Error(`${base}/manifest.json has no root artifact`);
        const got = await get(`${base}/${root.file}`, o.timeoutMs, o.localAddress);
        if (got.sha256 !== root.sha256) {
          const msg = `sha256 mismatch for ${base}/${root.file}: refused, it is ${got.sha256}, not the ${root.sha256} built into this initrd`;
          r.errors.push(msg);
          await report(server, 'sha256', msg);
          continue;
        }
        r.rootMs = performance.now() - t0;
        await report(server, 'init');
        await sleep(o.upAfterMs ?? 0);
        await report(server, 'up');
        r.ok = true;
        return r;
      } catch (err) {
        r.errors.push((err as Error).message);
        await report(server, 'fetch', (err as Error).message);
      }
    }
  }
  r.error = `could not get a good root image from: ${servers.join(', ')}`;
  return r;
}
