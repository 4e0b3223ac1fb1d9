// The StandbySite as an API resource, for the generic client and informers (src/k8s/).
import { resource, type Resource } from '../k8s/resources.ts';
import { GUARD_KIND, GUARD_PLURAL } from './guard.ts';
import { GROUP, KIND, PLURAL, VERSION } from './site.ts';

export const SITE_RESOURCE: Resource = resource(GROUP, VERSION, PLURAL, KIND);

/** The StandbySiteGuard (src/api/guard.ts): in the primary's cluster, written by the standby's operator. */
export const GUARD_RESOURCE: Resource = resource(GROUP, VERSION, GUARD_PLURAL, GUARD_KIND);
