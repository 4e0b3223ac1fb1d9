// The report a re-protecting script leaves in its termination message (and
// prints on the line starting with REPORT_PREFIX): which copy it made, how
// many bytes it moved and what only the rewound side held. Pure.
import { z } from 'zod';
import type { ReprotectReport } from '../engine.ts';
import { REPORT_PREFIX } from './script-rewind.ts';

const reportSchema = z.object({
  method: z.enum(['rewind', 'basebackup', 'none']),
  reason: z.string().nullable(),
  bytes: z.number().nullable(),
  forkLsn: z.string().nullable(),
  forkTimeline: z.number().nullable(),
  endLsn: z.string().nullable(),
  divergentBytes: z.number().nullable(),
  divergentCommits: z.number().nullable(),
  checksums: z.boolean().nullable(),
  walLogHints: z.boolean().nullable(),
  seconds: z.number().nullable(),
});

export type RawReport = z.infer<typeof reportSchema>;

function size(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  return `${(bytes / (1024 * 1024 * 1024)).toFixed(2)} GiB`;
}

/** The JSON of a report: the termination message itself, or the REPORT_PREFIX line of a log. */
export function rawReport(text: string): RawReport | undefined {
  const line = text.split('\n').findLast((l) => l.startsWith(REPORT_PREFIX));
  const json = line ? line.slice(REPORT_PREFIX.length) : text.trim();
  try {
    const parsed = reportSchema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function parseReprotectReport(text: string): ReprotectReport | undefined {
  const r = rawReport(text);
  if (!r) return undefined;
  const reason = r.reason ?? undefined;
  const rewindable = r.checksums === null && r.walLogHints === null ? undefined : r.checksums === true || r.walLogHints === true;
  const divergence =
    r.forkLsn !== null
      ? {
          from: r.forkLsn,
          ...(r.endLsn !== null ? { to: r.endLsn } : {}),
          ...(r.divergentBytes !== null ? { bytes: r.divergentBytes } : {}),
          ...(r.forkTimeline !== null ? { timeline: r.forkTimeline } : {}),
          ...(r.divergentCommits !== null ? { commits: r.divergentCommits } : {}),
          ...(rewindable !== undefined ? { rewindable } : {}),
          message:
            r.divergentBytes !== null && r.divergentBytes > 0
              ? `the rewound side held ${size(r.divergentBytes)} of WAL after the fork at ${r.forkLsn} on timeline ${r.forkTimeline ?? '?'} (${r.divergentCommits ?? '?'} commits), kept only in the divergence copy`
              : `the rewound side held nothing after the fork at ${r.forkLsn}`,
        }
      : undefined;
  const moved = r.bytes !== null ? size(r.bytes) : 'an unknown amount';
  const took = r.seconds !== null ? ` in ${r.seconds}s` : '';
  let message: string;
  switch (r.method) {
    case 'rewind':
      message = `rewound with pg_rewind: ${moved} copied${took}`;
      break;
    case 'basebackup':
      message = `copied whole with pg_basebackup: ${moved}${took}${reason ? ` (no rewind: ${reason})` : ''}`;
      break;
    case 'none':
      message = `nothing copied${reason ? `: ${reason}` : ''}`;
      break;
  }
  if (divergence) message += `; ${divergence.message}`;
  return {
    method: r.method,
    message,
    ...(r.bytes !== null ? { bytes: r.bytes } : {}),
    ...(reason ? { reason } : {}),
    ...(divergence ? { divergence } : {}),
    ...(r.seconds !== null ? { seconds: r.seconds } : {}),
  };
}
