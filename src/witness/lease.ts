// The witness's lease: one record per site pair, held by the site whose primary may accept
// writes. Both sides change it only by an update with a resourceVersion precondition, so two
// sides can never both believe they won the same record: the witness's API server decides.
// Pure: what to write, given what was read.

/** What a lease record says (a coordination.k8s.io/v1 Lease on the witness, decoded). */
export interface LeaseRecord {
  /** The site whose primary may accept writes (the holder identity). */
  holder: string;
  /** Grows by one with every takeover; the epoch of the site's status and of its fences. */
  epoch: number;
  /** The witness's version of the record: the precondition of the next write. */
  resourceVersion: string;
}

/** What the holder writes to renew: the record unchanged but for its version (renewTime is for people). */
export type Renewal =
  | { action: 'renew'; expect: string; holder: string; epoch: number }
  /** The lease is another site's, or of a newer epoch: this side has lost it for good. */
  | { action: 'lost'; holder: string; epoch: number; message: string };

/**
 * The renewal by `self`, which believes it holds the lease at `epoch`. A record of another
 * holder, or of a newer epoch, is never overwritten: the side that sees one has lost.
 */
export function renewalOf(record: LeaseRecord, self: string, epoch: number): Renewal {
  if (record.holder !== self || record.epoch !== epoch) {
    return {
      action: 'lost',
      holder: record.holder,
      epoch: record.epoch,
      message: `the witness's lease is held by ${record.holder} at epoch ${record.epoch} (this site, ${self}, held epoch ${epoch}): the other site took over`,
    };
  }
  return { action: 'renew', expect: record.resourceVersion, holder: self, epoch };
}

/** The takeover by `self` of the record it read: the next epoch, only if the record is still that version. */
export function takeoverOf(record: LeaseRecord, self: string): { expect: string; holder: string; epoch: number } {
  return { expect: record.resourceVersion, holder: self, epoch: record.epoch + 1 };
}

/** The first record, written by the primary's site when the pair starts (create: fails if it exists). */
export function firstRecord(primarySite: string): Omit<LeaseRecord, 'resourceVersion'> {
  return { holder: primarySite, epoch: 1 };
}
