// The Switching step of a promotion: the Service clients use selects the promoted standby's pods.
// In operatorService mode the operator's own Service; in primaryService mode (opt-in) the selector
// of the user's primary Service, and nothing else of it.
import type { V1Service } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import type { ObjectActions } from '../k8s/actions.ts';
import { ANNOTATION_ACTIVE, names } from '../site/names.ts';
import { DONE, failed, type StepResult } from '../site/step.ts';
import { ANNOTATION_EXTERNAL_DNS, buildTrafficService } from './service.ts';

export interface SwitchInput {
  primaryService: V1Service | undefined;
  trafficService: V1Service | undefined;
  /** The selector of the promoted side: the standby's pods, narrowed by the engine. */
  selector: Record<string, string>;
}

export async function switchTraffic(site: StandbySite, i: SwitchInput, act: ObjectActions): Promise<StepResult> {
  const ns = site.metadata.namespace;
  if (site.spec.traffic.mode === 'primaryService') {
    if (!i.primaryService) return failed(`Service ${site.spec.primary.service} does not exist`);
    await act.jsonPatch('Service', ns, site.spec.primary.service, [{ op: 'replace', path: '/spec/selector', value: i.selector }]);
    return DONE;
  }
  if (i.trafficService) {
    const hostname = site.spec.traffic.externalDNS?.hostname;
    // add, not replace: the traffic Service of a primary in another cluster has no selector yet.
    await act.jsonPatch('Service', ns, names.traffic(site.metadata.name, site.spec), [
      { op: 'add', path: '/spec/selector', value: i.selector },
      {
        op: 'add',
        path: '/metadata/annotations',
        value: { ...i.trafficService.metadata?.annotations, [ANNOTATION_ACTIVE]: 'standby', ...(hostname ? { [ANNOTATION_EXTERNAL_DNS]: hostname } : {}) },
      },
    ]);
    return DONE;
  }
  if (!i.primaryService) return failed('neither the traffic Service nor the primary Service exists');
  await act.apply(buildTrafficService(site, i.primaryService, 'standby', i.selector));
  return DONE;
}
