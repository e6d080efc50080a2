// The import boundaries of the house, each rule its own test, each failure naming
// file and line:
// - nothing outside test/ imports from test/;
// - builders/ and pxe/ do not import each other (both use the shared modules);
// - tsconfig.json, whose dist/ the service layer carries to every replica, compiles
//   no tools/ (simulators, load generators), and what it compiles imports nothing
//   it does not compile (so no tools/, test/, bench/, scripts/).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const SKIP_DIRS = new Set(['node_modules', 'dist', '.git']);
const SOURCE = /\.(ts|mts|cts|mjs|cjs|js)$/;

interface Import {
  spec: string;
  line: number;
}

/** Every module specifier in `text`: static, type-only, re-exports, side-effect, dynamic import() and require(). */
function importsIn(text: string): Import[] {
  const found: Import[] = [];
  const patterns = [
    /\b(?:import|export)\b[^;'"`]*?\bfrom\s*(['"])([^'"\n]+)\1/g,
    /\bimport\s*(['"])([^'"\n]+)\1/g,
    /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g,
    /\brequire\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g,
  ];
  for (const re of patterns) {
    for (const m of text.matchAll(re)) {
      const at = m.index! + m[0].lastIndexOf(m[2]!);
      found.push({ spec: m[2]!, line: text.slice(0, at).split('\n').length });
    }
  }
  return found.sort((a, b) => a.line - b.line);
}

/** The top-level folder of the project a specifier in `file` points into, or undefined (a package, or outside). */
function targetFolder(root: string, file: string, spec: string): string | undefined {
  if (!spec.startsWith('.') && !spec.startsWith('/')) return undefined;
  const rel = relative(root, resolve(dirname(file), spec));
  if (rel.startsWith('..')) return undefined;
  return rel.split(sep)[0];
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || SKIP_DIRS.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) sourceFiles(p, out);
    else if (SOURCE.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

interface Edge {
  file: string;
  line: number;
  spec: string;
  from: string;
  to: string;
}

const edges: Edge[] = sourceFiles(ROOT).flatMap((file) =>
  importsIn(readFileSync(file, 'utf8')).flatMap(({ spec, line }) => {
    const to = targetFolder(ROOT, file, spec);
    const rel = relative(ROOT, file);
    return to ? [{ file: rel, line, spec, from: rel.split(sep)[0]!, to }] : [];
  }),
);

const show = (bad: Edge[]) => bad.map((e) => `${e.file}:${e.line} imports '${e.spec}' (${e.to}/)`).join('\n');

test('the scanner finds every form of import, with its line', () => {
  const text = [
    "import { a } from './a.js';",
    'import {',
    '  b,',
    "} from '../test/b.js';",
    "import type { C } from '../c.js';",
    "export { d } from './d.js';",
    "import './side.js';",
    "const e = await import('../test/e.js');",
    "type F = import('./f.js').F;",
    "const g = require('../g.cjs');",
    "import { h } from 'execa';",
  ].join('\n');
  assert.equal(importsIn(text), [
    { spec: './a.js', line: 1 },
    { spec: '../test/b.js', line: 4 },
    { spec: '../c.js', line: 5 },
    { spec: './d.js', line: 6 },
    { spec: './side.js', line: 7 },
    { spec: '../test/e.js', line: 8 },
    { spec: './f.js', line: 9 },
    { spec: '../g.cjs', line: 10 },
    { spec: 'execa', line: 11 },
  ]);
  assert.is(targetFolder('/p', '/p/bench/dhcp.ts', '../test/helpers/netns.js'), 'test');
  assert.is(targetFolder('/p', '/p/pxe/replica/sync.ts', '../../builders/publish.js'), 'builders');
  assert.is(targetFolder('/p', '/p/pxe/service.ts', 'node:fs'), undefined);
  assert.ok(edges.length > 100, `the scan of the project found only ${edges.length} imports`);
});

test('nothing outside test/ imports from test/', () => {
  const bad = edges.filter((e) => e.from !== 'test' && e.to === 'test');
  assert.is(bad.length, 0, `product code imports test code:\n${show(bad)}`);
});

test('builders/ does not import pxe/', () => {
  const bad = edges.filter((e) => e.from === 'builders' && e.to === 'pxe');
  assert.is(bad.length, 0, `builders/ imports pxe/:\n${show(bad)}`);
});

test('pxe/ does not import builders/', () => {
  const bad = edges.filter((e) => e.from === 'pxe' && e.to === 'builders');
  assert.is(bad.length, 0, `pxe/ imports builders/:\n${show(bad)}`);
});

const compiled = (JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] }).include;
const firstSegment = (p: string) => p.replace(/^\.\//, '').split('/')[0]!;

test('tsconfig.json (the dist/ the service layer carries) does not compile tools/, test/, bench/ or scripts/', () => {
  for (const entry of compiled) {
    const top = firstSegment(entry);
    assert.not.ok(['tools', 'test', 'bench', 'scripts', '.', '', '*', '**'].includes(top), `tsconfig.json include has '${entry}'`);
  }
  for (const product of ['cli', 'lib', 'builders', 'pxe', 'cluster', 'host']) assert.ok(compiled.includes(product), `tsconfig.json does not compile ${product}/`);
});

test('what tsconfig.json compiles imports only what it compiles (no tools/, test/, bench/, scripts/)', () => {
  const folders = new Set(compiled.map(firstSegment));
  const bad = edges.filter((e) => folders.has(e.from) && !folders.has(e.to));
  assert.is(bad.length, 0, `product code imports what dist/ does not carry:\n${show(bad)}`);
});

test.run();
