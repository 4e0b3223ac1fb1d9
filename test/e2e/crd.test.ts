// The generated CRD on the real API server: it is accepted and served, and
// bad StandbySites are refused by the schema and the CEL rules themselves.
import { beforeAll, describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { kubectl, kubectlJson, waitFor } from '../cluster/helpers.ts';
import { buildCrd } from '../../src/api/crd.ts';
import { validateSpec } from '../../src/api/site.ts';
import { installCrd } from './support/operator.ts';

beforeAll(async () => {
  await installCrd();
});

test('the CRD is Established, with its short name and the status subresource', async () => {
  const crd = await kubectlJson<{ status: { conditions: { type: string; status: string }[]; acceptedNames: { shortNames: string[] } } }>([
    'get',
    'crd',
    'standbysites.standby.dev',
  ]);
  expect(crd.status.conditions.find((c) => c.type === 'Established')?.status).toBe('True');
  expect(crd.status.conditions.find((c) => c.type === 'NamesAccepted')?.status).toBe('True');
  expect(crd.status.acceptedNames.shortNames).toEqual(['sbs']);
  expect(await kubectl(['api-resources', '--api-group=standby.dev'])).toMatch(/standbysites\s+sbs\s+standby\.dev\/v1alpha1\s+true\s+StandbySite/);
});

test('kubectl explain shows the descriptions generated from the schema', async () => {
  // The API server publishes a new CRD's OpenAPI a moment after it is Established.
  const explained = await waitFor(
    async () => {
      const out = await kubectl(['explain', 'standbysite.spec.promotion.failureThreshold']);
      return out.includes('DESCRIPTION') ? out : undefined;
    },
    { timeoutMs: 30_000, description: 'kubectl explain standbysite.spec.promotion.failureThreshold' },
  );
  expect(explained).toMatch(/FIELD:\s+failureThreshold <string>/);
  expect(explained.replace(/\s+/g, ' ')).toContain('How long the primary must stay continuously not Ready');
  const status = await kubectl(['explain', 'standbysite.status.conditions.observedGeneration']);
  expect(status.replace(/\s+/g, ' ')).toContain('The metadata.generation the condition was computed from');
});

const primary = { workload: { kind: 'StatefulSet', name: 'db' }, service: 'db' };
const remotePrimary = { ...primary, cluster: { kubeconfigSecret: { name: 'primary-cluster' } } };

function site(spec: Record<string, unknown>, name = 'bad'): string {
  return stringify({ apiVersion: 'standby.dev/v1alpha1', kind: 'StandbySite', metadata: { name, namespace: 'default' }, spec });
}

async function refusal(manifest: string): Promise<string> {
  try {
    await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: manifest });
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the API server accepted a bad StandbySite');
}

const cold = (c: Record<string, unknown>) => ({ tier: 'cold', primary, cold: { schedule: '0 2 * * *', ...c } });

