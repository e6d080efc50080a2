// The strict exposition-format parser the /metrics tests read with: it takes what
// Prometheus takes, and refuses what is malformed or incomplete, naming the line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parsePrometheusText, sampleSum, sampleValue } from './prom-text.js';

const GOOD = `# HELP a_total Things, with a \\\\ and a \\n.
# TYPE a_total counter
a_total{kind="x"} 3
a_total{kind="y\\"q\\\\\\n",other="1",} 4 1700000000000
# a plain comment
# TYPE g gauge
g -1.5e3
g{x="inf"} +Inf
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="1"} 2
h_bucket{le="+Inf"} 3
h_sum 4.2
h_count 3
`;

test('reads families, types, help, escaped label values, timestamps', () => {
  const f = parsePrometheusText(GOOD);
  assert.equal([...f.keys()], ['a_total', 'g', 'h']);
  assert.is(f.get('a_total')!.help, 'Things, with a \\ and a \n.');
  assert.is(f.get('h')!.type, 'histogram');
  assert.is(sampleValue(f, 'a_total', { kind: 'y"q\\\n' }), 4);
  assert.is(f.get('a_total')!.samples[1]!.timestamp, 1700000000000);
  assert.is(sampleValue(f, 'g', { x: 'inf' }), Infinity);
  assert.is(sampleSum(f, 'a_total'), 7);
  assert.is(sampleValue(f, 'h_count'), 3);
  assert.is(sampleValue(f, 'nothing'), undefined);
  assert.throws(() => sampleValue(f, 'a_total'), /matches 2 series/);
});

const BAD: [string, string, RegExp][] = [
  ['no TYPE', 'x 1\n', /line 1: sample x has no TYPE before it/],
  ['no final newline', '# TYPE x gauge\nx 1', /end with a newline/],
  ['bad value', '# TYPE x gauge\nx one\n', /line 2: bad value/],
  ['two spaces', '# TYPE x gauge\nx  1\n', /single spaces/],
  ['bad label name', '# TYPE x gauge\nx{1a="b"} 1\n', /expected a label name/],
  ['reserved label', '# TYPE x gauge\nx{__a="b"} 1\n', /reserved/],
  ['label twice', '# TYPE x gauge\nx{a="b",a="c"} 1\n', /given twice/],
  ['unterminated', '# TYPE x gauge\nx{a="b} 1\n', /unterminated|expected/],
  ['bad escape', '# TYPE x gauge\nx{a="\\t"} 1\n', /bad escape/],
  ['duplicate series', '# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n', /appears twice/],
  ['negative counter', '# TYPE x_total counter\nx_total -1\n', /counter x_total is -1/],
  ['split family', '# TYPE x gauge\nx{a="1"} 1\n# TYPE y gauge\ny 1\nx{a="2"} 1\n', /not together/],
  ['TYPE after samples', '# TYPE x gauge\nx 1\n# TYPE y gauge\n# TYPE x gauge\n', /after its samples ended|second TYPE/],
  ['unknown type', '# TYPE x meter\n', /unknown type/],
  ['bucket without le', '# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n', /no le label/],
  ['no +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /le="\+Inf"/],
  ['not cumulative', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n', /not cumulative/],
  ['+Inf not count', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n', /_count is 3/],
  ['no _count', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\n', /no _sum or _count/],
];

for (const [what, text, err] of BAD) {
  test(`refuses: ${what}`, () => {
    assert.throws(() => parsePrometheusText(text), err);
  });
}

test.run();
