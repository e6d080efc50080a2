// Golden tests on real captures of OVMF's own network stack (fixtures/README.md says how
// they were made): its PXE client (arch 7) and its UEFI HTTP boot client (arch 16). Each
// decodes as expected, encodes back to the same bytes, and is answered by our policy as
// the README's firmware table says. DISKLESS_REGEN_FIXTURES=1 (or =uefi) captures them again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { netnsAvailable } from '../../../host/netns.js';
import { ovmfMissing, qemuMissing } from '../../../host/qemu.js';
import { Arch, MsgType, Opt, PxeSub, PXE_DISCOVERY_USE_BOOTFILE } from '../../../pxe/dhcp/constants.js';
import { decode, encode, clientMac, type DhcpMessage } from '../../../pxe/dhcp/packet.js';
import { decodeSubOptions, getIp, getText, getU16List, getU8 } from '../../../pxe/dhcp/options.js';
import { classify } from '../../../pxe/dhcp/boot.js';
import { decide } from '../../../pxe/dhcp/policy.js';
import { LeaseTable } from '../../../pxe/dhcp/leases.js';
import { parseInventory } from '../../../cluster/inventory.js';
import { inventoryYaml } from '../../../tools/dhcp/netns.js';
import { missingTools } from './nstools.js';
import { CAPTURE_MAC } from './capture.js';
import { regenerateOvmf } from './capture-ovmf.js';

const dir = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');

