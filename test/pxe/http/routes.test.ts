import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { route } from '../../../pxe/http/routes.js';

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
  for (const p of ['/images/../../etc/passwd', '/images/a/b/..%2F..%2Fetc', '/images/a/%2e%2e/passwd', '/ipxe/..', '/ipxe/a%00b', '/%E0%A4%A', '/images/a/b', '/', '/boot/']) {
    assert.is(route(p).kind, 'not-found', p);
  }
});

test.run();
