// The standby side of automatic site failover (promotion.siteFailover.mode automatic): the thin
// shell around witness/acquire.ts. Each reconcile it keeps the StandbySiteGuard in the primary's
// cluster (witness/site-guard.ts), answers the guard's failsafe pings, reads the witness's lease
// every renewInterval and, once decideAcquire says so, takes the lease over (a write with the
// version read as precondition: the witness decides) and asks for the promotion, exactly as a
// confirmed site failover does. What it counts with is per process (SiteMemory.witness): a
// restarted operator starts a new watcher, which takes nothing over for leaseDuration +
// acquireAfter (acquire.ts startWatcher).
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ISecret } from 'kubernetes-models/v1';
import { GUARD_RESOURCE } from '../api/resource.ts';
import type { GuardObject } from '../api/guard.ts';
import { parseDuration } from '../api/duration.ts';
import { witnessTimingOf } from '../api/site-failover.ts';
import type { SiteStatus } from '../api/status.ts';
import { KubeClient } from '../k8s/client.ts';
import { connectionFromKubeconfig } from '../k8s/connection.ts';
import { R } from '../k8s/resources.ts';
import { inProgress } from '../promotion/machine.ts';
import { budgetFreesInMs, promotionsInWindow, type StandbyUsability } from '../promotion/decide.ts';
import { ownershipOf } from '../site/ownership.ts';
import { confirm, decideAcquire, observe, startWatcher, type AcquireInput, type Watcher } from '../witness/acquire.ts';
import { firstRecord } from '../witness/lease.ts';
import { buildGuard, guardDrift, leaseNameOf, pingToAnswer, primaryHolder, standbyHolder } from '../witness/site-guard.ts';
import { renewedSinceAcquired, WitnessStore, type StoredRecord } from '../witness/store.ts';
import type { WitnessTiming } from '../witness/timing.ts';
import { mergeConditions, type ConditionInput } from './conditions.ts';
import type { ReconcileContext } from './context.ts';
import { ensureGuardFinalizer, hasGuardFinalizer } from './site-guard-cleanup.ts';

/** What this process remembers of one site's witness between reconciles. */
export interface WitnessState {
  timingKey: string;
  watcher: Watcher;
  /** Monotonic ms of the last read of the lease (successful or not). */
  lastReadAt: number | undefined;
  /** Monotonic ms since which this process has not seen the primary serve, continuously. */
  goneSince: number | undefined;
  reachable: boolean | undefined;
  lastError: string | undefined;
  /** The record last read, and when (wall clock, for people). */
  record: StoredRecord | undefined;
  readAt: string | undefined;
  client: { id: string; client: KubeClient; at: number } | undefined;
  /** Why the witness cannot be used at all (its Secret): a person must act. */
  problem: string | undefined;
  /** Whether this process has seen a lease record for the pair: a record gone after that is never recreated. */
  everSeen: boolean;
  /** Monotonic ms of this state's last witness step: a long gap (not leading, stopped) resets the count. */
  steppedAt: number;
}

/** What the witness step tells the reconcile. */
export interface WitnessOutcome {
  /** Take over: promote (trigger siteFailover) at this epoch. */
  takeover: { epoch: number; reason: string } | undefined;
  conditions: ConditionInput[];
}

const mono = (): number => performance.now();

/** A request that takes longer than requestTimeout counts as failed, and is aborted (its socket closed). */
function within<T>(ms: number, call: (signal: AbortSignal) => Promise<T>, what: string): Promise<T> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`${what}: no answer within requestTimeout ${ms / 1000}s`));
    }, ms);
  });
  const p = call(abort.signal);
  p.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * How long this site has still promised the primary's guard not to take over (a failsafe answer),
 * in ms; undefined when nothing is outstanding. A person's site-lost token waits it out too: the
 * guard may serve until then.
 */
export function outstandingPromise(rc: Pick<ReconcileContext, 'memory' | 'key'>): number | undefined {
  const st = rc.memory.witness.get(rc.key) as WitnessState | undefined;
  const left = st ? st.watcher.promisedUntil - mono() : 0;
  return left > 0 ? left : undefined;
}

