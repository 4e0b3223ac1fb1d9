// `npm run demo -- --sites` end to end, on the sites of this run (--sites-dir: the demo uses them
// instead of starting its own, which the README's command does): it must exit 0 having shown every
// step, and leave the sites as it found them (healed, the primary's site up, its namespace going).
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { repoRoot, run } from '../cluster/common.ts';
import { useSites } from '../cluster/site-helpers.ts';
import { readSites, site, sitesHealth } from '../cluster/sites.ts';
import { kubectl } from './support.ts';

const dir = inject('sitesDir');

beforeAll(async () => {
  await useSites();
});

describe('npm run demo -- --sites', () => {
  it('shows Protected, a partition that promotes nothing, a site loss, the confirmed site failover and the returning site fenced first', { timeout: 300_000 }, async () => {
    const res = await run(process.execPath, [join(repoRoot, 'test/cluster/demo.ts'), '--sites', '--sites-dir', dir], { timeoutMs: 280_000 });
    const out = res.stdout;
    expect(res.code, `${out}\n${res.stderr}`).toBe(0);
    // Each step, in order, with the standby cluster's view.
    const steps = [
      /Protected after \d+\.\ds/,
      /PRIMARY Unreachable after/,
      /no word from the primary's site for [\d.]+s .*promotion: none; PromotionReady: PrimaryUnreachable/,
      /both sides still run: primary pod orders-0 Ready=True, standby pod orders-standby-0 Ready=True/,
      /Protected again after/,
      /past failureThreshold: promotion none/,
      /standby\.dev\/promote=site-lost-\d{4}-\d{2}-\d{2}/,
      /promotion started \(trigger siteLost, epoch 1\)/,
      /FencingHolds=Unknown \(FenceNotConfirmed\): .*fencing could not be confirmed/,
      /the ExternalDNS name orders\.example\.com is now on the standby's traffic Service/,
      /writes in the primary's cluster since it returned, in order: NetworkPolicy\/orders-fence/,
      /orders-fence\s+app=orders/,
      /orders\s+hot\s+standby\s+Fenced\s+Promoted/,
    ];
    let at = 0;
    for (const step of steps) {
      const m = step.exec(out.slice(at));
      expect(m, `${String(step)} after offset ${at} in:\n${out}`).not.toBeNull();
      at += (m?.index ?? 0) + (m?.[0].length ?? 0);
    }
    expect(out.match(/\$ kubectl get standbysites -n demo-sites -o wide/g)?.length).toBeGreaterThanOrEqual(6);

    // The sites as it found them: every link up, the primary's site running again, healthy.
    const state = (await readSites(dir))!;
    expect(state.cuts).toEqual([]);
    expect(site(state, 'primary').stoppedAt).toBeUndefined();
    expect(Object.values(await sitesHealth(state)).every((h) => h.ok)).toBe(true);
    const phase = await kubectl(site(state, 'standby'), ['get', 'namespace', 'demo-sites', '-o', 'jsonpath={.status.phase}', '--ignore-not-found']);
    expect(['', 'Terminating']).toContain(phase.trim());
  });
});
