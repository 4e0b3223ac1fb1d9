// Issue 21 item 16: the standby never takes the primary's node network or host ports.
import type { V1StatefulSet } from '@kubernetes/client-node';
import { describe, expect, test } from 'vitest';
import { hostBindings, standbyPodTemplate } from '../../../src/tiers/standby-workload.ts';

const primary = (spec: Record<string, unknown>): V1StatefulSet => ({
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'db', namespace: 'shop' },
  spec: {
    serviceName: 'db',
    selector: { matchLabels: { app: 'db' } },
    template: {
      metadata: { labels: { app: 'db' } },
      spec: {
        containers: [{ name: 'main', image: 'db:1', ports: [{ containerPort: 5432, hostPort: 5432 }, { containerPort: 9187 }] }],
        initContainers: [{ name: 'init', image: 'db:1', ports: [{ containerPort: 80, hostPort: 8080 }] }],
        ...spec,
      },
    },
  },
});

describe('the standby pod template and the host', () => {
  test('hostNetwork and every hostPort are dropped; ClusterFirstWithHostNet becomes ClusterFirst', () => {
    const t = standbyPodTemplate('db', primary({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), undefined);
    expect(t.spec?.hostNetwork).toBeUndefined();
    expect(t.spec?.dnsPolicy).toBe('ClusterFirst');
    expect(t.spec?.containers[0]?.ports).toEqual([{ containerPort: 5432 }, { containerPort: 9187 }]);
    expect(t.spec?.initContainers?.[0]?.ports).toEqual([{ containerPort: 80 }]);
  });

  test('the primary keeps its own template; what was left out is named', () => {
    const p = primary({ hostNetwork: true });
    standbyPodTemplate('db', p, undefined);
    expect(p.spec?.template.spec?.hostNetwork).toBe(true);
    expect(hostBindings(p)).toEqual(['hostNetwork', 'hostPort 5432 (container main)', 'hostPort 8080 (container init)']);
    expect(hostBindings(primary({ containers: [{ name: 'main', image: 'db:1' }], initContainers: [] }))).toEqual([]);
  });

  test('another dnsPolicy is kept', () => {
    expect(standbyPodTemplate('db', primary({ hostNetwork: true, dnsPolicy: 'Default' }), undefined).spec?.dnsPolicy).toBe('Default');
  });
});