export function isAutomaticSiteFailover(rc: ReconcileContext): boolean {
  return rc.site.spec.promotion.siteFailover.mode === 'automatic' && rc.remote !== undefined;
}

function stateOf(rc: ReconcileContext, t: WitnessTiming): WitnessState {
  const key = JSON.stringify(t);
  const now = mono();
  const have = rc.memory.witness.get(rc.key) as WitnessState | undefined;
  // A gap of several renewIntervals without a step (leadership lost and regained, a stall): another
  // replica may have answered pings meanwhile, so count as a restarted operator does.
  const stale = have !== undefined && now - have.steppedAt > 3 * t.renewInterval + t.requestTimeout * 3;
  if (have && have.timingKey === key && !stale) {
    have.steppedAt = now;
    return have;
  }
  const fresh = startWatcher(now, t);
  // A change of timing keeps every promise already given (the guard still counts by its old numbers).
  const watcher = have && !stale ? { ...fresh, promisedUntil: Math.max(fresh.promisedUntil, have.watcher.promisedUntil, have.watcher.observedAt + (JSON.parse(have.timingKey) as WitnessTiming).leaseDuration + (JSON.parse(have.timingKey) as WitnessTiming).acquireAfter) } : fresh;
  const st: WitnessState = {
    timingKey: key,
    watcher,
    everSeen: have?.everSeen ?? false,
    steppedAt: now,
    lastReadAt: undefined,
    goneSince: have?.goneSince,
    reachable: undefined,
    lastError: undefined,
    record: undefined,
    readAt: undefined,
    client: have?.client,
    problem: undefined,
  };
  rc.memory.witness.set(rc.key, st);
  return st;
}

/** The witness client, from the site's kubeconfig Secret (read again every 30s, like the primary's). */
async function witnessClient(rc: ReconcileContext, st: WitnessState): Promise<KubeClient | undefined> {
  const ref = rc.site.spec.promotion.siteFailover.witness!.kubeconfigSecret;
  if (st.client && mono() - st.client.at < 30_000) return st.client.client;
  const ns = rc.site.metadata.namespace;
  const what = `Secret ${ref.name} (spec.promotion.siteFailover.witness.kubeconfigSecret)`;
  let secret: ISecret | undefined;
  try {
    secret = await rc.deps.client.get<ISecret>(R.secret, ns, ref.name);
  } catch (err) {
    st.problem = `cannot read ${what}: ${(err as Error).message}`;
    return st.client?.client;
  }
  const data = secret?.data?.[ref.key];
  if (!secret) st.problem = `${what} does not exist in namespace ${ns}`;
  else if (!data) st.problem = `${what} has no key "${ref.key}"; its keys: ${Object.keys(secret.data ?? {}).join(', ') || 'none'}`;
  if (!data) {
    st.client = undefined;
    return undefined;
  }
  const text = Buffer.from(data, 'base64').toString('utf8');
  const id = createHash('sha256').update(text).digest('hex');
  if (st.client?.id === id) {
    st.client.at = mono();
    st.problem = undefined;
    return st.client.client;
  }
  try {
    const connection = await connectionFromKubeconfig(text, { origin: what, untrusted: true });
    st.client = { id, client: new KubeClient(connection, { userAgent: 'standby-operator/witness' }), at: mono() };
    st.problem = undefined;
    return st.client.client;
  } catch (err) {
    st.problem = `${(err as Error).message} (${what})`;
    st.client = undefined;
    return undefined;
  }
}

/**
 * The guard in the primary's cluster: created when missing, its spec kept, never one the site did
 * not create; answers its failsafe ping while not promoting. Writes nothing there while a
 * promotion has begun and the fence is not confirmed (fence first).
 */
