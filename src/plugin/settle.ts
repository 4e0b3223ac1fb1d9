// How a request stands, read from the site (pure): not acted on yet, running, or done.
//
// promote follows the operator as it is. The others are written against the status their issues
// document (failback and re-protection: issue 13; drills: issue 14) and stay unreachable until
// their capability is offered (capabilities.ts); check them against the real operator then.
import type { SiteStatus } from '../api/status.ts';
import type { Capability } from './capabilities.ts';

export type Settlement =
  | { state: 'waiting' }
  | { state: 'running'; line: string }
  | { state: 'done'; ok: boolean; result: string; message: string };

const condition = (s: SiteStatus, type: string) => s.conditions?.find((c) => c.type === type);

/** Status fields of capabilities not in the schema yet (issues 13 and 14). */
interface FutureStatus {
  lastDrill?: { id?: string; result?: string; finishedAt?: string; rtoSeconds?: number; dataAgeSeconds?: number; message?: string };
  [field: string]: unknown;
}

function handled(s: SiteStatus, cap: Capability): unknown {
  return (s as FutureStatus)[cap.handledField];
}

function settlePromote(s: SiteStatus, token: string, cap: Capability): Settlement {
  const p = s.promotion;
  if (p?.token === token) {
    if (p.state === 'Promoted') {
      return { state: 'done', ok: true, result: 'Promoted', message: `the standby serves clients${p.durationSeconds !== undefined ? ` (the promotion took ${p.durationSeconds}s)` : ''}` };
    }
    if (p.state === 'Failed') return { state: 'done', ok: false, result: 'Failed', message: p.message ?? 'the promotion failed' };
    return { state: 'running', line: `promotion: ${p.state ?? 'starting'}${p.message ? ` (${p.message})` : ''}` };
  }
  if (handled(s, cap) === token) {
    const why = condition(s, 'PromotionReady');
    return { state: 'done', ok: false, result: 'Refused', message: why?.status === 'False' ? why.message : 'the operator refused the request' };
  }
  return { state: 'waiting' };
}

function settleFailback(s: SiteStatus, token: string, cap: Capability): Settlement {
  if (handled(s, cap) !== token) return { state: 'waiting' };
  const stalled = condition(s, 'Stalled');
  if (stalled?.status === 'True') return { state: 'done', ok: false, result: 'Failed', message: stalled.message };
  if ((s.phase as string | undefined) === 'FailingBack') return { state: 'running', line: `failback: ${condition(s, 'Ready')?.message ?? 'running'}` };
  if (s.active === 'primary' && condition(s, 'Ready')?.status === 'True') return { state: 'done', ok: true, result: 'FailedBack', message: 'the declared primary serves clients again and the standby protects it' };
  return { state: 'done', ok: false, result: 'Refused', message: condition(s, 'Ready')?.message ?? 'the operator refused the request' };
}

function settleReprotect(s: SiteStatus, token: string, cap: Capability): Settlement {
  if (handled(s, cap) !== token) return { state: 'waiting' };
  const stalled = condition(s, 'Stalled');
  if (stalled?.status === 'True') return { state: 'done', ok: false, result: 'Failed', message: stalled.message };
  if ((s.phase as string | undefined) === 'Reprotecting') return { state: 'running', line: `re-protection: ${condition(s, 'Ready')?.message ?? 'running'}` };
  if (condition(s, 'Ready')?.status === 'True') return { state: 'done', ok: true, result: 'Protected', message: `the site is protected again; ${s.active ?? 'primary'} serves clients` };
  return { state: 'done', ok: false, result: 'Refused', message: condition(s, 'Ready')?.message ?? 'the operator refused the request' };
}

function settleDrill(s: SiteStatus, token: string, cap: Capability, before: SiteStatus | undefined): Settlement {
  if (handled(s, cap) !== token) return { state: 'waiting' };
  const drill = (s as FutureStatus).lastDrill;
  const previous = (before as FutureStatus | undefined)?.lastDrill;
  if (!drill || (drill.id !== undefined && drill.id === previous?.id)) {
    return { state: 'done', ok: false, result: 'Refused', message: condition(s, 'DrillPassed')?.message ?? 'the operator did not start a drill' };
  }
  if (!drill.finishedAt) return { state: 'running', line: `drill ${drill.id ?? ''}: running`.replace('  ', ' ') };
  const figures = [drill.rtoSeconds !== undefined ? `RTO ${drill.rtoSeconds}s` : '', drill.dataAgeSeconds !== undefined ? `data age ${drill.dataAgeSeconds}s` : ''].filter(Boolean).join(', ');
  return {
    state: 'done',
    ok: drill.result === 'Passed',
    result: drill.result ?? 'Unknown',
    message: [figures, drill.message ?? ''].filter(Boolean).join('; ') || `drill ${drill.result ?? ''}`,
  };
}

/** Where the request with `token` stands in status `s`; `before`: the status when it was made. */
export function settle(cap: Capability, s: SiteStatus, token: string, before?: SiteStatus): Settlement {
  switch (cap.name) {
    case 'promote':
    case 'site-lost':
      return settlePromote(s, token, cap);
    case 'failback':
      return settleFailback(s, token, cap);
    case 'reprotect':
      return settleReprotect(s, token, cap);
    case 'drill':
      return settleDrill(s, token, cap, before);
  }
}
