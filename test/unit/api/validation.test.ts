import { describe, expect, test } from 'vitest';
import { describeProblems, validateSpec } from '../../../src/api/site.ts';

const primary = { workload: { kind: 'StatefulSet', name: 'orders-db' }, service: 'orders-db' };
const cold = { tier: 'cold', primary, cold: { schedule: '0 2 * * *' } };
const warm = { tier: 'warm', primary, warm: { schedule: '*/15 * * * *' } };
const hot = { tier: 'hot', primary };
const remote = { kubeconfigSecret: { name: 'primary-cluster' } };
const remotePrimary = { ...primary, cluster: remote };

type Spec = Record<string, unknown>;
const withCold = (c: Spec): Spec => ({ ...cold, cold: { schedule: '0 2 * * *', ...c } });
const withPromotion = (p: Spec): Spec => ({ ...hot, promotion: p });

// Each row: a bad spec, the field the message must name, and words the message must contain.
const badSpecs: [string, Spec, string, string[]][] = [
  ['unknown tier', { ...cold, tier: 'lukewarm' }, 'spec.tier', ['"lukewarm" is not a tier', 'allowed: cold, warm, hot']],
  ['missing tier', { primary }, 'spec.tier', ['is required', 'allowed: cold, warm, hot']],
  ['cold without its block', { tier: 'cold', primary }, 'spec.cold', ['required when tier is cold', 'cold.schedule']],
  ['warm without its block', { tier: 'warm', primary }, 'spec.warm', ['required when tier is warm', 'warm.schedule']],
  ['cold without schedule', { ...cold, cold: {} }, 'spec.cold.schedule', ['is required', '5 fields']],
  ['warm without schedule', { ...warm, warm: { method: 'volumeSnapshot' } }, 'spec.warm.schedule', ['is required']],
  ['4-field cron', withCold({ schedule: '0 2 * *' }), 'spec.cold.schedule', ['"0 2 * *" has 4 fields', 'exactly 5 fields']],
  ['6-field cron (seconds)', withCold({ schedule: '0 0 2 * * *' }), 'spec.cold.schedule', ['has 6 fields', 'no seconds field']],
  ['minute out of range', withCold({ schedule: '61 2 * * *' }), 'spec.cold.schedule', ['minute "61" is not valid', 'minute 0-59']],
  ['hour out of range', withCold({ schedule: '0 24 * * *' }), 'spec.cold.schedule', ['hour "24" is not valid', 'hour 0-23']],
  ['day of month zero', withCold({ schedule: '0 2 0 * *' }), 'spec.cold.schedule', ['day of month "0"', '1-31']],
  ['month 13', withCold({ schedule: '0 2 1 13 *' }), 'spec.cold.schedule', ['month "13"', 'JAN-DEC']],
  ['day of week 7', withCold({ schedule: '0 2 * * 7' }), 'spec.cold.schedule', ['day of week "7"', '0-6 or SUN-SAT']],
  ['backwards range', withCold({ schedule: '0 9-5 * * *' }), 'spec.cold.schedule', ['"9-5" runs backwards']],
  ['zero step', withCold({ schedule: '*/0 * * * *' }), 'spec.cold.schedule', ['minute "*/0" is not valid']],
  ['CRON_TZ prefix', withCold({ schedule: 'CRON_TZ=Europe/Berlin 0 2 * * *' }), 'spec.cold.schedule', ['CRON_TZ= or TZ=', 'timeZone field']],
  ['TZ prefix', withCold({ schedule: 'TZ=UTC 0 2 * * *' }), 'spec.cold.schedule', ['CRON_TZ= or TZ=']],
  ['unknown descriptor', withCold({ schedule: '@every 5m' }), 'spec.cold.schedule', ['"@every 5m" is not a known descriptor', '@hourly']],
  ['unknown time zone', withCold({ timeZone: 'Mars/Olympus_Mons' }), 'spec.cold.timeZone', ['not a time zone in the IANA database']],
  ['malformed time zone', withCold({ timeZone: 'UTC+2 hours' }), 'spec.cold.timeZone', ['not an IANA time zone name']],
  ['Local time zone', withCold({ timeZone: 'Local' }), 'spec.cold.timeZone', ['not a time zone in the IANA database']],
  ['drill with a seconds field', { ...hot, drill: { schedule: '0 0 3 * * *' } }, 'spec.drill.schedule', ['has 6 fields', 'no seconds field']],
  ['drill schedule out of range', { ...hot, drill: { schedule: '0 25 * * *' } }, 'spec.drill.schedule', ['hour "25" is not valid']],
  ['drill with CRON_TZ', { ...hot, drill: { schedule: 'CRON_TZ=UTC 0 3 * * *' } }, 'spec.drill.schedule', ['timeZone field']],
  ['drill in an unknown time zone', { ...hot, drill: { schedule: '0 3 * * *', timeZone: 'Mars/Olympus_Mons' } }, 'spec.drill.timeZone', ['not a time zone in the IANA database']],
  ['drill timeout zero', { ...hot, drill: { timeout: '0s' } }, 'spec.drill.timeout', ['"0s" must be greater than zero']],
  ['drill verify without containers', { ...hot, drill: { verify: { jobTemplate: { spec: { containers: [] } } } } }, 'spec.drill.verify.jobTemplate.spec.containers', ['needs at least one container']],
  ['retention with neither field', withCold({ retention: {} }), 'spec.cold.retention', ['needs keepLast, maxAge or both']],
  ['retention keepLast zero', withCold({ retention: { keepLast: 0 } }), 'spec.cold.retention.keepLast', ['0 is too small', 'at least 1']],
  ['retention maxAge unparseable', withCold({ retention: { maxAge: '30 days' } }), 'spec.cold.retention.maxAge', ['"30 days" is not a duration', 'e.g. 30s, 15m, 720h']],
  ['zero rpoTarget', { ...hot, rpoTarget: '0s' }, 'spec.rpoTarget', ['"0s" must be greater than zero']],
  ['negative rpoTarget', { ...hot, rpoTarget: '-5m' }, 'spec.rpoTarget', ['"-5m" must be greater than zero']],
  ['days are not a Go duration', { ...hot, rpoTarget: '1d' }, 'spec.rpoTarget', ['"1d" is not a duration']],
  ['negative failureThreshold', withPromotion({ failureThreshold: '-30s' }), 'spec.promotion.failureThreshold', ['"-30s" must be zero or more']],
  ['unparseable failureThreshold', withPromotion({ failureThreshold: 'thirty seconds' }), 'spec.promotion.failureThreshold', ['is not a duration']],
  ['numeric duration', withPromotion({ failureThreshold: 30 }), 'spec.promotion.failureThreshold', ['must be a duration', 'got number 30']],
  ['zero maxLag', { ...hot, hot: { maxLag: '0s' } }, 'spec.hot.maxLag', ['must be greater than zero']],
  ['hot replicas zero', { ...hot, hot: { replicas: 0 } }, 'spec.hot.replicas', ['0 is too small', 'at least 1']],
  ['fractional replicas', { ...hot, hot: { replicas: 1.5 } }, 'spec.hot.replicas', ['1.5 is not a whole number']],
  ['maxPromotions count zero', withPromotion({ maxPromotions: { count: 0 } }), 'spec.promotion.maxPromotions.count', ['at least 1']],
  ['maxPromotions window zero', withPromotion({ maxPromotions: { window: '0h' } }), 'spec.promotion.maxPromotions.window', ['must be greater than zero']],
  ['standby request of zero CPU', { ...hot, standby: { resources: { db: { requests: { cpu: '0' } } } } }, 'spec.standby.resources.db.requests.cpu', ['must be more than zero', "keep the primary's"]],
  ['standby request of zero memory', { ...hot, standby: { resources: { db: { requests: { memory: '0Mi' } } } } }, 'spec.standby.resources.db.requests.memory', ['must be more than zero']],
  ['standby limit of zero', { ...hot, standby: { resources: { db: { limits: { cpu: '0m' } } } } }, 'spec.standby.resources.db.limits.cpu', ['must be more than zero']],
  ['standby limit below its request', { ...hot, standby: { resources: { db: { requests: { memory: '512Mi' }, limits: { memory: '256Mi' } } } } }, 'spec.standby.resources.db.limits.memory', ['must not be below requests.memory']],
  ['standby CPU limit below its request', { ...hot, standby: { resources: { db: { requests: { cpu: '1' }, limits: { cpu: '500m' } } } } }, 'spec.standby.resources.db.limits.cpu', ['must not be below requests.cpu']],
  ['standby quantity malformed', { ...hot, standby: { resources: { db: { requests: { cpu: 'a quarter' } } } } }, 'spec.standby.resources.db.requests.cpu', ['"a quarter" is not a resource quantity', '250m']],
  ['standby resources with the PostgreSQL engine', { ...hot, engine: { type: 'postgresql', postgresql: { replicationSecret: 'repl' } }, standby: { resources: { db: { requests: { cpu: '250m' } } } } }, 'spec.standby.resources', ['cannot be used with engine.type postgresql yet', 'restarts its pod']],
  ['standby resources on the cold tier', { ...cold, standby: { resources: { db: { requests: { cpu: '250m' } } } } }, 'spec.standby.resources', ['cannot be used with tier cold', 'no standby runs']],
  ['unknown workload kind', { ...hot, primary: { ...primary, workload: { kind: 'DaemonSet', name: 'x' } } }, 'spec.primary.workload.kind', ['"DaemonSet" is not a supported workload kind', 'StatefulSet, Deployment']],
  ['empty workload name', { ...hot, primary: { ...primary, workload: { kind: 'StatefulSet', name: '' } } }, 'spec.primary.workload.name', ['must not be empty']],
  ['upper-case workload name', { ...hot, primary: { ...primary, workload: { kind: 'StatefulSet', name: 'OrdersDB' } } }, 'spec.primary.workload.name', ['"OrdersDB" is not a valid name']],
  ['missing primary', { tier: 'hot' }, 'spec.primary', ['is required']],
  ['empty service name', { ...hot, primary: { ...primary, service: '' } }, 'spec.primary.service', ['must not be empty']],
  ['service name with a dot', { ...hot, primary: { ...primary, service: 'orders.db' } }, 'spec.primary.service', ['not a valid Service name']],
  ['unknown engine', { ...hot, engine: { type: 'oracle' } }, 'spec.engine.type', ['"oracle" is not a known engine', 'generic, postgresql']],
  ['postgresql without its block', { ...hot, engine: { type: 'postgresql' } }, 'spec.engine.postgresql', ['required when engine.type is postgresql', 'replicationSecret']],
  ['postgresql port out of range', { ...hot, engine: { type: 'postgresql', postgresql: { replicationSecret: 's', port: 70000 } } }, 'spec.engine.postgresql.port', ['70000 is too large', 'at most 65535']],
  ['unknown promotion mode', withPromotion({ mode: 'yolo' }), 'spec.promotion.mode', ['"yolo" is not a promotion mode', 'automatic, manual, disabled']],
  ['unknown fencing', withPromotion({ fencing: 'stonith' }), 'spec.promotion.fencing', ['"stonith" is not a fencing method', 'networkPolicy, scaleDown']],
  ['unknown copy method', { ...warm, warm: { schedule: '@hourly', method: 'rsync' } }, 'spec.warm.method', ['"rsync" is not a sync method']],
  ['job method without template', withCold({ method: 'job' }), 'spec.cold.jobTemplate', ['required when method is job']],
  ['engine method with generic engine', { ...warm, warm: { schedule: '@hourly', method: 'engine' } }, 'spec.warm.method', ['needs an engine that makes copies']],
  ['job template without containers', { ...warm, warm: { schedule: '@hourly', method: 'job', jobTemplate: { spec: { containers: [] } } } }, 'spec.warm.jobTemplate.spec.containers', ['needs at least one container']],
  ['unknown deletion policy', { ...hot, deletionPolicy: { snapshots: 'Purge' } }, 'spec.deletionPolicy.snapshots', ['"Purge" is not a deletion policy', 'Retain, Delete']],
  ['unknown traffic mode', { ...hot, traffic: { mode: 'dns' } }, 'spec.traffic.mode', ['"dns" is not a traffic mode']],
  ['spec is not an object', 'hot' as unknown as Spec, 'spec', ['must be a StandbySite spec object', 'got string "hot"']],
  // Names the operator owns (the site is named orders-db in this table).
  ['traffic.service is the primary Service', { ...hot, traffic: { service: 'orders-db' } }, 'spec.traffic.service', ['"orders-db" is also spec.primary.service', 'operator owns spec.traffic.service', 'traffic.mode primaryService']],
  ['primary Service named <site>-active', { ...hot, primary: { ...primary, service: 'orders-db-active' } }, 'spec.primary.service', ['"orders-db-active" is the default name of the traffic Service', 'Set spec.traffic.service to another name']],
  ['primary Service named <site>-standby', { ...hot, primary: { ...primary, service: 'orders-db-standby' } }, 'spec.primary.service', ['"orders-db-standby" is the name of the standby\'s Service', 'site orders-db']],
  ['traffic.service named <site>-standby', { ...hot, traffic: { service: 'orders-db-standby' } }, 'spec.traffic.service', ['"orders-db-standby" is the name of the standby\'s own Service', 'default <site name>-active']],
  ['primary workload named <site>-standby', { ...hot, primary: { ...primary, workload: { kind: 'StatefulSet', name: 'orders-db-standby' } } }, 'spec.primary.workload.name', ['"orders-db-standby" is the name of the standby, a StatefulSet the operator creates']],
  ['traffic.service in primaryService mode', { ...hot, traffic: { mode: 'primaryService', service: 'orders-db-rw' } }, 'spec.traffic.service', ['"orders-db-rw" is not used in traffic.mode primaryService', 'spec.primary.service "orders-db"']],
  // A primary in another cluster (spec.primary.cluster).
  ['primary.namespace without a cluster', { ...hot, primary: { ...primary, namespace: 'shop' } }, 'spec.primary.namespace', ['needs spec.primary.cluster']],
  ['kubeconfigSecret without a name', { ...hot, primary: { ...primary, cluster: { kubeconfigSecret: {} } } }, 'spec.primary.cluster.kubeconfigSecret.name', ['is required']],
  ['a bad primary namespace', { ...hot, primary: { ...primary, cluster: remote, namespace: 'Shop_1' } }, 'spec.primary.namespace', ['"Shop_1" is not a namespace name']],
  ['a remote primary with cold volumeSnapshot', { ...cold, primary: remotePrimary }, 'spec.cold.method', ['volumeSnapshot cannot be used with spec.primary.cluster', 'CSI snapshots do not cross clusters']],
  ['a remote primary with warm volumeSnapshot (the default)', { ...warm, primary: remotePrimary }, 'spec.warm.method', ['volumeSnapshot cannot be used with spec.primary.cluster']],
  ['a remote primary with primaryService traffic', { ...hot, primary: remotePrimary, traffic: { mode: 'primaryService' } }, 'spec.traffic.mode', ['primaryService cannot be used with spec.primary.cluster']],
  ['a remote primary with scaleDown fencing', { ...hot, primary: remotePrimary, promotion: { fencing: 'scaleDown' } }, 'spec.promotion.fencing', ['scaleDown cannot be used with spec.primary.cluster']],
  ['a remote PostgreSQL primary without primaryEndpoint', { ...hot, primary: remotePrimary, engine: { type: 'postgresql', postgresql: { replicationSecret: 'r' } } }, 'spec.engine.postgresql.primaryEndpoint', ['is required with spec.primary.cluster', 'over TLS']],
  ['primaryEndpoint without a CA', { ...hot, primary: remotePrimary, engine: { type: 'postgresql', postgresql: { replicationSecret: 'r', primaryEndpoint: { host: 'db.example.com' } } } }, 'spec.engine.postgresql.primaryEndpoint.caSecret', ['is required']],
  ['a remote PostgreSQL primary, warm (not supported yet)', { ...warm, primary: remotePrimary, warm: { schedule: '@hourly', method: 'engine' }, engine: { type: 'postgresql', postgresql: { replicationSecret: 'r', primaryEndpoint: { host: '10.0.0.5', caSecret: { name: 'ca' } } } } }, 'spec.tier', ['supports only tier hot so far', 'warm base backups and cold dumps across sites are not supported yet']],
  ['a remote PostgreSQL primary, cold (not supported yet)', { ...cold, primary: remotePrimary, cold: { schedule: '@daily', method: 'engine' }, engine: { type: 'postgresql', postgresql: { replicationSecret: 'r', primaryEndpoint: { host: '10.0.0.5', caSecret: { name: 'ca' } } } } }, 'spec.tier', ['supports only tier hot so far', 'use tier hot']],
  ['a bad externalDNS hostname', { ...hot, traffic: { externalDNS: { hostname: 'Orders DB' } } }, 'spec.traffic.externalDNS.hostname', ['"Orders DB" is not a DNS name']],
];