async function keepGuard(rc: ReconcileContext, st: WitnessState, t: WitnessTiming, promoting: boolean, fenceConfirmed: boolean): Promise<void> {
  const r = rc.remote;
  if (!r?.cluster || !r.site.reachable || !rc.deps.isLeader()) return;
  if (rc.current.status?.promotion?.state !== undefined && !fenceConfirmed) return;
  const c = r.cluster;
  const name = rc.site.metadata.name;
  const uid = rc.site.metadata.uid;
  const epoch = rc.current.status?.epoch ?? 1;
  try {
    const live = await within(t.requestTimeout * 3, (signal) => c.reader.get<GuardObject>(GUARD_RESOURCE, c.namespace, name, { signal }), 'reading the StandbySiteGuard');
    const want = buildGuard(rc.site, epoch, live?.spec.ack)!;
    want.metadata.namespace = c.namespace;
    if (!live) {
      // The finalizer first: whichever process leads later deletes the guard (site-guard-cleanup.ts).
      if (!(await ensureGuardFinalizer(rc))) return;
      await c.writer.create<GuardObject>(GUARD_RESOURCE, want);
      rc.log.info({ guard: name, remote: c.server }, "created the StandbySiteGuard in the primary's cluster");
      return;
    }
    const own = ownershipOf({ kind: 'StandbySiteGuard', metadata: live.metadata }, { name, uid });
    if (!own.ours) {
      rc.conflicts.push(`StandbySiteGuard ${name} in namespace ${c.namespace} of the primary's cluster already exists and ${own.why}`);
      return;
    }
    if (!(await ensureGuardFinalizer(rc))) return;
    const drift = guardDrift(want, live);
    if (drift) await c.writer.mergePatch(GUARD_RESOURCE, c.namespace, name, { metadata: drift.labels ? { labels: drift.labels } : {}, ...(drift.spec ? { spec: drift.spec } : {}) });
    const ping = pingToAnswer(live);
    if (ping === undefined) return;
    // The promise is kept from the read, and recorded before the answer is written.
    // Once this side holds the lease (a takeover whose promotion is not recorded yet), never promise.
    const answer = confirm(st.watcher, mono(), t, promoting || st.record?.holder === standbyHolder(uid ?? ''));
    if (!answer.ok) return;
    st.watcher = answer.watcher;
    await c.writer.mergePatch(GUARD_RESOURCE, c.namespace, name, { spec: { ack: { ping, at: rc.now().toISOString() } } });
    rc.log.info({ ping }, "answered the primary site's failsafe ping: no takeover for leaseDuration + acquireAfter");
  } catch (err) {
    rc.errors.push(`could not keep the StandbySiteGuard ${name} in the primary's cluster: ${(err as Error).message}`);
  }
}

/** Reads the lease (every renewInterval), creating the first record when the pair has none. */
async function readLease(rc: ReconcileContext, st: WitnessState, t: WitnessTiming, store: WitnessStore, promoting: boolean): Promise<void> {
  const now = mono();
  if (st.lastReadAt !== undefined && now - st.lastReadAt < t.renewInterval * 0.9) return;
  st.lastReadAt = now;
  try {
    let rec = await within(t.requestTimeout, (signal) => store.read(signal), "reading the witness's lease");
    // The first record only for a pair that never had one: a lease gone after a takeover (deleted,
    // a witness rebuilt) recreated as the primary's would let a restarted old primary serve again.
    const pristine = !st.everSeen && !promoting && (rc.current.status?.epoch ?? 1) <= 1;
    if (!rec && !pristine) throw new Error("the witness's lease is gone: it is not recreated once the pair has had one (a person must restore it or recreate the site)");
    if (!rec && rc.deps.isLeader()) {
      const first = firstRecord(primaryHolder(rc.site.metadata.uid ?? ''));
      const made = await within(t.requestTimeout, (signal) => store.create(first.holder, first.epoch, Date.now(), signal), "creating the witness's lease");
      rec = made === 'exists' ? await within(t.requestTimeout, (signal) => store.read(signal), "reading the witness's lease") : made;
    }
    st.reachable = true;
    st.lastError = undefined;
    if (rec) {
      st.everSeen = true;
      st.record = rec;
      st.readAt = rc.now().toISOString();
      st.watcher = observe(st.watcher, rec, mono());
    }
  } catch (err) {
    st.reachable = false;
    st.lastError = (err as Error).message;
  }
}

