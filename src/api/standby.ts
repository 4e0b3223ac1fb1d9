// spec.standby: a standby smaller than the primary while it stands by (per-container requests
// and limits), grown back to the primary's on promotion.
import { z } from 'zod';
import { parseQuantity } from '../k8s/quantity.ts';
import { section, text, withRules } from './fields.ts';

// A resource quantity as Kubernetes writes it (CPU 250m or 0.5, memory 256Mi or 1G): the CEL
// rules below compare them with the API server's quantity() library.
const resourceQuantity = text('a resource quantity such as 250m, 0.5 or 256Mi', 32).regex(
  /^([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/,
  { error: (iss) => `"${String(iss.input)}" is not a resource quantity; write it as Kubernetes does, e.g. 250m or 0.5 (CPU), 256Mi (memory)` },
);

const cpuMemory = (what: string) =>
  z
    .object({
      cpu: resourceQuantity.optional().meta({ description: `CPU ${what}, e.g. 250m.` }),
      memory: resourceQuantity.optional().meta({ description: `Memory ${what}, e.g. 256Mi.` }),
    })
    .meta({ description: `The standby container's ${what} (cpu, memory).` });

const RESOURCES = ['cpu', 'memory'] as const;

const containerResources = withRules(
  z.object({ requests: cpuMemory('requests').optional(), limits: cpuMemory('limits').optional() }),
  [
    ...RESOURCES.flatMap((r) =>
      (['requests', 'limits'] as const).map((k) => ({
        rule: `!has(self.${k}) || !has(self.${k}.${r}) || quantity(self.${k}.${r}).isGreaterThan(quantity('0'))`,
        message: `must be more than zero: a standby container with no ${r} ${k === 'requests' ? 'reserved' : 'allowed'} cannot stand in for the primary; give a smaller value, or leave it out to keep the primary's`,
        fieldPath: `.${k}.${r}`,
        holds: (c: { requests?: Partial<Record<string, string>>; limits?: Partial<Record<string, string>> }) => {
          const q = c[k]?.[r];
          return q === undefined || (parseQuantity(q) ?? 0) > 0;
        },
        path: [k, r],
      })),
    ),
    ...RESOURCES.map((r) => ({
      rule: `!has(self.requests) || !has(self.limits) || !has(self.requests.${r}) || !has(self.limits.${r}) || quantity(self.limits.${r}).compareTo(quantity(self.requests.${r})) >= 0`,
      message: `must not be below requests.${r}: a container's limit is at least its request`,
      fieldPath: `.limits.${r}`,
      holds: (c: { requests?: Partial<Record<string, string>>; limits?: Partial<Record<string, string>> }) => {
        const req = c.requests?.[r];
        const lim = c.limits?.[r];
        return req === undefined || lim === undefined || (parseQuantity(lim) ?? 0) >= (parseQuantity(req) ?? 0);
      },
      path: ['limits', r],
    })),
  ],
  "One standby container's CPU and memory. A value left out is the primary's, lowered when needed to stay within the values given (a request never above its limit).",
);

export const standby = section('the standby while it stands by: {resources}', {
  resources: z
    .record(text('a container name', 63), containerResources)
    // Bounded, so that the API server's CEL cost estimate of the rules per container stays small.
    .refine((m) => Object.keys(m).length <= 32, { error: 'names at most 32 containers' })
    .optional()
    .meta({
      maxProperties: 32,
      description:
        "Requests and limits of the standby's containers while it stands by, by container name (a container not named keeps the primary's), e.g. {db: {requests: {cpu: 250m, memory: 256Mi}}}. " +
        'Hot: the running standby; warm: what it starts with. Less than the primary is allowed: on promotion, after traffic switches, the standby grows back to the ' +
        "primary's requests and limits (the Growing step, within promotion.stepTimeout): in place through the pods' resize subresource where the cluster allows it (no restart), else by a rolling update of its pods (status.promotion.growth says which). " +
        'Not for the cold tier (no standby runs), nor yet with engine.type postgresql. ' +
        'The number of standby pods stays hot.replicas.',
    }),
}).meta({ description: "How the standby differs from the primary while it stands by: a smaller standby costs less, and grows to the primary's capacity on promotion." });
