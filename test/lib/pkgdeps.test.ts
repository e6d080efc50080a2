import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runtimePackages } from '../../lib/pkgdeps.js';
import { projectRoot } from '../../lib/paths.js';

const work = mkdtempSync(join(tmpdir(), 'pkgdeps-'));
const pkg = (dir: string, json: object) => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify(json));
};

test.after(() => rmSync(work, { recursive: true, force: true }));

test('run-time packages: dependencies followed as Node resolves them, nested versions, no devDependencies', () => {
  const app = join(work, 'app');
  pkg(app, { name: 'app', dependencies: { a: '1', b: '1' }, optionalDependencies: { gone: '1', c: '1' }, devDependencies: { dev: '1' } });
  pkg(join(app, 'node_modules/a'), { name: 'a', dependencies: { shared: '1' } });
  pkg(join(app, 'node_modules/b'), { name: 'b', dependencies: { shared: '2' } });
  pkg(join(app, 'node_modules/b/node_modules/shared'), { name: 'shared', version: '2' }); // b's own version
  pkg(join(app, 'node_modules/shared'), { name: 'shared', version: '1' });
  pkg(join(app, 'node_modules/c'), { name: 'c' });
  pkg(join(app, 'node_modules/dev'), { name: 'dev', dependencies: { a: '1' } });
  assert.equal(runtimePackages(app), ['node_modules/a', 'node_modules/b', 'node_modules/b/node_modules/shared', 'node_modules/c', 'node_modules/shared']);
});

test('a missing dependency names the package that needs it and the fix', () => {
  const app = join(work, 'broken');
  pkg(app, { name: 'broken', dependencies: { a: '1' } });
  pkg(join(app, 'node_modules/a'), { name: 'a', dependencies: { lost: '1' } });
  assert.throws(() => runtimePackages(app), /a needs 'lost', which is not installed under .*broken\/node_modules: run npm ci there/);
});

test("diskless's own run-time set has its dependencies and none of its dev tools", () => {
  const got = runtimePackages(projectRoot());
  for (const d of ['yargs', 'execa', 'mustache', 'tar-stream', 'yaml', 'zod', 'send']) assert.ok(got.includes(`node_modules/${d}`), d);
  for (const d of ['typescript', 'tsx', 'uvu', '@types/node']) assert.not.ok(got.includes(`node_modules/${d}`), d);
});

test.run();