const ms = (n: number) => `${Math.ceil(n / 1000)}s`;

/** The witness step of one reconcile of a site with promotion.siteFailover.mode automatic. */
export async function witnessStep(
  rc: ReconcileContext,
  i: { primaryServes: boolean; usability: StandbyUsability; fenceConfirmed: boolean },
): Promise<WitnessOutcome | undefined> {
  if (!isAutomaticSiteFailover(rc)) {
    rc.memory.witness.delete(rc.key);
    return undefined;
  }
  // Only the leader counts: a replica that did not lead may not know the promises the leader gave.
  if (!rc.deps.isLeader()) {
    rc.memory.witness.delete(rc.key);
    return undefined;
  }
  const sf = rc.site.spec.promotion.siteFailover;
  const t = witnessTimingOf(sf);
  if (!t || !sf.witness) return undefined;
  const st = stateOf(rc, t);
  rc.after(t.renewInterval);
  // The primary serves only while its cluster answers and its pods are Ready.
  if (i.primaryServes) st.goneSince = undefined;
  else st.goneSince ??= mono();
  const status = rc.current.status ?? {};
  const promo = status.promotion;
  const promoting = inProgress(promo) || promo?.state === 'Promoted' || (status.active ?? 'primary') === 'standby';
  await keepGuard(rc, st, t, promoting, i.fenceConfirmed);

  const client = await witnessClient(rc, st);
  const self = standbyHolder(rc.site.metadata.uid ?? '');
  let takeover: WitnessOutcome['takeover'];
  let note: string | undefined;
  let refused: string | undefined;
  if (client) {
    const store = new WitnessStore(client, sf.witness.namespace, leaseNameOf(rc.site.metadata.namespace, rc.site.metadata.name), Math.ceil(t.leaseDuration / 1000));
    await readLease(rc, st, t, store, promoting);
    rc.deps.metrics?.witnessReachable?.set({ namespace: rc.site.metadata.namespace, site: rc.site.metadata.name }, st.reachable ? 1 : 0);
    // Promotion disabled: nothing is taken over (the lease stays the primary's).
    // Only with promotion.mode automatic: manual means a person decides every promotion.
    if (!promoting && st.record && st.goneSince !== undefined && rc.site.spec.promotion.mode === 'automatic') {
      if (st.record.holder === self && mono() < st.watcher.promisedUntil) {
        note = `this site holds the lease but promised the primary's site not to take over for another ${ms(st.watcher.promisedUntil - mono())}`;
        rc.after(st.watcher.promisedUntil - mono() + 50);
      } else if (st.record.holder === self) {
        // Taken over before, and the promotion's start was not recorded (a conflict, a restart).
        takeover = { epoch: st.record.epoch, reason: `this site holds the witness's lease (epoch ${st.record.epoch}): automatic site failover by the witness's lease` };
      } else if (!i.usability.usableIfForced) {
        note = `the standby is not usable, so the lease is not taken over: ${i.usability.reason}`;
      } else {
        const failureThreshold = parseDuration(rc.site.spec.promotion.failureThreshold) ?? 30_000;
        const d = decideAcquire({ watcher: st.watcher, now: mono(), timing: t, self, primaryGoneSince: st.goneSince, failureThreshold, primaryFenced: false, holderRenewed: renewedSinceAcquired(st.record) && hasGuardFinalizer(rc.current), budget: budgetOf(rc) });
        if (d.action === 'refuse') {
          note = d.message;
          refused = d.reason;
          rc.after(d.retryAfterMs + 1000);
          if (rc.memory.newlyReported(rc.key, 'takeoverRefused', [d.reason]).length > 0) await rc.deps.events.record(rc.current, 'Warning', 'TakeoverRefused', d.message);
        } else if (d.action === 'wait') {
          note = `waiting: ${d.reason}`;
          rc.after(Math.max(0, d.until - mono()) + 50);
        } else if (d.action === 'takeOver' && rc.deps.isLeader()) {
          const res = await within(t.requestTimeout, (signal) => store.write(d.expect, d.holder, d.epoch, Date.now(), signal), "taking the witness's lease over").catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
          if (res instanceof Error) {
            st.reachable = false;
            st.lastError = res.message;
          } else if (res === 'conflict' || res === 'gone') {
            // Someone wrote it since: read it again at once; its new version restarts the count.
            st.lastReadAt = undefined;
            rc.after(0);
            note = `the lease changed before the takeover (${res}): read again`;
          } else {
            st.record = res;
            st.readAt = rc.now().toISOString();
            st.watcher = observe(st.watcher, res, mono());
            rc.deps.metrics?.leaseTakeovers?.inc({ namespace: rc.site.metadata.namespace, site: rc.site.metadata.name });
            const reason = `automatic site failover by the witness's lease: ${d.reason}; took the lease over at epoch ${res.epoch}`;
            rc.log.warn({ epoch: res.epoch, holder: res.holder }, "took the witness's lease over");
            await rc.deps.events.record(rc.current, 'Warning', 'LeaseTakenOver', `${reason} (holder ${res.holder})`);
            takeover = { epoch: res.epoch, reason };
          }
        }
      }
    }
  }
  if (!refused) rc.memory.newlyReported(rc.key, 'takeoverRefused', []);
  return { takeover, conditions: witnessConditions(st, t, self, note, refused) };
}

