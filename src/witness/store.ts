// The lease on the witness's API server: read it, create it, and write it only with the version
// read as precondition (an update carrying metadata.resourceVersion: the API server refuses it
// with 409 Conflict when the record changed since). This is what makes "the witness decides" true:
// of two sides that write the same version, the API server accepts exactly one. Every call takes
// an optional AbortSignal: a caller that gives up after requestTimeout aborts the request, so its
// socket closes instead of a late answer arriving (and a connection lingering) after the decision.
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1';
import { isConflict, isNotFound, type KubeClient } from '../k8s/client.ts';
import { R } from '../k8s/resources.ts';
import { microTime as micro } from '../k8s/types.ts';
import type { LeaseRecord } from './lease.ts';

/** The epoch is kept beside the holder (a Lease has no field for it). */
export const ANNOTATION_WITNESS_EPOCH = 'standby.dev/epoch';


/** A record as read, with the renewTime its holder wrote (its own wall clock: for a restarted guard). */
export interface StoredRecord extends LeaseRecord {
  renewTime: string | undefined;
  /** When the holder acquired it (the first record's creation, or the takeover). */
  acquireTime?: string | undefined;
}

/** The holder has renewed the record since it acquired it: its guard runs (acquire.ts holderRenewed). */
export const renewedSinceAcquired = (r: StoredRecord): boolean => r.renewTime !== undefined && r.acquireTime !== undefined && r.renewTime !== r.acquireTime;

const microTime = (wallMs: number) => micro(new Date(wallMs));

function decode(l: ILease): StoredRecord {
  const epoch = Number(l.metadata?.annotations?.[ANNOTATION_WITNESS_EPOCH]);
  return {
    holder: l.spec?.holderIdentity ?? '',
    epoch: Number.isInteger(epoch) && epoch > 0 ? epoch : 1,
    resourceVersion: l.metadata?.resourceVersion ?? '',
    renewTime: l.spec?.renewTime,
    acquireTime: l.spec?.acquireTime,
  };
}

export class WitnessStore {
  private readonly client: KubeClient;
  private readonly namespace: string;
  private readonly name: string;
  private readonly leaseSeconds: number;

  constructor(client: KubeClient, namespace: string, name: string, leaseSeconds: number) {
    this.client = client;
    this.namespace = namespace;
    this.name = name;
    this.leaseSeconds = leaseSeconds;
  }

  async read(signal?: AbortSignal): Promise<StoredRecord | undefined> {
    const l = await this.client.get<ILease>(R.lease, this.namespace, this.name, { signal });
    return l ? decode(l) : undefined;
  }

  /** Creates the first record; 'exists' when the pair already has one (it is never overwritten). */
  async create(holder: string, epoch: number, wallMs: number, signal?: AbortSignal): Promise<StoredRecord | 'exists'> {
    try {
      const created = await this.client.create<ILease>(R.lease, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.name, namespace: this.namespace, annotations: { [ANNOTATION_WITNESS_EPOCH]: String(epoch) } },
        spec: { holderIdentity: holder, leaseDurationSeconds: this.leaseSeconds, acquireTime: microTime(wallMs), renewTime: microTime(wallMs), leaseTransitions: 0 },
      }, { signal });
      return decode(created);
    } catch (err) {
      if (isConflict(err)) return 'exists';
      throw err;
    }
  }

  /**
   * Writes holder and epoch (a renewal keeps both, a takeover changes them) if the record is
   * still at `expect`; 'conflict' when it is not (someone wrote it since), 'gone' when deleted.
   */
  async write(expect: string, holder: string, epoch: number, wallMs: number, signal?: AbortSignal): Promise<StoredRecord | 'conflict' | 'gone'> {
    const current = await this.client.get<ILease>(R.lease, this.namespace, this.name, { signal });
    if (!current) return 'gone';
    // No comparison here: the update carries `expect`, and the API server alone judges it.
    const takeover = current.spec?.holderIdentity !== holder;
    const next: ILease = {
      ...current,
      metadata: { ...current.metadata, resourceVersion: expect, annotations: { ...current.metadata?.annotations, [ANNOTATION_WITNESS_EPOCH]: String(epoch) } },
      spec: {
        ...current.spec,
        holderIdentity: holder,
        leaseDurationSeconds: this.leaseSeconds,
        renewTime: microTime(wallMs),
        ...(takeover ? { acquireTime: microTime(wallMs), leaseTransitions: (current.spec?.leaseTransitions ?? 0) + 1 } : {}),
      },
    };
    try {
      return decode(await this.client.replace<ILease>(R.lease, next, undefined, { signal }));
    } catch (err) {
      if (isConflict(err)) return 'conflict';
      if (isNotFound(err)) return 'gone';
      throw err;
    }
  }
}
