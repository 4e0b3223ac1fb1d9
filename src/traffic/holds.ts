// Whether, after a promotion, the clients' Service still selects the promoted standby: a GitOps
// tool's self-heal of the primary Service (traffic.mode primaryService) puts its old selector
// back and clients go to the fenced primary. Restored by the operator and reported. Pure.
import type { V1Service } from '@kubernetes/client-node';
import { stable } from '../k8s/apply.ts';

export interface TrafficState {
  holds: boolean;
  reason: string;
  message: string;
}

export function sameSelector(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  return stable(a ?? {}) === stable(b);
}

/** `restored`: this reconcile put the selector back (the cache does not show it yet). */
export function trafficState(service: V1Service | undefined, name: string, want: Record<string, string>, restored: boolean): TrafficState {
  if (!service) return { holds: false, reason: 'ServiceMissing', message: `the clients' Service ${name} does not exist` };
  if (restored || sameSelector(service.spec?.selector, want)) {
    return { holds: true, reason: 'Switched', message: `Service ${name} selects the promoted standby's pods` };
  }
  return {
    holds: false,
    reason: 'SelectorReverted',
    message: `Service ${name} selects ${stable(service.spec?.selector ?? {})} instead of the promoted standby (${stable(want)}): clients may reach the fenced old primary; the operator restores it`,
  };
}