describe('the API server refuses bad StandbySites with the schema and CEL messages', () => {
  test.each<[string, Record<string, unknown>, string[]]>([
    ['unknown tier', { tier: 'lukewarm', primary }, ['spec.tier', 'Unsupported value: "lukewarm"', '"cold", "warm", "hot"']],
    ['cold without its block', { tier: 'cold', primary }, ['spec.cold', 'is required when tier is cold']],
    ['warm without its block', { tier: 'warm', primary }, ['spec.warm', 'is required when tier is warm']],
    ['a seconds field', cold({ schedule: '0 0 2 * * *' }), ['spec.cold.schedule', '"0 0 2 * * *" does not have 5 fields']],
    ['4 fields', cold({ schedule: '0 2 * *' }), ['"0 2 * *" does not have 5 fields']],
    ['CRON_TZ prefix', cold({ schedule: 'CRON_TZ=UTC 0 2 * * *' }), ['starts with CRON_TZ= or TZ=; put the zone in the timeZone field instead']],
    ['minute out of range', cold({ schedule: '61 2 * * *' }), ['"61 2 * * *" has a field out of range', 'minute 0-59']],
    ['day of week 7', cold({ schedule: '0 2 * * 7' }), ['has a field out of range']],
    ['unknown descriptor', cold({ schedule: '@every 5m' }), ['"@every 5m" is not a known descriptor']],
    ['a malformed time zone', cold({ timeZone: 'UTC+2 hours' }), ['spec.cold.timeZone', 'should match']],
    ['a drill schedule with a seconds field', { tier: 'hot', primary, drill: { schedule: '0 0 3 * * *' } }, ['spec.drill.schedule', '"0 0 3 * * *" does not have 5 fields']],
    ['a drill timeout of zero', { tier: 'hot', primary, drill: { timeout: '0s' } }, ['spec.drill.timeout', '"0s" must be greater than zero']],
    ['retention with neither field', cold({ retention: {} }), ['spec.cold.retention', 'needs keepLast, maxAge or both']],
    ['job method without a template', cold({ method: 'job' }), ['spec.cold.jobTemplate', 'is required when method is job']],
    ['an unparseable duration', { tier: 'hot', primary, rpoTarget: '1d' }, ['spec.rpoTarget', '"1d" is not a duration']],
    ['a zero duration', { tier: 'hot', primary, rpoTarget: '0s' }, ['"0s" must be greater than zero']],
    ['a negative threshold', { tier: 'hot', primary, promotion: { failureThreshold: '-30s' } }, ['spec.promotion.failureThreshold', '"-30s" must be zero or more']],
    ['hot replicas 0', { tier: 'hot', primary, hot: { replicas: 0 } }, ['spec.hot.replicas', 'should be greater than or equal to 1']],
    ['maxPromotions.count 0', { tier: 'hot', primary, promotion: { maxPromotions: { count: 0 } } }, ['spec.promotion.maxPromotions.count', 'should be greater than or equal to 1']],
    ['unknown workload kind', { tier: 'hot', primary: { ...primary, workload: { kind: 'DaemonSet', name: 'db' } } }, ['spec.primary.workload.kind', 'Unsupported value: "DaemonSet"']],
    ['empty workload name', { tier: 'hot', primary: { ...primary, workload: { kind: 'StatefulSet', name: '' } } }, ['spec.primary.workload.name']],
    ['unknown engine', { tier: 'hot', primary, engine: { type: 'oracle' } }, ['spec.engine.type', 'Unsupported value: "oracle"']],
    ['postgresql without its block', { tier: 'hot', primary, engine: { type: 'postgresql' } }, ['spec.engine.postgresql', 'replicationSecret']],
    ['engine method with the generic engine', { tier: 'warm', primary, warm: { schedule: '@hourly', method: 'engine' } }, ['spec.warm.method', 'needs an engine that makes copies']],
    ['unknown promotion mode', { tier: 'hot', primary, promotion: { mode: 'yolo' } }, ['spec.promotion.mode', 'Unsupported value: "yolo"']],
    ['primary.namespace without a cluster', { tier: 'hot', primary: { ...primary, namespace: 'shop' } }, ['spec.primary.namespace', 'needs spec.primary.cluster']],
    ['a remote primary with warm volumeSnapshot (the default)', { tier: 'warm', primary: remotePrimary, warm: { schedule: '@hourly' } }, ['spec.warm.method', 'CSI snapshots do not cross clusters']],
    ['a remote primary with cold volumeSnapshot', { tier: 'cold', primary: remotePrimary, cold: { schedule: '@daily', method: 'volumeSnapshot' } }, ['spec.cold.method', 'volumeSnapshot cannot be used with spec.primary.cluster']],
    ['a remote primary with primaryService traffic', { tier: 'hot', primary: remotePrimary, traffic: { mode: 'primaryService' } }, ['spec.traffic.mode', 'primaryService cannot be used with spec.primary.cluster']],
    ['a remote primary with scaleDown fencing', { tier: 'hot', primary: remotePrimary, promotion: { fencing: 'scaleDown' } }, ['spec.promotion.fencing', 'scaleDown cannot be used']],
    ['a remote PostgreSQL primary without primaryEndpoint', { tier: 'hot', primary: remotePrimary, engine: { type: 'postgresql', postgresql: { replicationSecret: 'r' } } }, ['spec.engine.postgresql.primaryEndpoint', 'is required with spec.primary.cluster']],
    ['a remote PostgreSQL primary, warm (not supported yet)', { tier: 'warm', primary: remotePrimary, warm: { schedule: '@hourly', method: 'engine' }, engine: { type: 'postgresql', postgresql: { replicationSecret: 'r', primaryEndpoint: { host: 'db.example.com', caSecret: { name: 'ca' } } } } }, ['spec.tier', 'supports only tier hot so far']],
  ])('%s', async (_name, spec, words) => {
    const message = await refusal(site(spec));
    for (const w of words) expect(message).toContain(w);
  });

  // The site is named db (as is the primary), so <site>-active is db-active and <site>-standby db-standby.
  test.each<[string, Record<string, unknown>, string, string]>([
    ['traffic.service is the primary Service', { tier: 'hot', primary, traffic: { service: 'db' } }, 'spec.traffic.service', '"db" is also spec.primary.service'],
    ['the primary Service is named <site>-active', { tier: 'hot', primary: { ...primary, service: 'db-active' } }, 'spec.primary.service', '"db-active" is the default name of the traffic Service'],
    ['the primary Service is named <site>-standby', { tier: 'hot', primary: { ...primary, service: 'db-standby' } }, 'spec.primary.service', '"db-standby" is the name of the standby\'s Service'],
    ['traffic.service is named <site>-standby', { tier: 'hot', primary, traffic: { service: 'db-standby' } }, 'spec.traffic.service', '"db-standby" is the name of the standby\'s own Service'],
    ['the primary workload is named <site>-standby', { tier: 'hot', primary: { ...primary, workload: { kind: 'Deployment', name: 'db-standby' } } }, 'spec.primary.workload.name', '"db-standby" is the name of the standby, a Deployment'],
    ['traffic.service in primaryService mode', { tier: 'hot', primary, traffic: { mode: 'primaryService', service: 'db-rw' } }, 'spec.traffic.service', '"db-rw" is not used in traffic.mode primaryService'],
  ])('a name the operator owns: %s (the same message as the controller gives)', async (_name, spec, field, words) => {
    const message = await refusal(site(spec, 'db'));
    expect(message).toContain(`${field}: Invalid value`);
    expect(message).toContain(words);
    // One definition, two enforcers: the controller's check words it exactly as the API server does.
    const v = validateSpec(spec, 'db');
    expect(v.ok).toBe(false);
    const mine = v.ok ? undefined : v.problems.find((p) => p.field === field);
    expect(mine?.message).toContain(words);
    expect(message).toContain(mine?.message);
  });

  test.each<[string, Record<string, unknown>]>([
    ['traffic.service named <site>-active', { tier: 'hot', primary, traffic: { service: 'db-active' } }],
    ['primaryService mode naming the primary Service', { tier: 'hot', primary, traffic: { mode: 'primaryService', service: 'db' } }],
    ['a primary Service named <site>-active in primaryService mode', { tier: 'hot', primary: { ...primary, service: 'db-active' }, traffic: { mode: 'primaryService' } }],
  ])('no name conflict: %s', async (_name, spec) => {
    await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: site(spec, 'db') });
  });

  // The timing rule of automatic site failover, in CEL and in the controller: the same verdicts.
  const witness = { kubeconfigSecret: { name: 'witness' } };
  const failover = (f: Record<string, unknown>) => ({ tier: 'hot', primary: remotePrimary, promotion: { siteFailover: { mode: 'automatic', witness, ...f } } });
  test.each<[string, Record<string, unknown>, string, string]>([
    ['automatic without a witness', { tier: 'hot', primary: remotePrimary, promotion: { siteFailover: { mode: 'automatic' } } }, 'spec.promotion.siteFailover.witness', 'is required with mode automatic'],
    ['automatic with the primary in this cluster', { tier: 'hot', primary, promotion: { siteFailover: { mode: 'automatic', witness } } }, 'spec.promotion.siteFailover.mode', 'automatic site failover needs spec.primary.cluster'],
    ['a safety margin as long as the lease', failover({ safetyMargin: '30s' }), 'spec.promotion.siteFailover.safetyMargin', 'safetyMargin must be less than leaseDuration'],
    ['renewals that cannot be retried before the self-fence', failover({ renewInterval: '20s' }), 'spec.promotion.siteFailover.renewInterval', 'renewInterval + 2 × requestTimeout must be at most leaseDuration − safetyMargin'],
    ['a takeover before the old primary has fenced itself', failover({ acquireAfter: '4s' }), 'spec.promotion.siteFailover.acquireAfter', '(leaseDuration − safetyMargin) × 1.001 + fenceWithin must be less than'],
    // 25 s × 1.001 + 10 s = 35.025 s is not below (30 s + 5.06 s) × 0.999 = 35.025 s: the drift decides.
    ['a takeover that only clock drift makes unsafe', failover({ acquireAfter: '5060ms' }), 'spec.promotion.siteFailover.acquireAfter', 'must be less than'],
  ])('site failover: %s (the same message as the controller gives)', async (_name, spec, field, words) => {
    const message = await refusal(site(spec, 'db'));
    expect(message).toContain(field);
    expect(message).toContain(words);
    const v = validateSpec(spec, 'db');
    expect(v.ok).toBe(false);
    const mine = v.ok ? undefined : v.problems.find((p) => p.field === field);
    expect(mine?.message).toContain(words);
  });

  test.each<[string, Record<string, unknown>]>([
    ['the defaults', failover({})],
    ['short test timings', failover({ leaseDuration: '8s', renewInterval: '2s', requestTimeout: '1s', safetyMargin: '2s', acquireAfter: '8s', fenceWithin: '3s' })],
    ['just safe with drift', failover({ acquireAfter: '5100ms' })],
  ])('site failover accepted: %s, by both', async (_name, spec) => {
    await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: site(spec, 'db') });
    const v = validateSpec(spec, 'db');
    expect(v.ok ? [] : v.problems).toEqual([]);
  });

  test('a name longer than 40 characters', async () => {
    const message = await refusal(site({ tier: 'hot', primary }, 'x'.repeat(41)));
    expect(message).toContain('metadata.name has at most 40 characters');
  });

  test('a good spec passes, with the defaults filled in by the API server', async () => {
    const out = await kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { input: site({ tier: 'hot', primary }, 'good') });
    const obj = JSON.parse(out) as { spec: Record<string, unknown> };
    expect(obj.spec).toMatchObject({
      engine: { type: 'generic' },
      traffic: { mode: 'operatorService' },
      promotion: { mode: 'automatic', failureThreshold: '30s', fencing: 'networkPolicy', maxPromotions: { count: 1, window: '1h' } },
      deletionPolicy: { snapshots: 'Retain', standbyVolumes: 'Retain' },
    });
  });

  test('a hot PostgreSQL standby of a primary in another cluster passes, primaryEndpoint defaulted', async () => {
    const spec = { tier: 'hot', primary: remotePrimary, engine: { type: 'postgresql', postgresql: { replicationSecret: 'r', primaryEndpoint: { host: 'db.example.com', caSecret: { name: 'ca' } } } } };
    const out = await kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { input: site(spec, 'remote-pg') });
    const obj = JSON.parse(out) as { spec: { engine: { postgresql: { primaryEndpoint: unknown } } } };
    expect(obj.spec.engine.postgresql.primaryEndpoint).toEqual({ host: 'db.example.com', port: 5432, caSecret: { name: 'ca', key: 'ca.crt' } });
  });
});

