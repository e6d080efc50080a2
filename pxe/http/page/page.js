// The status page's script. No build step, no library. The replica's status model
// does the thinking (pxe/status): /events sends its node views as they change, and
// /cluster its whole view (replicas, images, virtual clusters, every replica's nodes).
// This keeps the freshest view of each node and draws only what changed: a storm of
// 500 nodes redraws the rows that moved, at most every RENDER_MS, and the timeline (a
// picture of the whole storm) at most every TIMELINE_MS, so a page costs its machine
// little however fast the events come.
'use strict';

const RENDER_MS = 1000;
const TIMELINE_MS = 3000;
// Nodes come live over /events; /cluster (replicas, images, peers' views) is a whole view
// made per request, so it is asked for seldom, not while the page is hidden, and without
// the nodes when this replica is the only live one (then /events has them all).
const CLUSTER_EVERY_MS = 10_000;
/** Boots that start within this of each other are one storm (the timeline shows the last). */
const STORM_GAP_MS = 60_000;

const state = {
  nodes: new Map(), // name -> NodeView
  sigs: new Map(), // name -> the view as JSON, to tell a change from a repeat
  dirty: new Set(), // names whose row must be redrawn
  order: [], // inventory order
  phases: ['dhcp', 'loader', 'kernel', 'root', 'init', 'up'],
  labels: { dhcp: 'DHCP', loader: 'loader', kernel: 'kernel+initrd', root: 'root image', init: 'init', up: 'up', unknown: 'no boot seen' },
  cluster: undefined,
  clusterDirty: false,
  timelineDirty: false,
  rows: new Map(), // name -> <tr>
};

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const ms = (v) => (v === undefined ? '' : v < 1000 ? `${Math.round(v)} ms` : v < 120_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v / 60_000)} min`);
const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '');
const bytes = (n) => (n === undefined ? '' : n < 1 << 20 ? `${(n / 1024).toFixed(0)} KiB` : n < 1 << 30 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / (1 << 30)).toFixed(2)} GiB`);
const pct = (x) => `${Math.round(x * 100)}%`;
const collator = new Intl.Collator(undefined, { numeric: true });

/** The latest thing a view says happened to its node (ms), to keep the freshest of two views. */
function activity(v) {
  const t = [v.since, v.boot && v.boot.startedAt, v.boot && v.boot.upAt, v.failures.length ? v.failures[v.failures.length - 1].at : undefined];
  return Math.max(-Infinity, ...t.filter(Boolean).map(Date.parse));
}

function take(views, replaceAll) {
  if (replaceAll) state.order = views.map((v) => v.name);
  const known = new Set(state.order);
  for (const v of views) {
    const had = state.nodes.get(v.name);
    if (had && activity(v) < activity(had)) continue;
    const sig = JSON.stringify(v);
    if (state.sigs.get(v.name) === sig) continue;
    state.nodes.set(v.name, v);
    state.sigs.set(v.name, sig);
    state.dirty.add(v.name);
    state.timelineDirty = true;
    if (!known.has(v.name)) {
      state.order.push(v.name);
      known.add(v.name);
    }
  }
  if (replaceAll) {
    for (const n of [...state.nodes.keys()]) {
      if (known.has(n)) continue;
      state.nodes.delete(n);
      state.sigs.delete(n);
      state.dirty.add(n);
      state.timelineDirty = true;
    }
  }
  schedule();
}

let timer;
let last = 0;
let lastTimeline = -Infinity;
function schedule() {
  if (timer) return;
  timer = setTimeout(() => {
    timer = undefined;
    last = performance.now();
    render();
  }, Math.max(0, RENDER_MS - (performance.now() - last)));
}

function phaseRank(v) {
  return v.phase === 'unknown' ? -1 : state.phases.indexOf(v.phase);
}

function sorted(views) {
  const by = $('sort').value;
  const name = (a, b) => collator.compare(a.name, b.name);
  if (by === 'name') return views.sort(name);
  if (by === 'time') return views.sort((a, b) => activity(b) - activity(a) || name(a, b));
  // State: failed first, then the furthest behind, then by name.
  return views.sort((a, b) => Number(b.failed) - Number(a.failed) || phaseRank(a) - phaseRank(b) || name(a, b));
}

function nodeRow(v) {
  const fails = v.failures.slice(-3).map((f) => `<div class="failure">${esc(clock(f.at))} ${esc(f.kind)}: ${esc(f.message)}${f.replica ? ` (${esc(f.replica)})` : ''}</div>`).join('');
  const more = v.failures.length > 3 ? `<div class="empty">and ${v.failures.length - 3} before</div>` : '';
  return `<tr data-node="${esc(v.name)}" data-phase="${esc(v.phase)}"${v.failed ? ' class="failed"' : ''}>` +
    `<td>${esc(v.name)}</td><td>${esc(v.ip)}</td><td>${esc(v.image)}</td>` +
    `<td><span class="phase phase-${esc(v.phase)}">${esc(state.labels[v.phase] ?? v.phase)}${v.failed ? ' ✗' : ''}</span></td>` +
    `<td>${esc(clock(v.since))}</td><td>${v.boot ? esc(ms(v.boot.ms)) : ''}</td><td>${v.lastBoot ? esc(ms(v.lastBoot.ms)) : ''}</td>` +
    `<td class="msg">${fails}${more}</td></tr>`;
}

