// Events on a StandbySite, for what a person should know. Repeats of the same
// event within ten minutes bump its count instead of creating a new object.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeClient } from './client.ts';
import { R } from './resources.ts';
import type { KubeObject } from './types.ts';

interface Seen {
  name: string;
  count: number;
  first: string;
  at: number;
}

const WINDOW_MS = 10 * 60_000;

export class EventRecorder {
  private readonly seen = new Map<string, Seen>();
  private readonly client: KubeClient;
  private readonly log: Logger;
  private readonly instance: string;

  constructor(client: KubeClient, log: Logger, instance: string) {
    this.client = client;
    this.log = log;
    this.instance = instance;
  }

  async record(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const meta = obj.metadata ?? {};
    const key = `${meta.uid ?? ''}|${type}|${reason}|${message}`;
    const now = new Date();
    const seen = this.seen.get(key);
    try {
      if (seen && now.getTime() - seen.at < WINDOW_MS) {
        seen.count++;
        seen.at = now.getTime();
        await this.client.mergePatch(R.event, meta.namespace, seen.name, { count: seen.count, lastTimestamp: now.toISOString() });
        return;
      }
      const name = `${meta.name ?? 'object'}.${randomBytes(8).toString('hex')}`;
      await this.client.create(R.event, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: meta.namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: meta.name,
          namespace: meta.namespace,
          uid: meta.uid,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        firstTimestamp: now.toISOString(),
        lastTimestamp: now.toISOString(),
        count: 1,
        source: { component: 'standby-operator' },
        reportingComponent: 'standby.dev/operator',
        reportingInstance: this.instance,
      } as KubeObject);
      this.seen.set(key, { name, count: 1, first: now.toISOString(), at: now.getTime() });
      if (this.seen.size > 10_000) this.prune(now.getTime());
    } catch (err) {
      // An event that cannot be written must never fail a reconcile.
      this.log.warn({ err: (err as Error).message, reason }, 'could not record event');
    }
  }

  private prune(now: number): void {
    for (const [k, v] of this.seen) if (now - v.at > WINDOW_MS) this.seen.delete(k);
  }
}