if (process.env.DISKLESS_REGEN_FIXTURES) {
  test('regenerate the OVMF fixtures from live captures', async () => {
    const skip = netnsAvailable() ?? qemuMissing() ?? ovmfMissing() ?? missingTools(['tcpdump']);
    if (skip) throw new Error(`cannot regenerate the fixtures here: ${skip} (scripts/install-deps.sh installs every tool; run as root)`);
    const work = mkdtempSync(join(tmpdir(), 'dl-ovmf-capture-'));
    try {
      await regenerateOvmf(dir, work);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

function fixture(name: string): { msg: DhcpMessage; bytes: Buffer } {
  const file = join(dir, name);
  if (!existsSync(file)) throw new Error(`fixture ${file} is missing: it is committed with the test (DISKLESS_REGEN_FIXTURES=1 makes it again)`);
  const bytes = readFileSync(file);
  return { msg: decode(bytes), bytes };
}

/** decode → encode gives back the capture, octet for octet (fixtures/README.md "Compared byte for byte"). */
function sameBytes(name: string, f: { msg: DhcpMessage; bytes: Buffer }): void {
  const ours = encode(f.msg);
  assert.is(ours.length, f.bytes.length, `${name}: encoded length`);
  const at = ours.findIndex((b, i) => b !== f.bytes[i]);
  assert.is(at, -1, `${name}: encode(decode(capture)) differs first at octet ${at}`);
  assert.equal(decode(ours), f.msg, `${name}: round trip`);
}

const type = (m: DhcpMessage | null) => (m ? getU8(m.options, Opt.MESSAGE_TYPE) : undefined);
const cfg = { serverIp: '10.77.0.1', httpPort: 80 };
const NOW = 1_700_000_000_000;
const invText = inventoryYaml('10.77.0.0/24', '10.77.0.1', '10.77.0.1', [{ name: 'node1', mac: CAPTURE_MAC, ip: '10.77.0.11' }]);
const inventory = (firmware?: string) => parseInventory(firmware ? invText.replace('ip: 10.77.0.11 }', `ip: 10.77.0.11, firmware: ${firmware} }`) : invText, 'cluster.yaml');
const answer = (msg: DhcpMessage, firmware?: string, tftp?: boolean) =>
  decide({ msg, from: { address: '0.0.0.0', port: 68 }, localPort: 67 }, inventory(firmware), new LeaseTable(), NOW, { ...cfg, tftp });

test("OVMF's PXE client (arch 7): DISCOVER and REQUEST as captured", () => {
  const d = fixture('ovmf-pxe-discover.bin');
  const r = fixture('ovmf-pxe-request.bin');
  assert.is(type(d.msg), MsgType.DISCOVER);
  assert.is(clientMac(d.msg), CAPTURE_MAC);
  assert.match(getText(d.msg.options, Opt.VENDOR_CLASS_ID)!, /^PXEClient:Arch:00007:UNDI:003000$/);
  assert.equal(getU16List(d.msg.options, Opt.CLIENT_ARCH), [Arch.EFI_X64]);
  assert.is(d.msg.options.get(Opt.CLIENT_UUID)?.length, 17);
  const kind = classify(d.msg.options);
  assert.equal([kind.pxe, kind.http, kind.ipxe, kind.arch], [true, false, false, Arch.EFI_X64]);
  assert.is(type(r.msg), MsgType.REQUEST);
  assert.is(r.msg.xid, d.msg.xid);
  assert.is(getIp(r.msg.options, Opt.REQUESTED_IP), '10.77.0.11');
  assert.is(getIp(r.msg.options, Opt.SERVER_ID), '10.77.0.1');
  sameBytes('ovmf-pxe-discover.bin', d);
  sameBytes('ovmf-pxe-request.bin', r);
});

test("OVMF's PXE client is answered with ipxe.efi over TFTP, with PXE's options; not by a replica without TFTP", () => {
  for (const name of ['ovmf-pxe-discover.bin', 'ovmf-pxe-request.bin']) {
    const o = answer(fixture(name).msg);
    const rep = o.reply!;
    assert.is(type(rep), name.includes('discover') ? MsgType.OFFER : MsgType.ACK, name);
    assert.is(rep.yiaddr, '10.77.0.11');
    assert.is(rep.file, 'ipxe.efi');
    assert.is(rep.siaddr, '10.77.0.1');
    assert.is(getText(rep.options, Opt.BOOTFILE_NAME), 'ipxe.efi');
    assert.is(getText(rep.options, Opt.VENDOR_CLASS_ID), 'PXEClient');
    assert.is(getU8(decodeSubOptions(rep.options.get(Opt.VENDOR_SPECIFIC)!)!, PxeSub.DISCOVERY_CONTROL), PXE_DISCOVERY_USE_BOOTFILE);
    assert.ok(rep.options.get(Opt.CLIENT_UUID)!.equals(fixture(name).msg.options.get(Opt.CLIENT_UUID)!), 'option 97 echoed');
    assert.equal(decode(encode(rep)), rep);
    assert.is(answer(fixture(name).msg, undefined, false).reply, null, `${name}: no TFTP here, no answer`);
  }
  assert.is(answer(fixture('ovmf-pxe-discover.bin').msg, 'uefi-secure').reply!.file, 'shimx64.efi');
  const h = answer(fixture('ovmf-pxe-discover.bin').msg, 'uefi-http').reply!;
  assert.is(type(h), MsgType.OFFER);
  assert.is(h.file, '', 'uefi-http: an address and no boot file, so OVMF cancels PXE at once');
});

test("OVMF's UEFI HTTP boot client (arch 16): DISCOVER and REQUEST as captured, answered with the ipxe.efi URL", () => {
  const d = fixture('ovmf-http-discover.bin');
  const r = fixture('ovmf-http-request.bin');
  assert.is(type(d.msg), MsgType.DISCOVER);
  assert.match(getText(d.msg.options, Opt.VENDOR_CLASS_ID)!, /^HTTPClient:Arch:00016:UNDI:003000$/);
  assert.equal(getU16List(d.msg.options, Opt.CLIENT_ARCH), [Arch.EFI_X64_HTTP]);
  const kind = classify(d.msg.options);
  assert.equal([kind.pxe, kind.http, kind.ipxe], [false, true, false]);
  assert.is(type(r.msg), MsgType.REQUEST);
  assert.is(getIp(r.msg.options, Opt.REQUESTED_IP), '10.77.0.11');
  sameBytes('ovmf-http-discover.bin', d);
  sameBytes('ovmf-http-request.bin', r);
  for (const firmware of [undefined, 'uefi', 'uefi-http']) {
    for (const f of [d, r]) {
      for (const tftp of [true, false]) {
        const rep = answer(f.msg, firmware, tftp).reply!;
        assert.is(getText(rep.options, Opt.BOOTFILE_NAME), 'http://10.77.0.1:80/ipxe/ipxe.efi', `firmware ${firmware}, tftp ${tftp}`);
        assert.is(getText(rep.options, Opt.VENDOR_CLASS_ID), 'HTTPClient', 'UEFI 2.5 24.7.2: the answer names HTTPClient');
        assert.not.ok(rep.options.has(Opt.TFTP_SERVER_NAME));
      }
    }
  }
  assert.is(answer(d.msg, 'uefi-secure').reply!.file, '', 'Secure Boot nodes get no HTTP boot file');
});

test.run();