function rowElement(v) {
  const t = document.createElement('tbody');
  t.innerHTML = nodeRow(v);
  return t.firstElementChild;
}

/** Redraw the rows that changed, then put the rows in the order asked (moving only those out of place). */
function renderNodes(views) {
  for (const name of state.dirty) {
    const v = state.nodes.get(name);
    const old = state.rows.get(name);
    if (!v) {
      old?.remove();
      state.rows.delete(name);
      continue;
    }
    const tr = rowElement(v);
    if (old) old.replaceWith(tr);
    state.rows.set(name, tr);
  }
  state.dirty.clear();
  const q = $('filter').value.trim().toLowerCase();
  const shown = q
    ? views.filter((v) => [v.name, v.ip, v.mac, v.image, v.phase, state.labels[v.phase], v.failed ? 'failed' : '', ...v.failures.map((f) => f.message)].some((s) => String(s ?? '').toLowerCase().includes(q)))
    : views;
  const body = $('nodes').tBodies[0];
  const want = sorted(shown).map((v) => state.rows.get(v.name));
  if (!want.length) {
    body.innerHTML = '<tr><td colspan="8" class="empty">no node matches</td></tr>';
  } else {
    let at = body.firstElementChild;
    for (const tr of want) {
      if (at === tr) at = at.nextElementSibling;
      else body.insertBefore(tr, at);
    }
    while (at) {
      const next = at.nextElementSibling;
      at.remove();
      at = next;
    }
  }
  const count = {};
  for (const v of views) count[v.failed ? 'failed' : v.phase] = (count[v.failed ? 'failed' : v.phase] ?? 0) + 1;
  $('summary').textContent = `${views.length} nodes: ` + [...state.phases, 'unknown', 'failed'].filter((p) => count[p]).map((p) => `${count[p]} ${p === 'failed' ? 'failed' : state.labels[p]}`).join(', ');
}

/** The boots of the last storm: those that started within STORM_GAP_MS of the next. */
function lastStorm(views) {
  const booted = views.filter((v) => v.boot && v.boot.phases.length).sort((a, b) => Date.parse(a.boot.startedAt) - Date.parse(b.boot.startedAt));
  let start = 0;
  for (let i = 1; i < booted.length; i++) {
    if (Date.parse(booted[i].boot.startedAt) - Date.parse(booted[i - 1].boot.startedAt) > STORM_GAP_MS) start = i;
  }
  return booted.slice(start);
}

