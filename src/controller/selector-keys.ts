// Per namespace, the label keys that some Service selects on: the standby's pods must carry none
// of them (but the site's own), or that Service sends its clients to the standby too. Kept up to
// date from the Service watch, so a reconcile reads a set instead of every Service; a change of
// a namespace's set wakes that namespace's sites (their standby's labels change).
import type { V1Service } from '@kubernetes/client-node';
import type { Informer } from '../k8s/informer.ts';

const NONE: ReadonlySet<string> = new Set();

export class SelectorKeys {
  /** Per namespace: key -> how many Services select on it. */
  private readonly counts = new Map<string, Map<string, number>>();
  private readonly listeners: ((namespace: string) => void)[] = [];

  constructor(services: Informer<V1Service>) {
    services.onChange((type, svc, old) => {
      const ns = svc.metadata?.namespace ?? '';
      const before = type === 'add' ? [] : keysOf(old);
      const after = type === 'delete' ? [] : keysOf(svc);
      if (before.join() === after.join()) return;
      let changed = false;
      const counts = this.counts.get(ns) ?? new Map<string, number>();
      for (const k of before) {
        const n = (counts.get(k) ?? 0) - 1;
        if (n <= 0) {
          counts.delete(k);
          changed = true;
        } else counts.set(k, n);
      }
      for (const k of after) {
        const n = counts.get(k) ?? 0;
        if (n === 0) changed = true;
        counts.set(k, n + 1);
      }
      if (counts.size) this.counts.set(ns, counts);
      else this.counts.delete(ns);
      if (changed) for (const l of this.listeners) l(ns);
    });
  }

  /** The keys Services of the namespace select on. */
  keys(namespace: string): ReadonlySet<string> {
    const counts = this.counts.get(namespace);
    return counts ? new Set(counts.keys()) : NONE;
  }

  /** Called with a namespace whose set of keys changed. */
  onChange(listener: (namespace: string) => void): void {
    this.listeners.push(listener);
  }
}

function keysOf(svc: V1Service | undefined): string[] {
  return Object.keys(svc?.spec?.selector ?? {}).sort();
}
