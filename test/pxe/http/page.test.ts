// The status page in a real browser: headless Chromium (tools/browser.ts) in the hub
// namespace of a storm topology loads the page from a `diskless serve` in its own
// namespace, and watches a simulated boot storm (tools/storm, playing the initrd too:
// root image, sha256, reports of init and up) without a reload. Every node ends up;
// the node whose root image was corrupted after its build ends red with the
// initrd's message. Screenshots go to test-output/page/ (printed; ignored by git).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { netnsAvailable } from '../../../host/netns.js';
import { watchLines } from '../../../host/output.js';
import { projectRoot } from '../../../lib/paths.js';
import { makeImages } from '../../../tools/images.js';
import { holdNodeAddresses, nodeMac, startStorm, topology } from '../../../tools/storm/netns.js';
import { formatStorm } from '../../../tools/storm/storm.js';
import { chromiumMissing, launchInNetns } from '../../../tools/browser.js';
import { need } from '../../helpers/need.js';

const SUBNET = '10.79.0';
const REPLICA = `${SUBNET}.1`;
const HUB = `${SUBNET}.100`;
const N = 24;
const OUT = process.env.DISKLESS_TEST_OUTPUT ?? join(projectRoot(), 'test-output', 'page');

/** Each node's phase and failed flag as the page shows it now. */
const rows = (page: Page) =>
  page.$$eval('#nodes tbody tr[data-node]', (trs) => trs.map((tr) => ({ name: tr.getAttribute('data-node')!, phase: tr.getAttribute('data-phase')!, failed: tr.classList.contains('failed'), text: tr.textContent ?? '' })));

