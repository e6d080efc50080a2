// The kernel command line of a VC node: the image's line, then the initrd's
// parameters (image, name, root and scratch disks by serial, static address).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { vmCmdline } from '../../vc/ops/cmdline.js';

test('a node on an isolated network: no gateway, its scratch disk by serial', () => {
  assert.is(
    vmCmdline({ base: 'console=ttyS0,115200 quiet', scratch: 'disk', ip: '10.213.0.2', prefix: 24, image: 'deb/1', hostname: 'lab-1' }),
    'console=ttyS0,115200 quiet diskless.image=deb/1 diskless.name=lab-1 diskless.rootdev=serial:root diskless.scratch=serial:scratch diskless.ip=10.213.0.2/24',
  );
});

test('with a gateway, the upper layer in RAM, and extra arguments last', () => {
  assert.is(
    vmCmdline({ base: '  ', scratch: 'ram', ip: '10.50.0.3', prefix: 28, image: 'deb/1', gateway: '10.50.0.1', hostname: 'web-2', append: ' diskless.selftest=1 ' }),
    'diskless.image=deb/1 diskless.name=web-2 diskless.rootdev=serial:root diskless.scratch=ram diskless.ip=10.50.0.3/28,10.50.0.1 diskless.selftest=1',
  );
});

test.run();
