// spec.traffic: how clients reach the active side (a Service the operator owns or the primary's
// own), and DNS-based failover through ExternalDNS.
import { z } from 'zod';
import { oneOf, serviceName, text } from './fields.ts';

export const TRAFFIC_MODES = ['operatorService', 'primaryService'] as const;

export const traffic = z
  .object({
    service: serviceName('the Service clients connect to')
      .optional()
      .meta({
        description: 'The Service clients connect to, pointed at the active side. Defaults to <site name>-active.',
      }),
    mode: oneOf(TRAFFIC_MODES, 'a traffic mode')
      .default('operatorService')
      .meta({
        description:
          'operatorService: the operator owns traffic.service and switches its selector (GitOps-safe). ' +
          "primaryService: the operator patches the primary's own Service selector on switchover (needs ignoreDifferences in GitOps tools).",
      }),
    externalDNS: z
      .object({
        hostname: text('a DNS name', 253)
          .regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\.?$/, {
            error: (iss) => `"${String(iss.input)}" is not a DNS name such as orders.db.example.com`,
          })
          .meta({ description: 'The name clients resolve, e.g. orders.db.example.com.' }),
      })
      .optional()
      .meta({
        description:
          "DNS-based failover: the operator puts the ExternalDNS annotation external-dns.alpha.kubernetes.io/hostname on the active side's traffic Service " +
          "(with a remote primary: a traffic Service of the operator's in the primary's cluster until a promotion, the one in this cluster after it) and removes it from the other.",
      }),
  })
  .meta({ description: 'How clients reach the active side.' });
