// How a request stands, read from the site (pure): not acted on yet, running, or done.
//
// promote and drill follow the operator as it is. Failback and re-protection are written against
// the status issue 13 documents and stay unreachable until their capability is offered
// (capabilities.ts); check them against the real operator then.
import type { SiteStatus } from '../api/status.ts';
import type { Capability } from './capabilities.ts';

export type Settlement =
  | { state: 'waiting' }
  | { state: 'running'; line: string }
  | { state: 'done'; ok: boolean; result: string; message: string };

const condition = (s: SiteStatus, type: string) => s.conditions?.find((c) => c.type === type);

/** Status fields of capabilities not in the schema yet (issue 13). */
interface FutureStatus {
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

/**
 * The operator records the token in the drill it starts (status.drill while it runs, then
 * status.lastDrill), or only in handledDrillToken when it refuses (its DrillRefused Event says why).
 */
function settleDrill(s: SiteStatus, token: string, cap: Capability): Settlement {
  const last = s.lastDrill;
  if (last?.token === token) {
    // A passed drill's figures are its outcome; a failed or aborted one's message says why.
    const figures = [last.rtoSeconds !== undefined ? `RTO ${last.rtoSeconds}s` : '', last.dataAgeSeconds !== undefined ? `data age ${last.dataAgeSeconds}s` : ''].filter(Boolean).join(', ');
    const outcome = last.result === 'Passed' && figures ? figures : last.message;
    return { state: 'done', ok: last.result === 'Passed', result: last.result, message: `drill ${last.id}: ${outcome}` };
  }
  const running = s.drill;
  if (running?.token === token) {
    const what = running.message.startsWith(`${running.state}: `) ? running.message.slice(running.state.length + 2) : running.message;
    return { state: 'running', line: `drill ${running.id}: ${running.state} (${what})` };
  }
  if (handled(s, cap) !== token) return { state: 'waiting' };
  return { state: 'done', ok: false, result: 'Refused', message: 'the operator did not start a drill; its DrillRefused Event (kubectl standby timeline) says why' };
}

/** Where the request with `token` stands in status `s`. */
export function settle(cap: Capability, s: SiteStatus, token: string): Settlement {
  switch (cap.name) {
    case 'promote':
    case 'site-lost':
      return settlePromote(s, token, cap);
    case 'failback':
      return settleFailback(s, token, cap);
    case 'reprotect':
      return settleReprotect(s, token, cap);
    case 'drill':
      return settleDrill(s, token, cap);
  }
}
