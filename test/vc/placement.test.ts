// Placement as a table: block/cyclic × strict/free over 1-4 hosts of different sizes,
// with the exact mapping and pinning, and the refusals with their messages.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_MEMORY_RESERVE_BYTES, place, type HostCapacity, type PlacementSpec } from '../../vc/placement.js';
import { GiB, MiB } from '../../vc/size.js';

function host(name: string, cores: number, memGiB: number, pinnedCores: number[] = [], allocGiB = 0): HostCapacity {
  return { name, cores, memoryBytes: memGiB * GiB, pinnedCores, allocatedMemoryBytes: allocGiB * GiB };
}

function spec(o: Partial<PlacementSpec>): PlacementSpec {
  return { name: 'lab', nodes: 3, vcpus: 1, memoryBytes: 512 * MiB, placement: 'block', cores: 'free', ...o };
}

/** `host:core,core` per VM, in index order; `host` alone when nothing is pinned. */
function layout(hosts: HostCapacity[], s: PlacementSpec): string[] {
  const r = place(hosts, s);
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  assert.equal(
    r.vms.map((v) => v.index),
    Array.from({ length: s.nodes }, (_, i) => i + 1),
  );
  return r.vms.map((v) => (v.cores.length ? `${v.host}:${v.cores.join(',')}` : v.host));
}

function refusal(hosts: HostCapacity[], s: PlacementSpec, reserve?: number): string {
  const r = place(hosts, s, reserve === undefined ? {} : { memoryReserveBytes: reserve });
  if (r.ok) throw new Error(`placed: ${JSON.stringify(r.vms)}`);
  return r.reason;
}

const rows: { what: string; hosts: HostCapacity[]; spec: Partial<PlacementSpec>; want: string[] }[] = [
  { what: '1 host, block, free', hosts: [host('a', 2, 8)], spec: { nodes: 3 }, want: ['a', 'a', 'a'] },
  { what: '1 host, cyclic, free', hosts: [host('a', 2, 8)], spec: { nodes: 3, placement: 'cyclic' }, want: ['a', 'a', 'a'] },
  { what: '1 host, block, strict', hosts: [host('a', 4, 8)], spec: { nodes: 2, vcpus: 2, cores: 'strict' }, want: ['a:0,1', 'a:2,3'] },
  { what: '1 host, cyclic, strict', hosts: [host('a', 4, 8)], spec: { nodes: 4, cores: 'strict', placement: 'cyclic' }, want: ['a:0', 'a:1', 'a:2', 'a:3'] },
  {
    what: '2 hosts, block, strict: fills a (4 cores) before b',
    hosts: [host('a', 4, 8), host('b', 8, 8)],
    spec: { nodes: 3, vcpus: 2, cores: 'strict' },
    want: ['a:0,1', 'a:2,3', 'b:0,1'],
  },
  {
    what: '2 hosts, cyclic, strict: deals a, b, a',
    hosts: [host('a', 4, 8), host('b', 8, 8)],
    spec: { nodes: 3, vcpus: 2, cores: 'strict', placement: 'cyclic' },
    want: ['a:0,1', 'b:0,1', 'a:2,3'],
  },
  {
    what: '2 hosts, block, free: memory fills a (2 GiB usable = 4 VMs) first',
    hosts: [host('a', 2, 3), host('b', 2, 8)],
    spec: { nodes: 6 },
    want: ['a', 'a', 'a', 'a', 'b', 'b'],
  },
  {
    what: '3 hosts, cyclic, free: round-robin, skipping a full host',
    hosts: [host('a', 2, 2), host('b', 2, 8), host('c', 1, 8)],
    spec: { nodes: 7, placement: 'cyclic' },
    want: ['a', 'b', 'c', 'a', 'b', 'c', 'b'],
  },
  {
    what: '3 hosts, block, strict: pinned cores of other VMs are skipped',
    hosts: [host('a', 4, 8, [0, 1, 2]), host('b', 2, 8, [1]), host('c', 4, 8, [0, 2])],
    spec: { nodes: 4, cores: 'strict' },
    want: ['a:3', 'b:0', 'c:1', 'c:3'],
  },
  {
    what: '4 hosts, cyclic, strict: 2 vCPUs where 2 free cores are',
    hosts: [host('a', 2, 8), host('b', 4, 8, [0, 2]), host('c', 1, 8), host('d', 8, 8)],
    spec: { nodes: 5, vcpus: 2, cores: 'strict', placement: 'cyclic' },
    want: ['a:0,1', 'b:1,3', 'd:0,1', 'd:2,3', 'd:4,5'],
  },
  {
    what: '4 hosts, block, free: other VMs memory counts',
    hosts: [host('a', 4, 2), host('b', 4, 4, [], 2.5), host('c', 4, 4), host('d', 4, 64)],
    spec: { nodes: 8, vcpus: 4 },
    want: ['a', 'a', 'b', 'c', 'c', 'c', 'c', 'c'],
  },
  {
    what: '4 hosts, cyclic, free: vCPUs float, sharing cores',
    hosts: [host('a', 1, 8), host('b', 2, 8), host('c', 2, 8), host('d', 2, 8)],
    spec: { nodes: 6, vcpus: 1, placement: 'cyclic' },
    want: ['a', 'b', 'c', 'd', 'a', 'b'],
  },
];

