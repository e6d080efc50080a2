// The page's feed: the hello carries every node's view from the status model, a batch
// only the nodes whose boot changed, and requests that are no boot never reach it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventLog } from '../../pxe/events.js';
import { StatusModel } from '../../pxe/status/model.js';
import { startPageFeed } from '../../pxe/page-feed.js';

const nodes = [
  { name: 'a', mac: '52:54:00:00:00:01', ip: '10.0.0.1', image: 'img' },
  { name: 'b', mac: '52:54:00:00:00:02', ip: '10.0.0.2', image: 'img' },
] as never[];

function feed() {
  const log = new EventLog({ format: 'json', write: () => undefined });
  const model = new StatusModel(() => nodes);
  model.attach(log);
  const f = startPageFeed(model, { nodes: () => nodes, now: Date.now, cluster: () => 'lab', replica: '10.0.0.254' });
  const published: unknown[] = [];
  const publish = f.hub.publish.bind(f.hub);
  f.hub.publish = (e) => void (published.push(e), publish(e));
  return { log, f, published, opts: (f.hub as unknown as { o: { hello: () => { nodes: { name: string; phase: string }[]; phases: unknown[] }; batch: (i: unknown[]) => { nodes: { name: string; phase: string }[] } } }).o };
}

test('hello: every node from the model, with the phases and their labels', () => {
  const { f, opts } = feed();
  const h = opts.hello();
  assert.equal(h.nodes.map((n) => [n.name, n.phase]), [['a', 'unknown'], ['b', 'unknown']]);
  assert.equal(h.phases[2], { phase: 'kernel', label: 'kernel+initrd' });
  f.close();
});

test('batch: the views of the nodes whose boot changed, as the model folded them; page requests and service lines are not published', () => {
  const { log, f, published, opts } = feed();
  log.emit({ kind: 'http', node: 'a', client: '10.0.0.1', path: '/boot/52-54-00-00-00-01.ipxe', status: 200, bytes: 10, ms: 1 });
  log.emit({ kind: 'report', node: 'a', what: 'init' });
  log.emit({ kind: 'http', client: '10.0.0.9', path: '/events', status: 200, bytes: 0, ms: 1000 });
  log.emit({ kind: 'http', node: 'b', client: '10.0.0.2', path: '/page/page.js', status: 200, bytes: 10, ms: 1 });
  log.emit({ kind: 'service', message: 'hello' });
  assert.equal(published, ['a', 'a'], 'only the two events that moved a boot');
  const b = opts.batch(published);
  assert.equal(b.nodes.map((n) => [n.name, n.phase]), [['a', 'init']]);
  f.close();
  log.emit({ kind: 'report', node: 'b', what: 'up' });
  assert.is(published.length, 2, 'nothing after close');
});

test.run();
