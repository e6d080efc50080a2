// The one retention rule: current plus the newest N, only build-named versions dropped.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { newerCurrent, retentionDrops, retentionKeeps } from '../../store/retention.js';

const V = (n: number) => `20260101-00000${n}`;

test('keeps current plus the newest N, as a table', () => {
  const cases: [string[], string | undefined, number | undefined, string[]][] = [
    [[V(1), V(2), V(3), V(4)], V(4), 2, [V(1), V(2)]],
    [[V(1), V(2), V(3), V(4)], V(1), 2, [V(2)]], // an old current stays, beside the newest two
    [[V(4), V(2), V(3), V(1)], V(4), 2, [V(1), V(2)]], // any order in, oldest first out
    [[V(1), V(2)], V(2), 2, []],
    [[V(1), V(2), V(3)], undefined, 1, [V(1), V(2)]],
    [[V(1), V(2), V(3)], V(3), 0, []], // 0 keeps all
    [[V(1), V(2), V(3)], V(3), undefined, []],
    [['hand-made', V(1), V(2), V(3)], V(3), 1, [V(1), V(2)]], // names build-image did not give are never dropped
    [[`${V(1)}.2`, `${V(1)}.10`, V(2)], V(2), 1, [`${V(1)}.2`, `${V(1)}.10`]],
  ];
  for (const [versions, current, keep, drops] of cases) {
    assert.equal(retentionDrops({ versions, current, keep }), drops, JSON.stringify({ versions, current, keep }));
  }
});

test('a candidate the rule would drop is not kept: a pruned version is not fed back', () => {
  const held = { versions: [V(3), V(4)], current: V(4), keep: 2 };
  assert.not.ok(retentionKeeps(V(1), held), 'older than the newest two');
  assert.ok(retentionKeeps(V(5), held), 'a newer one is kept');
  assert.ok(retentionKeeps(V(1), { ...held, keep: 0 }), 'keep all');
  assert.ok(retentionKeeps(V(1), { versions: [], current: undefined, keep: 2 }), 'nothing held: the first is kept');
});

test('newerCurrent picks by the one version order', () => {
  assert.is(newerCurrent(V(1), V(2)), V(2));
  assert.is(newerCurrent(`${V(1)}.10`, `${V(1)}.9`), `${V(1)}.10`);
  assert.is(newerCurrent(undefined, V(1)), V(1));
  assert.is(newerCurrent(V(1), undefined), V(1));
});

test.run();