test('the page follows a storm live: phases move without a reload, every node up, a bad root in red', async () => {
  need(netnsAvailable());
  need(chromiumMissing());
  const work = mkdtempSync(join(tmpdir(), 'dl-page-'));
  const good = makeImages();
  const bad = makeImages({ name: 'broken-image' });
  // The build hashed one root; the replica now serves other bytes of the same size.
  writeFileSync(join(bad.dir, 'root.squashfs'), randomBytes(bad.manifest.artifacts.root!.size));
  const nodes = Array.from({ length: N + 1 }, (_, i) => ({ name: `node${String(i + 1).padStart(2, '0')}`, mac: nodeMac(i), ip: `${SUBNET}.${11 + i}`, image: i === N ? bad.name : good.name }));
  const topo = topology([REPLICA], `${HUB}/24`);
  // Nodes fetch from their own addresses, so the replica knows whose kernel and root each fetch is.
  holdNodeAddresses(topo.hub, nodes.map((n) => n.ip));
  let closeBrowser = async () => {};
  try {
    const images = join(work, 'images');
    mkdirSync(images);
    cpSync(good.root, images, { recursive: true, verbatimSymlinks: true });
    cpSync(bad.root, images, { recursive: true, verbatimSymlinks: true });
    const inv = join(work, 'cluster.yaml');
    writeFileSync(inv, `cluster: pagetest\nnetwork:\n  subnet: ${SUBNET}.0/24\nservers: [${REPLICA}]\nnodes:\n` + nodes.map((n) => `  - { name: ${n.name}, mac: "${n.mac}", ip: ${n.ip}, image: ${n.image} }`).join('\n') + '\n');
    const serve = topo.replicas[0]!.spawn(
      ['node', '--import', 'tsx/esm', join(projectRoot(), 'cli/diskless.ts'), 'serve', '-i', inv, '--images', images, '--address', REPLICA,
        '--no-tftp', '--sync-interval', '0', '--lease-file', join(work, 'leases.json'), '--log-format', 'json', '--http-max-per-client', '1000'],
      { cwd: projectRoot() },
    );
    const log = watchLines(serve);
    await log.waitFor(/serving cluster pagetest/, 30_000, 'diskless serve');

    const b = await launchInNetns(topo.hub);
    closeBrowser = b.close;
    const page = await b.browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && problems.push(`console: ${m.text()}`)));
    page.on('pageerror', (e) => void problems.push(`page error: ${(e as Error).message}`));
    page.on('requestfailed', (r) => void (r.url().endsWith('/events') || problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`)));
    await page.goto(`http://${REPLICA}/`, { waitUntil: 'load' });
    await page.waitForSelector('#link[data-state="live"]', { timeout: 20_000 });
    await page.waitForFunction((n) => document.querySelectorAll('#nodes tbody tr[data-node]').length === n, { timeout: 10_000 }, N + 1);
    assert.ok((await rows(page)).every((r) => r.phase === 'unknown'), 'before the storm no boot is seen');
    // Survives only if the page is never reloaded.
    await page.evaluate(() => ((window as unknown as { loadedOnce: number }).loadedOnce = 42));

    // 0.05: DHCP retransmits at 200 ms instead of 4 s; `up` comes 2.5 s after `init` (the page redraws every second).
    const storm = await startStorm(topo.hub, { transport: 'broadcast', localAddress: HUB, macs: nodes.map((n) => n.mac), concurrency: 6, timeScale: 0.05, httpFromLeased: true, initrd: { rounds: 1, upAfterMs: 2500 } });
    const seen = new Map<string, Set<string>>();
    let finished = false;
    const result = storm.result(120_000).finally(() => (finished = true));
    const watch = async () => {
      for (const r of await rows(page)) {
        if (!seen.has(r.name)) seen.set(r.name, new Set());
        seen.get(r.name)!.add(r.phase);
      }
    };
    while (!finished) {
      await watch();
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await result;
    console.log(formatStorm('storm watched by the page', r));
    const badNode = nodes[N]!;
    await page.waitForFunction(
      (bad) => [...document.querySelectorAll('#nodes tbody tr[data-node]')].every((tr) => (tr.getAttribute('data-node') === bad ? tr.classList.contains('failed') : tr.getAttribute('data-phase') === 'up')),
      { timeout: 15_000 },
      badNode.name,
    );
    await watch();

    const final = await rows(page);
    for (const row of final.filter((x) => x.name !== badNode.name)) assert.is(row.phase, 'up', `${row.name} is up on the page`);
    const red = final.find((x) => x.name === badNode.name)!;
    assert.ok(red.failed, `${badNode.name} is marked failed`);
    assert.match(red.text, /sha256 mismatch/, 'its row says why');
    const colour = await page.$eval(`tr[data-node="${badNode.name}"] .failure`, (el) => getComputedStyle(el).color);
    assert.is(colour, 'rgb(192, 38, 45)', 'the message is red');
    const between = new Set([...seen.values()].flatMap((s) => [...s].filter((p) => p !== 'unknown' && p !== 'up')));
    console.log(`  phases the page showed between unknown and up: ${[...between].join(', ')}`);
    assert.ok(between.has('init'), 'nodes were seen in init before up');
    assert.ok(between.size >= 2, `nodes were seen in several phases on the way (${[...between].join(', ')})`);
    assert.is(await page.evaluate(() => (window as unknown as { loadedOnce?: number }).loadedOnce), 42, 'the page was not reloaded');
    // The timeline is redrawn at most every few seconds: it catches up.
    await page.waitForFunction((n) => document.querySelectorAll('#timeline svg g[data-node]').length === n && document.querySelector('#timeline svg .seg-failed'), { timeout: 15_000, polling: 200 }, N + 1).catch(() => undefined);
    assert.is(await page.$$eval('#timeline svg g[data-node]', (g) => g.length), N + 1, 'one timeline bar per node of the storm');
    assert.ok(await page.$('#timeline svg .seg-failed'), 'the bad root shows on the timeline');
    assert.is(r.failed, 1, 'the simulated storm lost only the bad node');
    assert.match(r.clients[N]!.error ?? '', /good root image/);

    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, 'page.png'), fullPage: true });
    await (await page.$('#timeline-section'))!.screenshot({ path: join(OUT, 'timeline.png') });
    console.log(`  screenshots: ${join(OUT, 'page.png')}, ${join(OUT, 'timeline.png')}`);
    assert.equal(problems, [], 'no console errors, page errors or failed requests');
    assert.ok(readFileSync(join(OUT, 'timeline.png')).length > 1000);
  } finally {
    await closeBrowser();
    await topo.destroy();
    rmSync(work, { recursive: true, force: true });
    rmSync(good.root, { recursive: true, force: true });
    rmSync(bad.root, { recursive: true, force: true });
  }
});

test.run();
