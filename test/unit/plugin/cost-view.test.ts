// kubectl standby status's Cost lines (src/plugin/view.ts costLines).
import { describe, expect, test } from 'vitest';
import { byteSize, costLines, siteView, type SiteObject } from '../../../src/plugin/view.ts';

const Mi = 2 ** 20;
const Gi = 2 ** 30;
const site = (status: SiteObject['status']): SiteObject => ({
  metadata: { name: 'uploads', namespace: 'shop', generation: 1 },
  spec: { tier: 'warm', primary: { workload: { kind: 'StatefulSet', name: 'uploads' }, service: 'uploads' }, warm: { schedule: '*/15 * * * *' } },
  status,
});

describe('costLines', () => {
  test('the cost now, then the what-if with the site own tier marked', () => {
    const v = siteView(
      site({
        cost: {
          cpu: 0,
          memory: 0,
          storage: 2 * Gi,
          whatIf: {
            cold: { cpu: 0, memory: 0, storage: 7 * Gi },
            warm: { cpu: 0, memory: 0, storage: 3 * Gi },
            hot: { cpu: 0.25, memory: 256 * Mi, storage: 1.5 * Gi },
          },
        },
      }),
      new Date(),
    );
    expect(v.cost?.storage).toBe(2 * Gi);
    expect(costLines(v)).toEqual([
      "cpu 0, memory 0, storage 2Gi (the standby's requests now; the copies' storage)",
      '  as cold: cpu 0, memory 0, storage 7Gi',
      '  as warm: cpu 0, memory 0, storage 3Gi (this tier)',
      '  as hot:  cpu 0.25, memory 256Mi, storage 1.5Gi',
    ]);
  });

  test('not reported yet; no what-if without a primary', () => {
    expect(costLines(siteView(site({}), new Date()))).toEqual(['not reported yet']);
    expect(costLines(siteView(site({ cost: { cpu: 0.5, memory: 512 * Mi, storage: 0 } }), new Date()))).toEqual([
      "cpu 0.5, memory 512Mi, storage 0 (the standby's requests now; the copies' storage)",
    ]);
  });

  test('byteSize in binary units', () => {
    expect(byteSize(0)).toBe('0');
    expect(byteSize(1023)).toBe('1023');
    expect(byteSize(1536)).toBe('1.5Ki');
    expect(byteSize(7 * 2 ** 40)).toBe('7Ti');
  });
});
