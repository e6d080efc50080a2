// Adding a distribution must not change the test results: with a throwaway template
// (a copy of debian, suite unchanged) beside the shipped ones, the template and CLI
// suites run against that folder (DISKLESS_TEMPLATES) and still pass.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listTemplates } from '../../builders/template.js';
import { projectRoot } from '../../lib/paths.js';

const SUITES = ['test/builders/template.test.ts', 'test/cli/cli.test.ts'];

test('a throwaway template beside the shipped ones leaves the template and CLI suites green', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dl-templates-'));
  try {
    chmodSync(dir, 0o755); // the CLI suite also runs as nobody
    cpSync(join(projectRoot(), 'templates'), dir, { recursive: true });
    cpSync(join(dir, 'debian'), join(dir, 'throwaway'), { recursive: true });
    assert.ok((await listTemplates(dir)).includes('throwaway'));
    for (const file of SUITES) {
      const r = spawnSync(process.execPath, ['--import', 'tsx/esm', join(projectRoot(), file)], {
        cwd: projectRoot(),
        env: { ...process.env, DISKLESS_TEMPLATES: dir, NO_COLOR: '1' },
        encoding: 'utf8',
        timeout: 300_000,
      });
      const out = `${r.stdout}${r.stderr}`;
      assert.is(r.status, 0, `${file} failed with the throwaway template:\n${out.slice(-3000)}`);
      assert.match(out, /Passed:\s+\d+/, `${file} ran no tests:\n${out.slice(-2000)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
