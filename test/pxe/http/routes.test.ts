import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cacheControl, route } from '../../../pxe/http/routes.js';

test('boot scripts by MAC in any spelling', () => {
  assert.equal(route('/boot/52-54-00-77-00-01.ipxe'), { kind: 'boot-script', mac: '52:54:00:77:00:01', format: 'ipxe' });
  assert.equal(route('/boot/52:54:00:77:00:01.grub.cfg'), { kind: 'boot-script', mac: '52:54:00:77:00:01', format: 'grub' });
  assert.is(route('/boot/not-a-mac.ipxe').kind, 'not-found');
});

test('artifacts and iPXE binaries', () => {
  assert.equal(route('/images/debian-bookworm-amd64/20260101-000000/root.squashfs?x=1'), {
    kind: 'artifact', image: 'debian-bookworm-amd64', version: '20260101-000000', file: 'root.squashfs',
  });
  assert.equal(route('/images/a/v1/root.squashfs.sha256'), { kind: 'artifact-sha256', image: 'a', version: 'v1', file: 'root.squashfs' });
  assert.equal(route('/ipxe/undionly.kpxe'), { kind: 'ipxe-binary', file: 'undionly.kpxe' });
  assert.equal(route('/status'), { kind: 'status' });
});

test('traversal, encoded traversal, NULs and junk are refused', () => {
  for (const p of ['/images/../../etc/passwd', '/images/a/b/..%2F..%2Fetc', '/images/a/%2e%2e/passwd', '/ipxe/..', '/ipxe/a%00b', '/%E0%A4%A', '/images/a/b', '/boot/', '/page/', '/page/a/b', '/page/..%2Fpage.js', '/page/.hidden', '/events/x']) {
    assert.is(route(p).kind, 'not-found', p);
  }
});

test('the status page: / is its index, /page/<file> its files, /events its stream', () => {
  assert.equal(route('/'), { kind: 'page', file: 'index.html' });
  assert.equal(route('/page/page.js?v=1'), { kind: 'page', file: 'page.js' });
  assert.equal(route('/events'), { kind: 'events' });
  assert.equal(route('/cluster'), { kind: 'cluster', local: false, nodes: true });
  assert.equal(route('/cluster?local=1'), { kind: 'cluster', local: true, nodes: true });
  assert.equal(route('/cluster?nodes=0&local=1'), { kind: 'cluster', local: true, nodes: false });
  assert.equal(route('/cluster?nodes=01'), { kind: 'cluster', local: false, nodes: true });
});

test('manifest.json.sha256 is no route (never the manifest); manifest.json and manifest.json.sig stay files', () => {
  assert.is(route('/images/a/v1/manifest.json.sha256').kind, 'not-found');
  assert.is(route('/images/a/current/manifest.json.sha256').kind, 'not-found');
  assert.equal(route('/images/a/v1/manifest.json'), { kind: 'artifact', image: 'a', version: 'v1', file: 'manifest.json' });
  assert.equal(route('/images/a/v1/manifest.json.sig'), { kind: 'artifact', image: 'a', version: 'v1', file: 'manifest.json.sig' });
});

test('immutable caching only for artifacts under a version path; current/ and the rest are revalidated', () => {
  const immutable = 'public, max-age=31536000, immutable';
  assert.is(cacheControl(route('/images/a/20260101-000000/vmlinuz'), true), immutable);
  assert.is(cacheControl(route('/images/a/current/vmlinuz'), true), 'no-cache');
  assert.is(cacheControl(route('/images/a/20260101-000000/manifest.json'), false), 'no-cache');
  assert.is(cacheControl(route('/ipxe/undionly.kpxe'), false), 'no-cache');
});

test.run();
