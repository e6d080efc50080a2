// A strict parser of the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), for tests of /metrics.
// Strict where Prometheus is lenient: every family has a TYPE before its first sample,
// a family's samples are contiguous, no series appears twice, counters are >= 0 and
// histograms are whole (cumulative buckets ending at le="+Inf", equal to _count).
// Any breach throws, naming the line.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp?: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help?: string;
  samples: Sample[];
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

class Cursor {
  i = 0;
  constructor(
    readonly s: string,
    readonly line: number,
  ) {}
  fail(why: string): never {
    throw new Error(`line ${this.line}: ${why}: ${JSON.stringify(this.s)}`);
  }
  take(re: RegExp, what: string): string {
    const m = re.exec(this.s.slice(this.i));
    if (!m) this.fail(`expected ${what} at column ${this.i + 1}`);
    this.i += m[0].length;
    return m[0];
  }
  eat(ch: string): boolean {
    if (this.s[this.i] !== ch) return false;
    this.i++;
    return true;
  }
  expect(ch: string): void {
    if (!this.eat(ch)) this.fail(`expected '${ch}' at column ${this.i + 1}`);
  }
}

function parseValue(text: string, c: Cursor): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) c.fail(`bad value ${JSON.stringify(text)}`);
  return Number(text);
}

function labelValue(c: Cursor): string {
  c.expect('"');
  let out = '';
  for (;;) {
    const ch = c.s[c.i++];
    if (ch === undefined) c.fail('unterminated label value');
    if (ch === '"') return out;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const esc = c.s[c.i++];
    if (esc === '\\' || esc === '"') out += esc;
    else if (esc === 'n') out += '\n';
    else c.fail(`bad escape \\${esc ?? ''} in a label value`);
  }
}

function parseSample(c: Cursor): Sample {
  const name = c.take(METRIC, 'a metric name');
  const labels: Record<string, string> = {};
  if (c.eat('{')) {
    while (!c.eat('}')) {
      const l = c.take(LABEL, 'a label name');
      if (l.startsWith('__')) c.fail(`label ${l}: names starting with __ are reserved`);
      if (l in labels) c.fail(`label ${l} given twice`);
      c.expect('=');
      labels[l] = labelValue(c);
      if (!c.eat(',') && c.s[c.i] !== '}') c.fail(`expected ',' or '}' at column ${c.i + 1}`);
    }
  }
  c.expect(' ');
  const rest = c.s.slice(c.i).split(' ');
  if (rest.length > 2 || rest.some((p) => p === '')) c.fail('expected a value and an optional timestamp, single spaces');
  const value = parseValue(rest[0]!, c);
  if (rest[1] !== undefined && !/^-?\d+$/.test(rest[1])) c.fail('a timestamp is an integer (ms)');
  return { name, labels, value, ...(rest[1] !== undefined ? { timestamp: Number(rest[1]) } : {}) };
}

/** The family a sample name belongs to: a histogram's _bucket/_sum/_count, a summary's _sum/_count. */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const exact = families.get(name);
  if (exact) return exact;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  const f = m ? families.get(m[1]!) : undefined;
  if (f && (f.type === 'histogram' || (f.type === 'summary' && m![2] !== 'bucket'))) return f;
  return undefined;
}

const seriesKey = (s: Sample) => `${s.name}{${Object.entries(s.labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;

export function parsePrometheusText(text: string): Map<string, Family> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  const closed = new Set<string>();
  const typed = new Set<string>();
  let current: Family | undefined;
  text.split('\n').forEach((raw, idx) => {
    const c: Cursor = new Cursor(raw, idx + 1);
    if (raw === '') return;
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(raw);
    if (meta) {
      const [, what, name, rest] = meta as unknown as [string, string, string, string | undefined];
      if (!METRIC.test(name) || METRIC.exec(name)![0] !== name) c.fail(`bad metric name ${name}`);
      let f = families.get(name);
      if (f && closed.has(name)) c.fail(`${what} for ${name} after its samples ended`);
      if (!f) {
        f = { name, type: 'untyped', samples: [] };
        families.set(name, f);
      }
      if (what === 'TYPE') {
        if (!TYPES.has(rest as MetricType)) c.fail(`unknown type ${rest}`);
        if (f.samples.length) c.fail(`TYPE for ${name} after its first sample`);
        if (typed.has(name)) c.fail(`second TYPE for ${name}`);
        typed.add(name);
        f.type = rest as MetricType;
      } else {
        if (f.help !== undefined) c.fail(`second HELP for ${name}`);
        f.help = (rest ?? '').replace(/\\(.)/g, (_, e: string) => (e === 'n' ? '\n' : e === '\\' ? '\\' : c.fail(`bad escape \\${e} in HELP`)));
      }
      if (current && current !== f) closed.add(current.name);
      current = f;
      return;
    }
    if (raw.startsWith('#')) return; // a plain comment
    const s = parseSample(c);
    const f = familyOf(s.name, families);
    if (!f || !typed.has(f.name)) c.fail(`sample ${s.name} has no TYPE before it`);
    if (closed.has(f.name) || (current && current !== f)) c.fail(`samples of ${f.name} are not together`);
    const key = seriesKey(s);
    if (seen.has(key)) c.fail(`series ${key} appears twice`);
    seen.add(key);
    if (f.type === 'counter' && !(s.value >= 0)) c.fail(`counter ${s.name} is ${s.value}`);
    if (f.type === 'histogram' && s.name === `${f.name}_bucket` && !('le' in s.labels)) c.fail('a histogram bucket has no le label');
    f.samples.push(s);
    current = f;
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** Buckets cumulative, ending at +Inf, which equals _count; one _sum and _count per label set. */
function checkHistogram(f: Family): void {
  const groups = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels;
    const k = seriesKey({ ...s, name: '', labels: rest });
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  for (const [k, ss] of groups) {
    const buckets = ss.filter((s) => s.name === `${f.name}_bucket`);
    const count = ss.find((s) => s.name === `${f.name}_count`);
    if (!count || !ss.some((s) => s.name === `${f.name}_sum`)) throw new Error(`histogram ${f.name}${k}: no _sum or _count`);
    const les = buckets.map((b) => parseValue(b.labels.le!, new Cursor(b.labels.le!, 0)));
    if (les.at(-1) !== Infinity) throw new Error(`histogram ${f.name}${k}: the last bucket is not le="+Inf"`);
    for (let i = 1; i < buckets.length; i++) {
      if (!(les[i]! > les[i - 1]!)) throw new Error(`histogram ${f.name}${k}: buckets not in increasing le`);
      if (buckets[i]!.value < buckets[i - 1]!.value) throw new Error(`histogram ${f.name}${k}: bucket counts are not cumulative`);
    }
    if (buckets.at(-1)!.value !== count.value) throw new Error(`histogram ${f.name}${k}: le="+Inf" is ${buckets.at(-1)!.value}, _count is ${count.value}`);
  }
}

/** The value of the one sample named `name` whose labels include `labels`; undefined if none. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = familyOf(name, families);
  const hits = (f?.samples ?? []).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${hits.length} series`);
  return hits[0]?.value;
}

/** The sum over every sample named `name` whose labels include `labels`. */
export function sampleSum(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = familyOf(name, families);
  return (f?.samples ?? []).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}
