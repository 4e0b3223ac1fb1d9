// The chart's alerts through Debian's promtool: the rule file checks, and promtool's unit tests
// (test/tools/prometheus/alerts_test.yaml) fire each alert and keep it quiet where it must be.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { repoRoot, run } from '../cluster/common.ts';
import { requireTool } from './support/tools.ts';

const RULES = join(repoRoot, 'charts/standby-operator/files/prometheus-rules.yaml');
const TESTS = join(repoRoot, 'test/tools/prometheus/alerts_test.yaml');

interface Alert { alert: string; expr: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface UnitTests { tests: { name: string; alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] }

const alerts = (parse(await readFile(RULES, 'utf8')) as { groups: { rules: Alert[] }[] }).groups.flatMap((g) => g.rules);

describe('the alert rules, by promtool', () => {
  test('promtool check rules accepts the file', async () => {
    const res = await run(requireTool('promtool', 'prometheus'), ['check', 'rules', RULES]);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toContain(`SUCCESS: ${alerts.length} rules found`);
  });

  test('promtool test rules passes every unit test', async () => {
    const res = await run(requireTool('promtool', 'prometheus'), ['test', 'rules', TESTS], { timeoutMs: 240_000 });
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toContain('SUCCESS');
  });

  test('each alert has its own unit test, which sees it fire and sees it quiet', async () => {
    const unit = parse(await readFile(TESTS, 'utf8')) as UnitTests;
    for (const a of alerts) {
      const cases = unit.tests.filter((t) => t.name.startsWith(a.alert)).flatMap((t) => t.alert_rule_test).filter((c) => c.alertname === a.alert);
      expect(cases.some((c) => c.exp_alerts.length > 0), `${a.alert} fires in a test`).toBe(true);
      expect(cases.some((c) => c.exp_alerts.length === 0), `${a.alert} stays quiet in a test`).toBe(true);
    }
  });

  test('each alert has a severity, a summary, a description and a runbook in the README', async () => {
    const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
    for (const a of alerts) {
      expect(a.labels?.severity, a.alert).toMatch(/^(warning|critical)$/);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      expect(a.annotations?.description, a.alert).toBeTruthy();
      expect(a.annotations?.runbook_url, a.alert).toBe(`https://github.com/standby-operator/standby-operator/blob/main/README.md#${a.alert.toLowerCase()}`);
      expect(readme, `README runbook for ${a.alert}`).toContain(`\n#### ${a.alert}\n`);
    }
  });
});
