// The kernel command line of a VC node: the image's line, the initrd's disk
// parameters, the static address (kernel ip=) and the hostname.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { vmCmdline } from '../../vc/ops/cmdline.js';

test('a node on an isolated network: no gateway in ip=, its scratch disk by serial', () => {
  assert.is(
    vmCmdline({ base: 'console=ttyS0,115200 quiet', scratch: 'disk', ip: '10.213.0.2', netmask: '255.255.255.0', prefix: 24, image: 'deb/1', hostname: 'lab-1' }),
    'console=ttyS0,115200 quiet diskless.rootdev=serial:root diskless.scratch=serial:scratch ip=10.213.0.2:::255.255.255.0:lab-1:eth0:none diskless.hostname=lab-1',
  );
});

test('with a gateway and the upper layer in RAM', () => {
  assert.is(
    vmCmdline({ base: '  ', scratch: 'ram', ip: '10.50.0.3', netmask: '255.255.255.240', prefix: 28, image: 'deb/1', gateway: '10.50.0.1', hostname: 'web-2' }),
    'diskless.rootdev=serial:root diskless.scratch=ram ip=10.50.0.3::10.50.0.1:255.255.255.240:web-2:eth0:none diskless.hostname=web-2',
  );
});

test.run();
