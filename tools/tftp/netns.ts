// Start our TFTP server (serve.ts) inside a namespace and follow its events.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Netns } from '../../host/netns.js';
import type { TftpEvent, TftpServerOptions } from '../../pxe/tftp/server.js';

const script = join(import.meta.dirname, 'serve.ts');
const projectDir = join(import.meta.dirname, '../..');

export interface NsServer {
  port: number;
  child: ChildProcess;
  events: TftpEvent[];
  output: () => string;
  waitEvent(pred: (e: TftpEvent) => boolean, waitMs?: number): Promise<TftpEvent>;
}

/** `nodeArgs` go to node itself (e.g. --cpu-prof); `wrap` is put before node (e.g. taskset -c 0). */
export async function startInNetns(ns: Netns, opts: Omit<TftpServerOptions, 'log' | 'onEvent' | 'createSocket' | 'clock' | 'generate'>, nodeArgs: string[] = [], wrap: string[] = []): Promise<NsServer> {
  const child = ns.spawn([...wrap, process.execPath, ...nodeArgs, '--import', 'tsx/esm', script, JSON.stringify(opts)], { cwd: projectDir, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: TftpEvent[] = [];
  let text = '';
  let pending = '';
  let port: number | undefined;
  child.stdout?.on('data', (c: Buffer) => {
    pending += c.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const l of lines) {
      if (l.startsWith('EVENT ')) events.push(JSON.parse(l.slice(6)) as TftpEvent);
      else if (l.startsWith('LISTENING ')) port = Number(l.slice(10));
      else text += `${l}\n`;
    }
  });
  child.stderr?.on('data', (c: Buffer) => (text += c.toString()));
  const deadline = Date.now() + 30_000;
  while (port === undefined) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start: ${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    child,
    events,
    output: () => text,
    async waitEvent(pred, waitMs = 30_000) {
      const end = Date.now() + waitMs;
      for (;;) {
        const e = events.find(pred);
        if (e) return e;
        if (Date.now() > end) throw new Error(`no matching event; got ${JSON.stringify(events)}\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
