// Headless Chromium (Debian's `chromium`) inside a network namespace, driven by
// puppeteer-core over a pipe (--remote-debugging-pipe): a DevTools port would be on
// the namespace's loopback, out of the test's reach, but the pipe's file descriptors
// pass through `ip netns exec`. For the status page's test and bench/storm.ts.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import type { Netns } from '../host/netns.js';

export const CHROMIUM = process.env.DISKLESS_CHROMIUM ?? '/usr/bin/chromium';

/** Why Chromium cannot run here, or undefined. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `no ${CHROMIUM} (apt-get install chromium)`;
}

// As root it needs --no-sandbox; the network is closed, so its background connections
// (updates, sync, QUIC probes) are turned off rather than refused one by one.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--disable-dev-shm-usage',
  '--disable-gpu',
  '--no-first-run',
  '--no-default-browser-check',
  '--mute-audio',
];

export interface NsBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/**
 * Start Chromium in `ns` (its own profile folder, removed on close). `idle`: it only gets
 * CPU nothing else wants, as a browser on another machine would. Two things make that
 * hold: its autogroup at nice 19 (puppeteer starts it in a session of its own, and with
 * kernel.sched_autogroup_enabled each session is one scheduling group that competes
 * with every other at full weight, whatever the policy of the tasks inside), and
 * SCHED_IDLE inside the group (`nice` alone does not hold: as root, Chromium sets its
 * processes' nice values itself, some to -8).
 */
export async function launchInNetns(ns: Pick<Netns, 'name'>, o: { width?: number; height?: number; idle?: boolean } = {}): Promise<NsBrowser> {
  const dir = mkdtempSync(join(tmpdir(), 'dl-chromium-'));
  const wrapper = join(dir, 'chromium-in-netns');
  const lower = o.idle ? '[ -w /proc/self/autogroup ] && echo 19 > /proc/self/autogroup\n' : '';
  writeFileSync(wrapper, `#!/bin/sh\n${lower}exec ${o.idle ? 'chrt --idle 0 ' : ''}ip netns exec ${ns.name} ${CHROMIUM} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const browser = await puppeteer.launch({
    executablePath: wrapper,
    pipe: true,
    headless: true,
    userDataDir: join(dir, 'profile'),
    args: [...CHROMIUM_ARGS, `--window-size=${o.width ?? 1280},${o.height ?? 900}`],
    defaultViewport: { width: o.width ?? 1280, height: o.height ?? 900 },
    timeout: 60_000,
    protocolTimeout: 120_000,
  });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