test('kubectl get shows the printer columns, -o wide the extra ones', async () => {
  const name = `columns-${Date.now().toString(36)}`;
  await kubectl(['apply', '-f', '-'], { input: site({ tier: 'cold', primary, cold: { schedule: '@daily' } }, name) });
  try {
    const table = await kubectl(['get', 'standbysites', name]);
    expect(table.split('\n')[0]).toMatch(/^NAME\s+TIER\s+ACTIVE\s+PRIMARY\s+DATA AGE\s+RTO\s+LAG\s+PHASE\s+AGE$/);
    expect(table.split('\n')[1]).toMatch(new RegExp(`^${name}\\s+cold\\s+`));
    const wide = await kubectl(['get', 'sbs', name, '-o', 'wide']);
    expect(wide.split('\n')[0]).toMatch(/AGE\s+LAST SYNC\s+NEXT SYNC\s+LAST PROMOTION\s+RESERVED CPU\s+RESERVED MEMORY\s+COPY STORAGE$/);
  } finally {
    await kubectl(['delete', 'standbysite', name]);
  }
});

test('a site stored before a name rule existed still gets its status and labels; its spec cannot keep the conflict through a change of those fields', async () => {
  // The CRD as it was before the root rules: create a conflicting site with it, then upgrade.
  const crd = buildCrd() as { spec: { versions: { schema: { openAPIV3Schema: { 'x-kubernetes-validations': unknown[] } } }[] } };
  const root = crd.spec.versions[0]!.schema.openAPIV3Schema;
  root['x-kubernetes-validations'] = root['x-kubernetes-validations'].slice(0, 1);
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: JSON.stringify(crd) });
  const name = `old-${Date.now().toString(36)}`;
  const conflicting = { tier: 'hot', primary: { workload: { kind: 'StatefulSet', name }, service: name }, traffic: { service: name } };
  await waitFor(() => kubectl(['apply', '-f', '-'], { input: site(conflicting, name) }), { timeoutMs: 30_000, description: 'the old CRD served' });
  try {
    await installCrd();
    await waitFor(() => refusal(site(conflicting, `${name}-new`)).then(() => true), { timeoutMs: 30_000, description: 'the new CRD served' });
    // The operator's status write and a label pass: the conflicting fields did not change.
    await kubectl(['-n', 'default', 'patch', 'standbysite', name, '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Degraded"}}']);
    await kubectl(['-n', 'default', 'label', 'standbysite', name, 'team=data']);
    // A change of other fields passes too; changing the fields in conflict while keeping the conflict does not.
    await kubectl(['-n', 'default', 'patch', 'standbysite', name, '--type=merge', '-p', '{"spec":{"hot":{"replicas":2}}}']);
    const moved = await kubectl(['-n', 'default', 'patch', 'standbysite', name, '--type=merge', '-p', '{"spec":{"primary":{"service":"other"},"traffic":{"service":"other"}}}']).then(
      () => 'accepted',
      (err: unknown) => (err as Error).message,
    );
    expect(moved).toContain('"other" is also spec.primary.service');
    await kubectl(['-n', 'default', 'patch', 'standbysite', name, '--type=merge', '-p', `{"spec":{"traffic":{"service":"${name}-active"}}}`]);
  } finally {
    await kubectl(['-n', 'default', 'delete', 'standbysite', name, '--ignore-not-found']);
    await installCrd();
  }
});

