// The partition suite's trials (issue #16): randomized faults between the primary's site, the
// standby's site and the witness, from one seed, so a failing trial can be run again exactly.
// Pure: what to do when, and what a correct system must show afterwards. The safety property
// (never two writers) holds in every trial; which trials must, may or must not end in a takeover
// follows from what the standby's site can see.
import { rng } from '../../cluster/rng.ts';

export type SiteName = 'primary' | 'standby' | 'witness';

export type Action =
  | { do: 'cut'; a: SiteName; b: SiteName }
  | { do: 'oneWay'; from: SiteName; to: SiteName }
  | { do: 'isolate'; site: SiteName }
  | { do: 'heal' }
  | { do: 'stopSite'; site: 'primary' | 'standby' }
  | { do: 'killOperator'; side: 'primary' | 'standby' };

export interface Step {
  /** ms after the trial's start. */
  at: number;
  action: Action;
}

export type Kind =
  | 'primary|standby'
  | 'primary|witness'
  | 'standby|witness'
  | 'primary isolated'
  | 'witness isolated'
  | 'asymmetric'
  | 'flapping'
  | 'cut and heal in the windows'
  | 'site loss'
  | 'standby site loss'
  | 'operator killed';

export const KINDS: readonly Kind[] = [
  'primary|standby',
  'primary|witness',
  'standby|witness',
  'primary isolated',
  'witness isolated',
  'asymmetric',
  'flapping',
  'cut and heal in the windows',
  'site loss',
  'standby site loss',
  'operator killed',
];

/**
 * The ten slots of the layout (trial i is of slot i % 10). The site-loss slot alternates between
 * the primary's site (even rounds) and the standby's (odd rounds), so that 50 trials keep the
 * layout and the random stream of every other trial (the operator-killed trials 39 and 49 are the
 * same trials as before the standby's site loss was added) and every kind appears.
 */
const SLOTS: readonly Kind[] = KINDS.filter((k) => k !== 'standby site loss');

export function kindOf(index: number): Kind {
  const slot = SLOTS[index % SLOTS.length]!;
  return slot === 'site loss' && Math.floor(index / SLOTS.length) % 2 === 1 ? 'standby site loss' : slot;
}

/** The timing the trials are built around (ms), as promotion.siteFailover and failureThreshold set it. */
export interface TrialTiming {
  leaseDuration: number;
  safetyMargin: number;
  acquireAfter: number;
  failureThreshold: number;
}

export interface Trial {
  index: number;
  kind: Kind;
  steps: Step[];
  /** How long the trial runs (writers write) before the network is healed and the outcome read. */
  duration: number;
  /**
   * required: the primary's site is gone or cut from both other sites for long enough, the standby
   * must take over; forbidden: the standby's site keeps seeing the primary (or cannot reach the
   * witness), a takeover would be a bug; allowed: either is correct.
   */
  takeover: 'required' | 'forbidden' | 'allowed';
  /** Whether the primary must keep serving (a witness outage alone never fences a healthy primary). */
  primaryKeepsServing: boolean;
}

/**
 * `count` trials from `seed`: the kinds in turn (kindOf: every kind appears once count ≥ 20), each with
 * random start offsets, lengths and, for the windows, heal times just before and after the two
 * deadlines that matter (the primary's self-fence, the standby's earliest takeover).
 */
