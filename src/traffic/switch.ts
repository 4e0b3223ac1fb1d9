// The Switching step of a promotion: the Service clients use selects the promoted standby's pods.
// In operatorService mode the operator's own Service; in primaryService mode (opt-in) the selector
// of the user's primary Service, and nothing else of it.
import type { V1Service } from '@kubernetes/client-node';
import type { StandbySite } from '../api/site.ts';
import type { ObjectActions } from '../k8s/actions.ts';
import { isConflict } from '../k8s/client.ts';
import { released } from '../promotion/release.ts';
import { ANNOTATION_ACTIVE, names } from '../site/names.ts';
import { DONE, failed, type StepResult } from '../site/step.ts';
import { sameSelector } from './holds.ts';
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

/**
 * While a promotion runs (operatorService mode): the traffic Service is no longer the site's
 * (deleting the site must not garbage-collect what clients use), and its selector is left as it
 * is: only the Switching step moves it, and a stale view must never move it back. Deleted, it is
 * re-created where it pointed before the promotion (the fenced primary), so clients keep a name;
 * created only, never overwritten.
 */
export async function holdTraffic(
  site: StandbySite,
  i: Pick<SwitchInput, 'primaryService' | 'trafficService'>,
  act: ObjectActions,
): Promise<void> {
  const ns = site.metadata.namespace;
  const name = names.traffic(site.metadata.name, site.spec);
  const live = i.trafficService;
  if (live) {
    const refs = live.metadata?.ownerReferences ?? [];
    const kept = refs.filter((r) => r.uid !== site.metadata.uid);
    if (kept.length === refs.length) return;
    try {
      await act.patch('Service', ns, name, {
        metadata: { resourceVersion: live.metadata?.resourceVersion, ownerReferences: kept.length ? kept : null },
      });
    } catch (err) {
      // Changed since cached (perhaps released a moment ago): the next look decides again.
      if (!isConflict(err)) throw err;
    }
    return;
  }
  if (!i.primaryService) return;
  await act.ensure(released(buildTrafficService(site, i.primaryService, 'primary')));
}

/**
 * After the promotion: the clients' Service must keep selecting the promoted standby. A reverted
 * selector (a GitOps self-heal of the primary Service) is put back; returns the selector it found,
 * or undefined when nothing was changed.
 */
export async function keepTraffic(site: StandbySite, i: SwitchInput, act: ObjectActions): Promise<Record<string, string> | undefined> {
  const primaryMode = site.spec.traffic.mode === 'primaryService';
  const svc = primaryMode ? i.primaryService : i.trafficService;
  if (!svc || sameSelector(svc.spec?.selector, i.selector)) return undefined;
  const name = primaryMode ? site.spec.primary.service : names.traffic(site.metadata.name, site.spec);
  await act.jsonPatch('Service', site.metadata.namespace, name, [{ op: 'replace', path: '/spec/selector', value: i.selector }]);
  return svc.spec?.selector ?? {};
}
