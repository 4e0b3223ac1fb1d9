// The StandbySite as an API resource, for the generic client and informers (src/k8s/).
import { resource, type Resource } from '../k8s/resources.ts';
import { GROUP, KIND, PLURAL, VERSION } from './site.ts';

export const SITE_RESOURCE: Resource = resource(GROUP, VERSION, PLURAL, KIND);
