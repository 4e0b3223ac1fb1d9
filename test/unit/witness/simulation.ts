// A discrete-time model of automatic site failover that drives the real decisions
// (src/witness/: guard, acquire, lease, timing) through randomized partitions, slow and lost
// requests (a request that timed out may still have been applied), drifting clocks, slow fences
// and operator restarts, and records every moment at which both sites' databases accepted writes.
// It checks the protocol, not its I/O: the shells and the partition suite on real sites do that.
import { confirm, decideAcquire, observe, startWatcher, type Watcher } from '../../../src/witness/acquire.ts';
import { afterEvent, decide, initialGuard, type GuardState } from '../../../src/witness/guard.ts';
import { renewalOf, takeoverOf, type LeaseRecord } from '../../../src/witness/lease.ts';
import type { WitnessTiming } from '../../../src/witness/timing.ts';
import { rng } from '../../cluster/rng.ts';

type Link = 'PW' | 'SW' | 'SP';
export type Scenario = 'none' | 'PW' | 'SW' | 'SP' | 'primaryIsolated' | 'standbyIsolated' | 'witnessIsolated' | 'all' | 'flapping' | 'siteLoss';
export const SCENARIOS: Scenario[] = ['none', 'PW', 'SW', 'SP', 'primaryIsolated', 'standbyIsolated', 'witnessIsolated', 'all', 'flapping', 'siteLoss'];

export interface SimResult {
  seed: number;
  scenario: Scenario;
  /** Real ms at which both databases accepted writes (empty: never two writers). */
  overlaps: number[];
  /** Real ms of the standby's promotion, if any. */
  promotedAt: number | undefined;
  /** Real ms at which the cut (or the site loss) began. */
  cutAt: number;
  /** Restarts of the standby's operator after the cut and before a takeover (each may delay a takeover by leaseDuration + acquireAfter). */
  standbyRestartsAfterCut: number;
  /** Real ms during which a live primary was fenced after its first renewal. */
  fencedMs: number;
  selfFences: number;
}

interface Pending {
  at: number;
  run: () => void;
}

const STEP = 100;

