// spec.promotion: when and how the standby takes over (mode, threshold, fencing, the promotion
// budget, step timeout), re-protection, failback and site failover.
import { z } from 'zod';
import { duration, integer, oneOf } from './fields.ts';
import { siteFailover, SITE_FAILOVER_DEFAULTS } from './site-failover.ts';

export const PROMOTION_MODES = ['automatic', 'manual', 'disabled'] as const;
export const FENCING_METHODS = ['networkPolicy', 'scaleDown'] as const;
export const REPROTECT_MODES = ['automatic', 'manual'] as const;
export const FAILBACK_MODES = ['manual', 'automatic'] as const;

const failback = z
  .object({
    mode: oneOf(FAILBACK_MODES, 'a failback mode')
      .default('manual')
      .meta({
        description:
          'manual: fail back to the declared primary on the standby.dev/failback=<token> annotation. automatic: also by itself once the site has been re-protected and stable for `after`.',
      }),
    after: duration('how long the site must be re-protected and stable before an automatic failback', { positive: true })
      .default('30m')
      .meta({ description: 'With mode automatic: how long the site must have been re-protected (Protected, the standby serving) before it fails back.' }),
  })
  .meta({ description: 'Going back to the declared primary after a failover: a planned switchover that loses nothing.' });

const maxPromotions = z
  .object({
    count: integer('the number of promotions allowed per window', 1, 100)
      .default(1)
      .meta({ description: 'Automatic promotions allowed per window (1-100).' }),
    window: duration('the window the promotion budget counts over', { positive: true })
      .default('1h')
      .meta({ description: 'The sliding window the budget counts promotions over (e.g. 1h).' }),
  })
  .meta({ description: 'The promotion budget: at most count automatic promotions per window, so sites cannot ping-pong.' });

export const promotion = z
  .object({
    mode: oneOf(PROMOTION_MODES, 'a promotion mode')
      .default('automatic')
      .meta({
        description:
          'automatic: promote when the primary stays not Ready for failureThreshold. manual: report only; promote with the standby.dev/promote annotation. disabled: never promote.',
      }),
    failureThreshold: duration('how long the primary must stay not Ready before promotion', { positive: false })
      .default('30s')
      .meta({
        description:
          'How long the primary must stay continuously not Ready (none of its pods Ready) before an automatic promotion begins, e.g. 30s or 2m; readiness that comes back restarts the clock. 0s promotes as soon as readiness fails.',
      }),
    fencing: oneOf(FENCING_METHODS, 'a fencing method')
      .default('networkPolicy')
      .meta({
        description:
          "networkPolicy: an operator-owned NetworkPolicy denies all ingress and egress of the old primary's pods. scaleDown: the primary workload is scaled to 0 (GitOps self-heal can undo it).",
      }),
    maxPromotions: maxPromotions.default({ count: 1, window: '1h' }),
    stepTimeout: duration('how long one promotion step may take before the promotion is marked Failed', { positive: true })
      .default('5m')
      .meta({
        description: 'How long one promotion step (fence, promote, switch traffic) may take before the promotion is marked Failed.',
      }),
    reprotect: oneOf(REPROTECT_MODES, 'a re-protection mode')
      .default('automatic')
      .meta({
        description:
          'After a failover, how the old primary becomes the serving standby\'s standby. automatic: as soon as it runs again (its pods Ready behind the fence, or scaled up again). manual: on the standby.dev/reprotect=<token> annotation.',
      }),
    failback: failback.default({ mode: 'manual', after: '30m' }),
    siteFailover: siteFailover.default(SITE_FAILOVER_DEFAULTS),
  })
  .meta({ description: 'When and how the standby takes over.' });
