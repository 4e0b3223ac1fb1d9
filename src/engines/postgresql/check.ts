// Problems with what the PostgreSQL engine refers to, as sentences naming the
// field to fix: the Secrets and their keys, the postgres container and the
// volume of its data directory. Never throws.
import { isStatefulSet, podTemplateOf } from '../../site/workload.ts';
import type { EngineContext, EngineIO } from '../engine.ts';
import { crossSiteEndpoint, readEndpointCa } from './endpoint.ts';
import { readCredentials } from './secrets.ts';
import { dataMount, pgSpec, postgresContainer, SECRET_FIELDS } from './settings.ts';

export async function checkSite(ctx: EngineContext, io: EngineIO): Promise<string[]> {
  const spec = pgSpec(ctx.site);
  const ns = ctx.site.metadata.namespace;
  const problems: string[] = [];
  const secrets: [string, string][] = [[spec.replicationSecret, SECRET_FIELDS.replication]];
  if (spec.superuserSecret && spec.superuserSecret !== spec.replicationSecret) secrets.push([spec.superuserSecret, SECRET_FIELDS.superuser]);
  for (const [name, field] of secrets) {
    const c = await readCredentials(io, ns, name, field);
    if (!c.ok) problems.push(c.problem);
  }
  // Across sites the standby's pods mount the CA and verify the primary with it: a Secret that cannot be used stops the build.
  const endpoint = crossSiteEndpoint(ctx.site);
  if (endpoint) {
    const ca = await readEndpointCa(io, ns, endpoint);
    if (!ca.ok) problems.push(ca.problem);
  }

  const workload = `${ctx.primary.kind ?? 'workload'} ${ctx.primary.metadata?.name ?? ''}`;
  const template = podTemplateOf(ctx.primary);
  const container = postgresContainer(template, spec.container);
  if (!container) {
    const have = (template.spec?.containers ?? []).map((c) => c.name).join(', ') || 'none';
    problems.push(
      spec.container
        ? `container ${spec.container} (spec.engine.postgresql.container) is not in the pod template of ${workload}; its containers: ${have}`
        : `the pod template of ${workload} has no container`,
    );
    return problems;
  }
  const mount = dataMount(container, spec.dataDirectory);
  if (!mount) {
    problems.push(
      `the data directory ${spec.dataDirectory} (spec.engine.postgresql.dataDirectory) is on no volume mount of container ${container.name} in ${workload}; the engine copies data between volumes`,
    );
  } else {
    const copiesIntoClaims =
      (ctx.tier === 'warm' && ctx.site.spec.warm?.method === 'engine') || (ctx.tier === 'cold' && ctx.site.spec.cold?.method === 'engine');
    if (copiesIntoClaims && !ctx.volumes.some((v) => v.volume === mount.name)) {
      problems.push(
        `the data directory ${spec.dataDirectory} is on volume ${mount.name}, which is not a PersistentVolumeClaim of ${workload}; method engine copies into standby PVCs`,
      );
    }
  }
  if (ctx.tier === 'hot' && !isStatefulSet(ctx.primary) && (ctx.site.spec.hot?.replicas ?? 1) > 1) {
    problems.push(
      `hot.replicas is ${ctx.site.spec.hot?.replicas ?? 1}, but the standby of ${workload} is a Deployment whose pods share one data volume; use 1 (or a StatefulSet primary for more replicas)`,
    );
  }
  const pgdata = container.env?.find((e) => e.name === 'PGDATA');
  if (pgdata?.value && pgdata.value.replace(/\/+$/, '') !== spec.dataDirectory.replace(/\/+$/, '')) {
    problems.push(
      `container ${container.name} sets PGDATA=${pgdata.value} but spec.engine.postgresql.dataDirectory is ${spec.dataDirectory}; make them the same`,
    );
  }
  return problems;
}
