// What the controller remembers of each site between reconciles, in this process only. Nothing
// here is needed for correctness after a restart (status holds that); it makes a running process
// faster and safer: flaps seen only by the watch, when this process took a step over, whether the
// cache already shows our last status write, the last engine probe.
import type { StandbySiteObject } from '../api/site.ts';
import type { EngineObservation } from '../engines/engine.ts';
import { olderThan } from '../k8s/resource-version.ts';

/** How long a reconcile waits for the cache to show our own write before trusting the cache again. */
const WRITE_WAIT_MS = 10_000;

export class SiteMemory {
  private readonly now: () => Date;
  private readonly probes = new Map<string, { at: number; obs: EngineObservation }>();
  /** Per site: when a watch event last showed a primary pod Ready. */
  private readonly readySeen = new Map<string, Date>();
  /** Per promotion step (site, promotion start, state): when this process first drove it. */
  private readonly stepsDriven = new Map<string, Date>();
  /** Per site: the resourceVersion of this process's last status write, until the cache has it. */
  private readonly written = new Map<string, { rv: string; at: number }>();
  /** Sites whose reconcile was put off until the cache shows the write above: since when. */
  private readonly deferred = new Map<string, number>();
  /** Per site and kind: the things reported while they last (an Event when each begins). */
  private readonly reported = new Map<string, Set<string>>();

  /** Per site: what the standby side of automatic site failover counts with (controller/site-failover.ts). */
  readonly witness = new Map<string, unknown>();

  /** Called when a put-off reconcile may run: how long it waited for the cache to show our write (ms). */
  private readonly onCacheWait: ((ms: number, timedOut: boolean) => void) | undefined;

  constructor(now: () => Date, onCacheWait?: (ms: number, timedOut: boolean) => void) {
    this.now = now;
    this.onCacheWait = onCacheWait;
  }

  /** The site is gone: forget everything about it. */
  forget(key: string): void {
    this.probes.delete(key);
    this.readySeen.delete(key);
    this.written.delete(key);
    this.deferred.delete(key);
    this.witness.delete(key);
    for (const k of this.stepsDriven.keys()) if (k.startsWith(`${key}/`)) this.stepsDriven.delete(k);
    for (const k of this.reported.keys()) if (k.startsWith(`${key}|`)) this.reported.delete(k);
  }

  /**
   * The things of one kind that hold now (e.g. the Services selecting both sides): returns those
   * that did not hold at the last call, so each gets its Event once while it lasts, and again
   * if it comes back.
   */
  newlyReported(key: string, kind: string, now: readonly string[]): string[] {
    const k = `${key}|${kind}`;
    const before = this.reported.get(k) ?? new Set<string>();
    const fresh = now.filter((x) => !before.has(x));
    if (now.length) this.reported.set(k, new Set(now));
    else this.reported.delete(k);
    return fresh;
  }

  /**
   * Whether the cached site is older than this process's last status write: acting on it could
   * undo a promotion's steps (lift the fence, move traffic back), so the reconcile is put off
   * until the watch delivers the write. Bounded: a watch that stopped delivering (the informer
   * re-lists on its own) must not stop the site for good.
   */
  cacheIsBehind(key: string, cached: StandbySiteObject): boolean {
    const written = this.written.get(key);
    if (written === undefined) return false;
    const behind = olderThan(cached.metadata?.resourceVersion, written.rv);
    if (behind && this.now().getTime() - written.at < WRITE_WAIT_MS) {
      if (!this.deferred.has(key)) this.deferred.set(key, this.now().getTime());
      return true;
    }
    this.written.delete(key);
    this.release(key, behind);
    return false;
  }

  /** A watch event of a site: true when it shows the write a put-off reconcile waits for (run it now). */
  siteObserved(key: string, site: StandbySiteObject): boolean {
    const written = this.written.get(key);
    if (written === undefined || olderThan(site.metadata?.resourceVersion, written.rv)) return false;
    this.written.delete(key);
    return this.release(key, false);
  }

  private release(key: string, timedOut: boolean): boolean {
    const since = this.deferred.get(key);
    if (since === undefined) return false;
    this.deferred.delete(key);
    this.onCacheWait?.(this.now().getTime() - since, timedOut);
    return true;
  }

  /** A status write of this process landed: reconciles wait until the cache is at least this new. */
  noteWritten(key: string, site: StandbySiteObject): void {
    const rv = site.metadata?.resourceVersion;
    if (rv) this.written.set(key, { rv, at: this.now().getTime() });
  }

  /** A watch event showed a pod of this site's primary Ready. */
  noteReadyPrimary(key: string): void {
    this.readySeen.set(key, this.now());
  }

  lastSeenReady(key: string): Date | undefined {
    return this.readySeen.get(key);
  }

  /** When this process first drove this step of this promotion. */
  firstDriven(key: string, p: { startedAt?: string | undefined; state?: string | undefined }): Date {
    const k = `${key}/${p.startedAt ?? ''}/${p.state ?? ''}`;
    let at = this.stepsDriven.get(k);
    if (!at) {
      at = this.now();
      // Bounded: one entry per step driven; old promotions' entries go with the site.
      this.stepsDriven.set(k, at);
    }
    return at;
  }

  /** The engine's last measurement of the site, if younger than `maxAgeMs`; else a fresh one. */
  async probe(key: string, maxAgeMs: number, measure: () => Promise<EngineObservation>): Promise<EngineObservation> {
    const hit = this.probes.get(key);
    if (hit && this.now().getTime() - hit.at < maxAgeMs) return hit.obs;
    const obs = await measure();
    this.probes.set(key, { at: this.now().getTime(), obs });
    return obs;
  }
}