describe('bad specs are refused with a message that names the field, the value and what is allowed', () => {
  test.each(badSpecs)('%s', (_name, spec, field, words) => {
    const result = validateSpec(spec, 'orders-db');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const problem = result.problems.find((p) => p.field === field);
    expect(problem, `no problem for ${field}; got: ${describeProblems(result.problems)}`).toBeDefined();
    for (const word of words) expect(problem!.message).toContain(word);
  });

  test('the table covers at least 25 bad specs', () => {
    expect(badSpecs.length).toBeGreaterThanOrEqual(25);
  });

  test('a site name longer than 40 characters is refused', () => {
    const result = validateSpec(hot, 'x'.repeat(41));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]).toMatchObject({ field: 'metadata.name' });
    expect(validateSpec(hot, 'x'.repeat(40)).ok).toBe(true);
  });
});

describe('good specs pass and get their defaults', () => {
  test('a minimal hot spec', () => {
    const result = validateSpec(hot, 'orders-db');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.engine.type).toBe('generic');
    expect(result.spec.traffic.mode).toBe('operatorService');
    expect(result.spec.promotion).toEqual({
      mode: 'automatic',
      failureThreshold: '30s',
      fencing: 'networkPolicy',
      maxPromotions: { count: 1, window: '1h' },
      stepTimeout: '5m',
      reprotect: 'automatic',
      failback: { mode: 'manual', after: '30m' },
      siteFailover: { mode: 'manual', leaseDuration: '30s', renewInterval: '10s', acquireAfter: '30s', safetyMargin: '5s', requestTimeout: '5s', fenceWithin: '10s' },
    });
    expect(result.spec.deletionPolicy).toEqual({ snapshots: 'Retain', standbyVolumes: 'Retain' });
  });

  test.each([
    ['descriptor', '@daily'],
    ['names and lists', '30 2 * JAN,jul MON-FRI'],
    ['steps', '*/15 8-18/2 1,15 * *'],
    ['question mark', '0 0 ? * 1'],
  ])('schedule with %s', (_n, schedule) => {
    expect(validateSpec(withCold({ schedule }), 'db')).toMatchObject({ ok: true });
  });

  test('cold defaults', () => {
    const result = validateSpec({ ...cold, cold: { schedule: '0 2 * * *', timeZone: 'Europe/Berlin' } }, 'db');
    expect(result.ok && result.spec.cold).toEqual({
      schedule: '0 2 * * *',
      timeZone: 'Europe/Berlin',
      suspend: false,
      method: 'volumeSnapshot',
      retention: { keepLast: 7 },
    });
  });

  test.each<[string, Spec]>([
    ['the default traffic Service', hot],
    ['traffic.service named <site>-active', { ...hot, traffic: { service: 'orders-db-active' } }],
    ['a traffic.service of its own', { ...hot, traffic: { service: 'orders' } }],
    ['primaryService mode without traffic.service', { ...hot, traffic: { mode: 'primaryService' } }],
    ['primaryService mode naming the primary Service', { ...hot, traffic: { mode: 'primaryService', service: 'orders-db' } }],
    ['primaryService mode with a primary Service named <site>-active', { ...hot, primary: { ...primary, service: 'orders-db-active' }, traffic: { mode: 'primaryService' } }],
    ['a primary Service named <site>-active when traffic.service names another', { ...hot, primary: { ...primary, service: 'orders-db-active' }, traffic: { service: 'orders' } }],
  ])('no name conflict: %s', (_n, spec) => {
    expect(validateSpec(spec, 'orders-db')).toMatchObject({ ok: true });
  });

  test('a remote primary: the kubeconfig key defaults to kubeconfig, the namespace to none (the site\'s own)', () => {
    const result = validateSpec({ ...warm, primary: { ...remotePrimary, namespace: 'shop' }, warm: { schedule: '@hourly', method: 'job', jobTemplate: { spec: { containers: [{ name: 'c' }] } } } }, 'orders-db');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.primary.cluster).toEqual({ kubeconfigSecret: { name: 'primary-cluster', key: 'kubeconfig' } });
    expect(result.spec.primary.namespace).toBe('shop');
    // primaryEndpoint's defaults; a hot PostgreSQL standby of a primary in another cluster is accepted.
    const pg = validateSpec({ ...hot, primary: remotePrimary, engine: { type: 'postgresql', postgresql: { replicationSecret: 'r', primaryEndpoint: { host: '10.0.0.5', caSecret: { name: 'ca' } } } } }, 'db');
    expect(pg.ok && pg.spec.engine.postgresql?.primaryEndpoint).toEqual({ host: '10.0.0.5', port: 5432, caSecret: { name: 'ca', key: 'ca.crt' } });
  });

  test('a standby smaller than the primary is allowed (hot and warm), by container name', () => {
    const resources = { db: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '256Mi' } }, sidecar: { limits: { cpu: '0.1' } } };
    for (const base of [hot, warm]) {
      const r = validateSpec({ ...base, standby: { resources } });
      expect(r.ok, JSON.stringify(r)).toBe(true);
      if (r.ok) expect(r.spec.standby?.resources).toEqual(resources);
    }
    // Equal request and limit is a Guaranteed pod: allowed.
    expect(validateSpec({ ...hot, standby: { resources: { db: { requests: { cpu: '1' }, limits: { cpu: '1000m' } } } } }).ok).toBe(true);
    // A cold site without standby.resources is unchanged.
    expect(validateSpec({ ...cold, standby: {} }).ok).toBe(true);
  });

  test('failureThreshold may be zero (promote as soon as readiness fails)', () => {
    expect(validateSpec(withPromotion({ failureThreshold: '0s' }), 'db').ok).toBe(true);
  });
});