/** promotion.maxPromotions as the ordinary automatic promotion counts it (promotion/decide.ts). */
function budgetOf(rc: ReconcileContext): NonNullable<AcquireInput['budget']> {
  const mp = rc.site.spec.promotion.maxPromotions;
  const windowMs = parseDuration(mp.window) ?? 3_600_000;
  const history = rc.current.status?.promotionHistory ?? [];
  const now = rc.now();
  return { count: mp.count, windowMs, used: promotionsInWindow(history, now, windowMs).length, freesInMs: budgetFreesInMs(history, now, windowMs) };
}

function witnessConditions(st: WitnessState, t: WitnessTiming, self: string, note: string | undefined, refused: string | undefined): ConditionInput[] {
  const reach: ConditionInput = st.problem
    ? { type: 'WitnessReachable', status: 'False', reason: 'WitnessSecretProblem', message: st.problem }
    : st.reachable === undefined
      ? { type: 'WitnessReachable', status: 'Unknown', reason: 'NotReadYet', message: 'the witness has not been read yet' }
      : st.reachable
        ? { type: 'WitnessReachable', status: 'True', reason: 'WitnessAnswers', message: `the witness answered (read every renewInterval ${ms(t.renewInterval)})` }
        : { type: 'WitnessReachable', status: 'False', reason: 'WitnessUnreachable', message: `the witness does not answer: ${st.lastError ?? 'no answer'}` };
  const r = st.record;
  const lease: ConditionInput = !r
    ? { type: 'WitnessLease', status: 'Unknown', reason: 'NotRead', message: 'the lease on the witness has not been read' }
    : {
        type: 'WitnessLease',
        status: r.holder === self ? 'True' : 'False',
        // A takeover refused (the promotion budget) says so in the reason: a person must decide.
        reason: r.holder === self ? 'HeldByStandby' : refused ? 'TakeoverRefused' : 'HeldByPrimary',
        message: `holder ${r.holder}, epoch ${r.epoch}, observedAt ${st.readAt ?? '?'}${note ? `; ${note}` : ''}`,
      };
  return [reach, lease];
}

/** The witness conditions merged into the status the reconcile computed. */
export function withWitnessStatus(status: SiteStatus, w: WitnessOutcome | undefined, latest: SiteStatus, generation: number, now: Date): SiteStatus {
  if (!w) return status;
  const merged = mergeConditions(latest.conditions, w.conditions, generation, now);
  const types = new Set(merged.map((c) => c.type));
  return { ...status, conditions: [...(status.conditions ?? []).filter((c) => !types.has(c.type)), ...merged] };
}
