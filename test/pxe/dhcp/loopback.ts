// Loopback set-up for server tests: an inventory on 127.0.0.0/8 and a socket
// factory that refuses to send anywhere but loopback, whatever the policy decides.
import dgram from 'node:dgram';
import { parseInventory, type Inventory } from '../../../cluster/inventory.js';

export function loopbackInventory(opts: { pool?: boolean; nodes?: number } = {}): Inventory {
  const nodes = Array.from({ length: opts.nodes ?? 16 }, (_, i) => `  - { name: n${i}, mac: "02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}", ip: 127.0.1.${i + 1} }`);
  return parseInventory(
    `cluster: lo
network:
  subnet: 127.0.0.0/8
  leaseTime: 600${opts.pool ? '\n  pool: { start: 127.0.2.1, end: 127.0.2.40 }' : ''}
  relays: [127.0.0.1]
servers: [127.0.0.1]
defaults: { image: x }
nodes:
${nodes.join('\n')}
`,
    'lo.yaml',
  );
}

export const nodeMac = (i: number) => `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

/** A UDP socket whose send() drops (and counts) anything not addressed to 127.0.0.0/8. */
export function guardedSocket(counter: { blocked: number }): () => dgram.Socket {
  return () => {
    const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    const real = s.send.bind(s) as (...a: unknown[]) => void;
    (s as unknown as { send: (...a: unknown[]) => void }).send = (...args: unknown[]) => {
      const addr = args.find((a, i) => i > 0 && typeof a === 'string') as string | undefined;
      if (!addr || !addr.startsWith('127.')) {
        counter.blocked++;
        const cb = args.at(-1);
        if (typeof cb === 'function') (cb as (e: Error | null) => void)(null);
        return;
      }
      real(...args);
    };
    return s;
  };
}

/** A free UDP port on 127.0.0.1 (bound and released). */
export async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind({ address: '127.0.0.1', port: 0 }, () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}
