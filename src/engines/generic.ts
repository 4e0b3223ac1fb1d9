// The generic engine: works for any workload. Data moves by storage snapshots
// or the user's Jobs; the standby is configured by the user's env; promotion
// is the user's optional Job plus the traffic switch.
import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import type { Engine, EngineContext, EngineObservation } from './engine.ts';
import type { PodTemplate } from '../api/spec.ts';

function addEnv(template: V1PodTemplateSpec, env: readonly { name: string; [k: string]: unknown }[]): V1PodTemplateSpec {
  if (env.length === 0) return template;
  const names = new Set(env.map((e) => e.name));
  const containers = (template.spec?.containers ?? []).map((c) => ({
    ...c,
    env: [...(c.env ?? []).filter((e) => !names.has(e.name)), ...(env as unknown as NonNullable<typeof c.env>)],
  }));
  return { ...template, spec: { ...template.spec!, containers } };
}

/** The user's pod template as a Kubernetes pod template (the schema kept it whole). */
export function asPodTemplate(t: PodTemplate | undefined): V1PodTemplateSpec | undefined {
  return t;
}

export const genericEngine: Engine = {
  type: 'generic',
  measuresLag: false,
  standbyTemplate(ctx: EngineContext, template: V1PodTemplateSpec): V1PodTemplateSpec {
    return addEnv(template, ctx.site.spec.engine.generic?.standbyEnv ?? []);
  },
  copyTemplate: () => undefined,
  dumpTemplate: () => undefined,
  restoreTemplate: () => undefined,
  promoteTemplate(ctx: EngineContext) {
    return asPodTemplate(ctx.site.spec.engine.generic?.promoteJobTemplate);
  },
  check: () => Promise.resolve([]),
  observe: (): Promise<EngineObservation> => Promise.resolve({}),
};
