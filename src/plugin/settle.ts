// How a request stands, read from the site (pure): not acted on yet, running, or done.
import type { SiteStatus } from '../api/status.ts';
import type { Capability } from './capabilities.ts';

export type Settlement =
  | { state: 'waiting' }
  | { state: 'running'; line: string }
  | { state: 'done'; ok: boolean; result: string; message: string };

const condition = (s: SiteStatus, type: string) => s.conditions?.find((c) => c.type === type);

function handled(s: SiteStatus, cap: Capability): unknown {
  return (s as Record<string, unknown>)[cap.handledField];
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

const refused = (message: string): Settlement => ({ state: 'done', ok: false, result: 'Refused', message });
const took = (seconds: number | undefined) => (seconds !== undefined ? ` (it took ${seconds}s)` : '');

/**
 * A failback records the token in status.failback, which runs Fencing, CatchingUp, Promoting,
 * Switching to Promoted (the primary serves) or Failed; after Promoted the standby is made the
 * primary's standby again (status.reprotection of: standby, phase FailingBack until then). A
 * token handled without a failback of its own was refused: FailbackReady says why (the
 * FailbackRefused Event has the exact words, read by request.ts).
 */
function settleFailback(s: SiteStatus, token: string, cap: Capability): Settlement {
  const f = s.failback;
  if (f?.token === token) {
    if (f.state === 'Failed') {
      const serving = s.active === 'primary' ? 'the primary serves' : 'the standby serves on, unfenced';
      return { state: 'done', ok: false, result: 'Failed', message: `${f.message ?? 'the failback failed'}; ${serving}` };
    }
    if (f.state !== 'Promoted') return { state: 'running', line: `failback: ${f.state ?? 'starting'}${f.message ? ` (${f.message})` : ''}` };
    const r = s.reprotection;
    const back = r?.of === 'standby' && r.startedAt !== undefined && f.startedAt !== undefined && r.startedAt >= f.startedAt ? r : undefined;
    if (back?.state === 'Failed') {
      return { state: 'done', ok: false, result: 'Failed', message: `the primary serves clients again${took(f.durationSeconds)}, but re-protecting the standby failed: ${back.message ?? 'see the timeline'}` };
    }
    // Settled once the standby follows the primary again and the phase says so.
    if (back?.state === 'Protected' && s.phase !== 'FailingBack') {
      return { state: 'done', ok: true, result: 'FailedBack', message: `the primary serves clients again${took(f.durationSeconds)}; the standby follows it again` };
    }
    return { state: 'running', line: `failback: Promoted; the standby is made the primary's standby again${back?.state ? ` (${back.state}${back.message ? `: ${back.message}` : ''})` : ''}` };
  }
  if (handled(s, cap) !== token) return { state: 'waiting' };
  const why = condition(s, 'FailbackReady');
  return refused(why?.status === 'False' ? why.message : 'the operator refused the failback');
}

/**
 * A re-protection records the token in status.reprotection, which runs Preserving, Seeding,
 * Following to Protected or Failed; a token handled without a re-protection of its own was
 * refused (the ReprotectRefused Event says why, read by request.ts).
 */
function settleReprotect(s: SiteStatus, token: string, cap: Capability): Settlement {
  const r = s.reprotection;
  if (r?.token === token) {
    if (r.state === 'Failed') return { state: 'done', ok: false, result: 'Failed', message: `${r.message ?? 're-protection failed'}; ${s.active === 'standby' ? 'the standby serves unprotected' : 'the primary serves unprotected'}` };
    if (r.state !== 'Protected' || s.phase === 'Reprotecting') return { state: 'running', line: `re-protection: ${r.state ?? 'starting'}${r.message ? ` (${r.message})` : ''}` };
    const who = r.of === 'standby' ? 'the standby follows the primary again' : `the old primary follows the serving standby${r.method ? ` (${r.method})` : ''}`;
    const ready = condition(s, 'Ready');
    const how = ready?.status === 'True' ? '' : `; the site is ${s.phase ?? 'not Ready'}: ${ready?.message ?? 'see kubectl standby status'}`;
    return { state: 'done', ok: true, result: 'Protected', message: `${who}${took(r.durationSeconds)}${how}` };
  }
  if (handled(s, cap) !== token) return { state: 'waiting' };
  const stalled = condition(s, 'Stalled');
  return refused(stalled?.status === 'True' ? stalled.message : 'the operator refused the re-protection');
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
