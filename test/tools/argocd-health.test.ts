// The Argo CD health check, run by a real Lua 5.1 over the cases of its health_test.yaml (Argo
// CD's own test format): objects the e2e tests produced, and synthetic ones for conditions this
// operator does not write yet.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '../cluster/common.ts';
import { HEALTH_DIR, HEALTH_LUA, health, luaLiteral } from './support/argocd-health.ts';

interface HealthTest {
  healthStatus: { status: string; message: string };
  inputPath: string;
}

const tests = (parse(await readFile(join(HEALTH_DIR, 'health_test.yaml'), 'utf8')) as { tests: HealthTest[] }).tests;

describe('health.lua, case by case (health_test.yaml)', () => {
  test.each(tests.map((t) => [t.inputPath, t] as const))('%s', async (_path, t) => {
    const obj = parse(await readFile(join(HEALTH_DIR, t.inputPath), 'utf8')) as unknown;
    expect(await health(obj)).toEqual(t.healthStatus);
  });

  test('every testdata file is a case, and the cases cover Healthy, Progressing and Degraded', async () => {
    const files = (await readdir(join(HEALTH_DIR, 'testdata'))).map((f) => `testdata/${f}`).sort();
    expect(tests.map((t) => t.inputPath).sort()).toEqual(files);
    expect(new Set(tests.map((t) => t.healthStatus.status))).toEqual(new Set(['Healthy', 'Progressing', 'Degraded']));
  });
});

describe('health.lua itself', () => {
  test("the README's argocd-cm snippet is the script, as it is", async () => {
    const lua = await readFile(HEALTH_LUA, 'utf8');
    const indented = lua
      .split('\n')
      .map((l) => (l === '' ? '' : `    ${l}`))
      .join('\n');
    const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
    expect(readme).toContain(`  resource.customizations.health.standby.dev_StandbySite: |\n${indented}`);
  });

  test('never reads status.phase', async () => {
    const code = (await readFile(HEALTH_LUA, 'utf8')).replace(/--.*$/gm, '');
    expect(code).toContain('obj.status.conditions');
    expect(code).not.toMatch(/phase/);
  });

  test('a site the script does not know (no conditions array, odd types) is judged, not crashed on', async () => {
    expect(await health({ metadata: {}, status: { observedGeneration: 1, conditions: [] } })).toEqual({ status: 'Progressing', message: 'Waiting for the Ready condition' });
    expect(await health({ metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True' }] } })).toEqual({
      status: 'Healthy',
      message: 'Protected',
    });
  });

  test('messages with quotes, backslashes, newlines and non-ASCII reach Lua unchanged', async () => {
    const message = 'the "db" Service\\n is gone — größer\nsecond line';
    expect(luaLiteral({ a: [1, null, true] })).toBe('{["a"] = {1, nil, true}}');
    expect(await health({ metadata: { generation: 1 }, status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True', message }] } })).toEqual({ status: 'Healthy', message });
  });
});