export function trials(seed: number, count: number, t: TrialTiming): Trial[] {
  const rand = rng(seed);
  const between = (lo: number, hi: number) => Math.round(lo + rand() * (hi - lo));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  // Long enough for a takeover after the primary was lost: threshold or lease+acquireAfter, whichever is later, plus room.
  const takeoverBy = Math.max(t.failureThreshold, t.leaseDuration + t.acquireAfter) + 8_000;
  const selfFence = t.leaseDuration - t.safetyMargin;
  const out: Trial[] = [];
  for (let i = 0; i < count; i++) {
    const kind = kindOf(i);
    const start = between(500, 2_500);
    const base = { index: i, kind };
    switch (kind) {
      case 'primary|standby':
      case 'primary|witness':
      case 'standby|witness': {
        const [a, b] = kind.split('|') as [SiteName, SiteName];
        const length = between(takeoverBy / 2, takeoverBy);
        out.push({
          ...base,
          steps: [{ at: start, action: { do: 'cut', a, b } }, { at: start + length, action: { do: 'heal' } }],
          duration: start + length + 3_000,
          // primary|standby: the standby cannot see the primary, but the primary renews: the lease decides.
          takeover: 'forbidden',
          primaryKeepsServing: true,
        });
        break;
      }
      case 'primary isolated':
        out.push({
          ...base,
          steps: [{ at: start, action: { do: 'isolate', site: 'primary' } }, { at: start + takeoverBy, action: { do: 'heal' } }],
          duration: start + takeoverBy + 3_000,
          takeover: 'required',
          primaryKeepsServing: false,
        });
        break;
      case 'witness isolated': {
        const length = between(takeoverBy / 2, takeoverBy);
        out.push({
          ...base,
          steps: [{ at: start, action: { do: 'isolate', site: 'witness' } }, { at: start + length, action: { do: 'heal' } }],
          duration: start + length + 3_000,
          takeover: 'forbidden',
          primaryKeepsServing: true,
        });
        break;
      }
      case 'asymmetric': {
        // One direction of one or two links: the outcome depends on which; only safety is asserted.
        const links: [SiteName, SiteName][] = [
          ['primary', 'witness'],
          ['witness', 'primary'],
          ['standby', 'primary'],
          ['primary', 'standby'],
          ['standby', 'witness'],
          ['witness', 'standby'],
        ];
        const first = pick(links);
        const second = pick(links.filter((l) => l !== first));
        const steps: Step[] = [{ at: start, action: { do: 'oneWay', from: first[0], to: first[1] } }];
        if (rand() < 0.5) steps.push({ at: start + between(0, selfFence), action: { do: 'oneWay', from: second[0], to: second[1] } });
        steps.push({ at: start + takeoverBy, action: { do: 'heal' } });
        out.push({ ...base, steps, duration: start + takeoverBy + 3_000, takeover: 'allowed', primaryKeepsServing: false });
        break;
      }
      case 'flapping': {
        const [a, b] = pick([
          ['primary', 'witness'],
          ['primary', 'standby'],
          ['standby', 'witness'],
        ] as [SiteName, SiteName][]);
        const steps: Step[] = [];
        let at = start;
        while (at < start + takeoverBy) {
          steps.push({ at, action: { do: 'cut', a, b } });
          at += between(300, selfFence);
          steps.push({ at, action: { do: 'heal' } });
          at += between(300, 2_000);
        }
        out.push({ ...base, steps, duration: at + 3_000, takeover: 'forbidden', primaryKeepsServing: false });
        break;
      }
      case 'cut and heal in the windows': {
        // Heal just around the primary's self-fence or the standby's earliest takeover.
        const deadline = pick([selfFence, t.leaseDuration + t.acquireAfter, Math.max(t.failureThreshold, t.leaseDuration + t.acquireAfter)]);
        const heal = Math.max(200, deadline + between(-1_500, 1_500));
        out.push({
          ...base,
          steps: [{ at: start, action: { do: 'isolate', site: 'primary' } }, { at: start + heal, action: { do: 'heal' } }],
          duration: start + heal + takeoverBy,
          takeover: 'allowed',
          primaryKeepsServing: false,
        });
        break;
      }
      case 'site loss':
        out.push({
          ...base,
          steps: [{ at: start, action: { do: 'stopSite', site: 'primary' } }],
          duration: start + takeoverBy,
          takeover: 'required',
          primaryKeepsServing: false,
        });
        break;
      case 'standby site loss':
        // Every process of the standby's site stopped: the primary keeps renewing the lease on
        // the witness, so it keeps serving, and nothing takes over.
        out.push({
          ...base,
          steps: [{ at: start, action: { do: 'stopSite', site: 'standby' } }],
          duration: start + takeoverBy,
          takeover: 'forbidden',
          primaryKeepsServing: true,
        });
        break;
      case 'operator killed': {
        // An operator (only the operator: the primary's fence keeper runs on) killed at a random
        // moment of a primary isolation.
        const side = pick(['primary', 'standby'] as const);
        out.push({
          ...base,
          steps: [
            { at: start, action: { do: 'isolate', site: 'primary' } },
            { at: start + between(0, t.leaseDuration + t.acquireAfter), action: { do: 'killOperator', side } },
            { at: start + takeoverBy * 2, action: { do: 'heal' } },
          ],
          duration: start + takeoverBy * 2 + 3_000,
          takeover: 'allowed',
          primaryKeepsServing: false,
        });
        break;
      }
    }
  }
  return out;
}
