// Load a YAML file and validate it against a zod schema, reporting every problem
// as `file:line: key: message` so an administrator can go straight to the fix.
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isNode, isMap, isScalar } from 'yaml';
import type { z } from 'zod';

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly problems: string[],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

function keyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(top level)';
}

/** Parse YAML text and validate it; `file` is used only in messages. */
export function parseYaml<S extends z.ZodType>(text: string, file: string, schema: S): z.output<S> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineOf = (offset: number | undefined) => (offset === undefined ? 1 : lineCounter.linePos(offset).line);
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => `${file}:${lineOf(e.pos[0])}: ${e.message.split('\n')[0]}`);
    throw new ConfigError(`${file} is not valid YAML:\n  ${problems.join('\n  ')}`, file, problems);
  }
  const data = doc.toJS() ?? {};
  const res = schema.safeParse(data);
  if (res.success) return res.data;
  const problems = res.error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      // Point at each unknown key itself.
      const parent = issue.path.length ? doc.getIn(issue.path as unknown[], true) : doc.contents;
      return issue.keys.map((k) => {
        const pair = isMap(parent) ? parent.items.find((it) => isScalar(it.key) && it.key.value === k) : undefined;
        const off = pair && isNode(pair.key) ? pair.key.range?.[0] : undefined;
        return `${file}:${lineOf(off)}: ${keyPath([...issue.path, k] as PropertyKey[])}: unknown key (check its spelling)`;
      });
    }
    // Point at the deepest node that exists: a missing key is reported at its parent.
    let path = issue.path as PropertyKey[];
    let node: unknown = undefined;
    for (let n = path.length; n >= 0; n--) {
      node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
      if (isNode(node)) break;
    }
    const offset = isNode(node) ? node.range?.[0] : undefined;
    return `${file}:${lineOf(offset)}: ${keyPath(path)}: ${issue.message}`;
  });
  throw new ConfigError(`${file} has ${problems.length} problem(s):\n  ${problems.join('\n  ')}`, file, problems);
}

/**
 * The line of the value at `path` in YAML text (or of its deepest parent that exists), for
 * checks made after the schema: `lineAt(['nodes', 3, 'mac'])`.
 */
export function yamlLines(text: string): (path: readonly (string | number)[]) => number {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  return (path) => {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return 1;
  };
}

export async function loadYaml<S extends z.ZodType>(file: string, schema: S): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`, file, []);
  }
  return parseYaml(text, file, schema);
}