for (const row of rows) {
  test(`placement: ${row.what}`, () => {
    assert.equal(layout(row.hosts, spec(row.spec)), row.want);
  });
}

test('refusal: strict asking for more cores than are free names the host, the need and what it has', () => {
  assert.is(
    refusal([host('node1', 4, 8, [0])], spec({ nodes: 2, vcpus: 2, cores: 'strict' })),
    '--cores strict needs 4 dedicated cores (2 VMs × 2 vCPUs), and host node1 has 4 cores, 1 pinned by other VMs: 3 free',
  );
  assert.is(
    refusal([host('a', 2, 8), host('b', 1, 8)], spec({ nodes: 4, cores: 'strict' })),
    '--cores strict needs 4 dedicated cores (4 VMs × 1 vCPU); host a has 2 cores: 2 free; host b has 1 core: 1 free',
  );
});

test('refusal: free cores split over hosts so that no host has room for a whole VM', () => {
  assert.is(
    refusal([host('a', 3, 8), host('b', 3, 8)], spec({ nodes: 3, vcpus: 2, cores: 'strict', placement: 'cyclic' })),
    "cannot place lab-3, which needs 2 dedicated cores and 512 MiB: host a has 3 cores, 2 by this VC's earlier VMs: 1 free; host b has 3 cores, 2 by this VC's earlier VMs: 1 free",
  );
});

test('refusal: memory above the host memory less the reserve', () => {
  assert.is(DEFAULT_MEMORY_RESERVE_BYTES, 1 * GiB);
  assert.is(
    refusal([host('node1', 4, 2, [], 0.5)], spec({ nodes: 2 })),
    '--memory 512 MiB needs 1 GiB (2 VMs × 512 MiB), and host node1 has 2 GiB of memory, less 1 GiB kept for the host, 512 MiB given to other VMs: 512 MiB free',
  );
  // Exactly memory less reserve fits; one MiB more does not.
  assert.ok(place([host('a', 1, 2)], spec({ nodes: 1, memoryBytes: 1024 * MiB })).ok);
  assert.match(refusal([host('a', 1, 2)], spec({ nodes: 1, memoryBytes: 1025 * MiB })), 'host a has 2 GiB of memory, less 1 GiB kept for the host: 1 GiB free');
  // The reserve is a parameter.
  assert.ok(place([host('a', 1, 2)], spec({ nodes: 1, memoryBytes: 1536 * MiB }), { memoryReserveBytes: 512 * MiB }).ok);
  assert.match(refusal([host('a', 1, 2)], spec({ nodes: 1, memoryBytes: 1536 * MiB }), 768 * MiB), 'less 768 MiB kept for the host: 1.3 GiB free');
});

test('refusal: memory split over hosts names each host', () => {
  assert.is(
    refusal([host('a', 4, 2), host('b', 4, 2)], spec({ nodes: 3, memoryBytes: 640 * MiB })),
    "cannot place lab-3, which needs 640 MiB: host a has 2 GiB of memory, less 1 GiB kept for the host, 640 MiB to this VC's earlier VMs: 384 MiB free; host b has 2 GiB of memory, less 1 GiB kept for the host, 640 MiB to this VC's earlier VMs: 384 MiB free",
  );
});

test('refusal: free vCPUs beyond every host’s cores, and no hosts at all', () => {
  assert.is(refusal([host('a', 2, 8), host('b', 4, 8)], spec({ vcpus: 8 })), '--vcpus 8 is more than any host has cores; host a has 2 cores; host b has 4 cores');
  assert.is(refusal([], spec({})), 'there is no host to place the VC on');
});

test('existing allocations are respected: no core pinned twice, across two VCs placed one after the other', () => {
  const first = place([host('a', 4, 8, [1])], spec({ nodes: 2, cores: 'strict' }));
  assert.ok(first.ok);
  const pinned = first.ok ? first.vms.flatMap((v) => v.cores) : [];
  assert.equal(pinned, [0, 2]);
  const second = place([host('a', 4, 8, [1, ...pinned])], spec({ name: 'two', nodes: 1, cores: 'strict' }));
  assert.equal(second.ok && second.vms, [{ index: 1, host: 'a', cores: [3] }]);
  assert.match(refusal([host('a', 4, 8, [0, 1, 2, 3])], spec({ nodes: 1, cores: 'strict' })), 'host a has 4 cores, 4 pinned by other VMs: 0 free');
});

test('placement is pure: the hosts given are not changed, and the same input gives the same answer', () => {
  const hosts = [host('a', 4, 8, [2]), host('b', 4, 8)];
  const before = JSON.stringify(hosts);
  const s = spec({ nodes: 4, vcpus: 2, cores: 'strict', placement: 'cyclic' });
  assert.equal(place(hosts, s), place(hosts, s));
  assert.is(JSON.stringify(hosts), before);
});

test.run();