function renderTimeline(views) {
  const storm = lastStorm(views);
  $('legend').innerHTML = state.phases.map((p) => `<span><i class="seg-${p}"></i>${esc(state.labels[p])}</span>`).join('') + '<span><i class="seg-failed"></i>failure</span>';
  if (!storm.length) {
    $('timeline').innerHTML = '<p class="empty">no boot seen yet</p>';
    $('timeline-caption').textContent = '';
    return;
  }
  const t0 = Date.parse(storm[0].boot.startedAt);
  const end = (v) => Math.max(...v.boot.phases.map((p) => Date.parse(p.at) + p.ms), ...v.failures.map((f) => Date.parse(f.at)));
  const t1 = Math.max(t0 + 1, ...storm.map(end));
  const bar = Math.max(2, Math.min(12, Math.floor(600 / storm.length)));
  const left = bar >= 9 ? 90 : 10;
  const width = 900;
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - 10);
  const rows = storm.map((v, i) => {
    const y = 20 + i * bar;
    const segs = v.boot.phases.map((p) => {
      const a = Date.parse(p.at);
      return `<rect class="seg-${esc(p.phase)}" x="${x(a).toFixed(1)}" y="${y}" width="${Math.max(1, x(a + p.ms) - x(a)).toFixed(1)}" height="${bar - 1}"><title>${esc(v.name)} ${esc(state.labels[p.phase])} ${esc(ms(p.ms))}</title></rect>`;
    });
    const fails = v.failures.filter((f) => Date.parse(f.at) >= t0).map((f) => `<rect class="seg-failed" x="${x(Date.parse(f.at)).toFixed(1)}" y="${y}" width="3" height="${bar - 1}"><title>${esc(v.name)} ${esc(f.message)}</title></rect>`);
    const label = bar >= 9 ? `<text x="2" y="${y + bar - 2}">${esc(v.name)}</text>` : '';
    return `<g data-node="${esc(v.name)}">${label}${segs.join('')}${fails.join('')}</g>`;
  });
  const ticks = [];
  const step = [100, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 300_000].find((s) => (t1 - t0) / s <= 10) ?? 600_000;
  for (let t = 0; t <= t1 - t0; t += step) ticks.push(`<text x="${x(t0 + t).toFixed(1)}" y="12">${esc(ms(t))}</text>`);
  const height = 30 + storm.length * bar;
  $('timeline').innerHTML = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="boot timeline">${ticks.join('')}${rows.join('')}</svg>`;
  $('timeline-caption').textContent = `${storm.length} nodes from ${clock(storm[0].boot.startedAt)}, ${ms(t1 - t0)}`;
}

function renderCluster() {
  const c = state.cluster;
  if (!c) return;
  $('replicas').tBodies[0].innerHTML = c.replicas.map((r) =>
    `<tr data-replica="${esc(r.address)}"><td>${esc(r.address)}${r.self ? ' (this one)' : ''}</td>` +
    `<td class="${r.live ? 'live' : 'dead'}">${r.live ? 'live' : 'dead'}</td><td>${esc(clock(r.lastHeartbeat))}</td>` +
    `<td>${esc(r.inventoryVersion ?? '')}</td><td>${esc(r.images.join(', '))}</td><td>${pct(r.poolShare)}</td><td>${pct(r.nodeShare)}</td></tr>`).join('');
  $('images').tBodies[0].innerHTML = c.images.map((i) =>
    `<tr data-image="${esc(i.name)}/${esc(i.version)}"><td>${esc(i.name)}</td><td>${esc(i.version)}${i.current ? ' <b>current</b>' : ''}</td>` +
    `<td>${esc(bytes(i.size))}</td><td>${esc(i.builtAt ?? '')}</td><td>${i.nodes}</td><td>${esc(i.replicas.join(', '))}</td></tr>`).join('');
  const vcs = c.vcs ?? [];
  $('vcs-section').hidden = vcs.length === 0;
  $('vcs').tBodies[0].innerHTML = vcs.flatMap((vc) => (vc.vms.length ? vc.vms : [{ name: '', state: '' }]).map((vm) =>
    `<tr><td>${esc(vc.name)}</td><td>${esc(vc.state ?? '')}</td><td>${esc(vm.name)}</td><td>${esc(vm.host ?? '')}</td><td>${esc(vm.state)}</td></tr>`)).join('');
}

function render() {
  const views = state.order.map((n) => state.nodes.get(n)).filter(Boolean);
  renderNodes(views);
  // The timeline is the whole storm's picture: drawn again at most every TIMELINE_MS.
  if (state.timelineDirty) {
    const wait = TIMELINE_MS - (performance.now() - lastTimeline);
    if (wait <= 0) {
      state.timelineDirty = false;
      lastTimeline = performance.now();
      renderTimeline(views);
    } else {
      setTimeout(schedule, wait);
    }
  }
  if (state.clusterDirty) {
    state.clusterDirty = false;
    renderCluster();
  }
}

function hello(d) {
  $('cluster').textContent = d.cluster;
  $('replica').textContent = d.replica;
  document.title = `${d.cluster}: diskless`;
  if (d.phases) {
    state.phases = d.phases.map((p) => p.phase);
    for (const p of d.phases) state.labels[p.phase] = p.label;
  }
  take(d.nodes, true);
}

function connect() {
  const link = $('link');
  const es = new EventSource('/events');
  es.addEventListener('hello', (m) => {
    link.dataset.state = 'live';
    link.textContent = 'live';
    hello(JSON.parse(m.data));
  });
  es.addEventListener('batch', (m) => take(JSON.parse(m.data).nodes ?? [], false));
  // EventSource reconnects by itself (the server's retry: field), and gets a fresh hello.
  es.onerror = () => {
    link.dataset.state = 'lost';
    link.textContent = 'reconnecting…';
  };
}

/** Whether this replica is the only live one, so /events has every node there is to see. */
function alone() {
  const c = state.cluster;
  return !!c && c.replicas.filter((r) => r.live).length <= 1;
}

async function pollCluster() {
  if (document.hidden) return void setTimeout(pollCluster, CLUSTER_EVERY_MS);
  try {
    const r = await fetch(alone() ? '/cluster?nodes=0' : '/cluster', { cache: 'no-store' });
    if (r.ok) {
      state.cluster = await r.json();
      state.clusterDirty = true;
      take(state.cluster.nodes ?? [], false);
    }
  } catch {
    // The replica is restarting; the link line says so, the next poll tries again.
  }
  setTimeout(pollCluster, CLUSTER_EVERY_MS);
}

// A filter or sort change puts the rows in place again at the next render.
$('filter').addEventListener('input', schedule);
$('sort').addEventListener('change', schedule);
connect();
void pollCluster();