export function simulate(seed: number, scenario: Scenario, T: WitnessTiming, durationMs = 300_000, trace?: (at: number, what: string) => void): SimResult {
  const r = rng(seed);
  const between = (lo: number, hi: number) => lo + r() * (hi - lo);
  const drift = (): number => 1 + between(-T.maxClockDrift, T.maxClockDrift);
  const rateP = drift();
  const rateS = drift();
  const offP = between(0, 1e6);
  const offS = between(0, 1e6);
  let now = 0;
  const localP = () => offP + rateP * now;
  const localS = () => offS + rateS * now;

  // The partition schedule.
  const cutAt = between(20_000, 60_000);
  const healAt = r() < 0.5 ? Infinity : cutAt + between(1_000, 150_000);
  const cutLinks: Record<Scenario, Link[]> = {
    none: [],
    PW: ['PW'],
    SW: ['SW'],
    SP: ['SP'],
    primaryIsolated: ['PW', 'SP'],
    standbyIsolated: ['SW', 'SP'],
    witnessIsolated: ['PW', 'SW'],
    all: ['PW', 'SW', 'SP'],
    flapping: [],
    siteLoss: ['PW', 'SP'],
  };
  const flaps: { at: number; link: Link }[] = [];
  if (scenario === 'flapping') for (let t = cutAt; t < durationMs; t += between(500, 20_000)) flaps.push({ at: t, link: (['PW', 'SW', 'SP'] as const)[Math.floor(r() * 3)]! });
  const flapped = new Set<Link>();
  const up = (l: Link): boolean => {
    if (scenario === 'flapping') return !flapped.has(l);
    if (scenario === 'siteLoss') return !(now >= cutAt && cutLinks.siteLoss.includes(l));
    return !(now >= cutAt && now < healAt && cutLinks[scenario].includes(l));
  };
  const primaryAlive = () => !(scenario === 'siteLoss' && now >= cutAt);

  const queue: Pending[] = [];
  const later = (delay: number, run: () => void) => queue.push({ at: now + delay, run });
  /** A request over `link`: applied after a delay if the link is up then; answered after another if still up. Slow ones exceed the timeout. */
  const request = (link: Link, apply: () => void, answered: () => void) => {
    const slow = r() < 0.05;
    const d1 = slow ? between(0, 2 * T.requestTimeout) : between(5, T.requestTimeout * 0.3);
    const d2 = slow ? between(0, 2 * T.requestTimeout) : between(5, T.requestTimeout * 0.3);
    const sent = now;
    later(d1, () => {
      if (!up(link)) return;
      apply();
      later(d2, () => {
        if (up(link) && now - sent <= T.requestTimeout) answered();
      });
    });
  };

  // The witness.
  let lease: LeaseRecord = { holder: 'P', epoch: 1, resourceVersion: '1' };
  let leaseRenewSentP = localP(); // renewTime of the last applied renewal, as P's clock wrote it
  let rv = 1;

  // The primary's site.
  let guard: GuardState = afterEvent(initialGuard(localP(), undefined), { type: 'renewed', sentAt: localP() });
  let knownRv = '1';
  let renewFailing = false;
  let ping = 0;
  const pings = new Map<number, number>(); // seq → P's local send time
  let fenceStartedAt: number | undefined;
  let fenceHolds = false;
  let selfFences = 0;
  let fencedMs = 0;
  let nextRenew = 0;

  // The standby's site.
  let watcher: Watcher = startWatcher(localS(), T);
  let goneSince: number | undefined;
  let ackedPing = 0;
  let promoted = false;
  let promotedAt: number | undefined;
  let nextPoll = 0;
  let standbyRestartsAfterCut = 0;

  const overlaps: number[] = [];
  const threshold = 10_000;

  for (now = 0; now <= durationMs; now += STEP) {
    while (flaps.length && flaps[0]!.at <= now) {
      const f = flaps.shift()!;
      if (flapped.has(f.link)) flapped.delete(f.link);
      else flapped.add(f.link);
    }
    queue.sort((a, b) => a.at - b.at);
    while (queue.length && queue[0]!.at <= now) queue.shift()!.run();

    if (primaryAlive()) {
      // Operator restarts on the primary's side: it reads the lease's renewTime it wrote, if it can.
      if (r() < 0.0003) {
        guard = initialGuard(localP(), up('PW') && lease.holder === 'P' ? localP() - leaseRenewSentP : undefined);
        trace?.(now, `primary operator restarts (witness ${up('PW') ? 'read' : 'not reachable'})`);
        if (up('PW')) knownRv = lease.resourceVersion;
      }
      if (localP() >= nextRenew) {
        nextRenew = localP() + T.renewInterval * (renewFailing ? 0.2 : 1);
        const sentAt = localP();
        const expect = knownRv;
        let answered = false;
        let outcome: 'ok' | 'lost' | 'conflict' | undefined;
        request(
          'PW',
          () => {
            const ren = renewalOf(lease, 'P', 1);
            if (ren.action === 'lost') outcome = 'lost';
            else if (lease.resourceVersion !== expect) outcome = 'conflict';
            else {
              lease = { ...lease, resourceVersion: String(++rv) };
              leaseRenewSentP = sentAt;
              outcome = 'ok';
            }
          },
          () => {
            answered = true;
            if (outcome === 'ok') {
              knownRv = lease.resourceVersion;
              guard = afterEvent(guard, { type: 'renewed', sentAt });
              renewFailing = false;
            } else if (outcome === 'lost') {
              guard = afterEvent(guard, { type: 'lost', holder: lease.holder, epoch: lease.epoch, message: 'lost' });
            } else {
              knownRv = lease.resourceVersion; // a late write of its own moved the version: retry with it
            }
          },
        );
        // Only an answer counts: a renewal applied but not answered is a failure to the guard.
        later(T.requestTimeout, () => {
          if (!answered || outcome !== 'ok') {
            renewFailing = true;
            guard = afterEvent(guard, { type: 'renewFailed', error: 'timeout' });
          }
        });
      }
      if (renewFailing && !guard.lost) {
        // Failsafe: a ping in its own cluster for the standby's site to confirm.
        // The shell pings on each of its loops while renewals fail.
        const last = pings.get(ping);
        if (last === undefined || localP() - last >= T.renewInterval / 2) pings.set(++ping, localP());
      }
      const d = decide(guard, localP(), T);
      if (!d.serve && fenceStartedAt === undefined) {
        fenceStartedAt = now;
        selfFences++;
        trace?.(now, `self-fence: ${d.reason}`);
        const latency = between(0, T.fenceWithin);
        later(latency, () => {
          if (fenceStartedAt !== undefined) fenceHolds = true;
        });
      } else if (d.serve && fenceStartedAt !== undefined) {
        // Lifted on any serve, by the lease or the failsafe, as guard-loop.ts does.
        trace?.(now, `serves again: ${d.reason}`);
        fenceStartedAt = undefined;
        fenceHolds = false;
      }
      if (fenceStartedAt !== undefined && !promoted && scenario !== 'siteLoss') fencedMs += STEP;
    }

    // The standby's site.
    if (r() < 0.0003) {
      watcher = startWatcher(localS(), T); // operator restart
      if (now >= cutAt && !promoted) standbyRestartsAfterCut++;
      trace?.(now, 'standby operator restarts');
    }
    if (localS() >= nextPoll && !promoted) {
      nextPoll = localS() + T.renewInterval / 2;
      let seen: LeaseRecord | undefined;
      request(
        'SW',
        () => {
          seen = { ...lease };
        },
        () => {
          if (seen) watcher = observe(watcher, seen, localS());
        },
      );
      if (up('SP')) {
        if (primaryAlive()) goneSince = undefined;
        else goneSince ??= localS();
        const latest = Math.max(...pings.keys(), 0);
        if (latest > ackedPing && primaryAlive()) {
          const c = confirm(watcher, localS(), T, false);
          if (c.ok) {
            watcher = c.watcher;
            const seq = latest;
            const sentAt = pings.get(seq)!;
            request(
              'SP',
              () => {
                ackedPing = Math.max(ackedPing, seq);
                guard = afterEvent(guard, { type: 'confirmed', sentAt });
              },
              () => undefined,
            );
          }
        }
      } else {
        goneSince ??= localS();
      }
      const a = decideAcquire({ watcher, now: localS(), timing: T, self: 'S', primaryGoneSince: goneSince, failureThreshold: threshold, primaryFenced: false, holderRenewed: true });
      if (a.action === 'takeOver') {
        const next = takeoverOf(watcher.record!, 'S');
        request(
          'SW',
          () => {
            if (lease.resourceVersion === next.expect) lease = { holder: 'S', epoch: next.epoch, resourceVersion: String(++rv) };
          },
          () => {
            if (lease.holder === 'S' && !promoted) {
              promoted = true;
              promotedAt = now;
            }
          },
        );
      } else if (watcher.record?.holder === 'S' && !promoted) {
        promoted = true; // the answer to its takeover was lost; a read showed the record its own
        promotedAt = now;
      }
    }

    const primaryWrites = primaryAlive() && !fenceHolds;
    if (primaryWrites && promoted) overlaps.push(now);
  }
  return { seed, scenario, overlaps, promotedAt, cutAt, standbyRestartsAfterCut, fencedMs, selfFences };
}
