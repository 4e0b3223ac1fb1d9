// A request to the operator: write the capability's annotation with a fresh token, then follow
// the site (a watch) until the operator acted on it and it settled, or the time is up.
import { SITE_RESOURCE } from '../api/resource.ts';
import { randomBytes } from 'node:crypto';
import { formatDuration } from '../api/duration.ts';
import type { SiteStatus } from '../api/status.ts';
import { isGone, type KubeClient } from '../k8s/client.ts';
import { R } from '../k8s/resources.ts';
import type { Capability } from './capabilities.ts';
import { settle, type Settlement } from './settle.ts';
import type { EventObject } from './timeline.ts';
import type { SiteObject } from './view.ts';

export interface RequestResult {
  command: string;
  namespace: string;
  name: string;
  annotation: string;
  token: string;
  /** Promoted, Failed, Refused, TimedOut, Withdrawn, Deleted (and for later capabilities their own). */
  result: string;
  ok: boolean;
  /** The operator acted on the token (false: it never saw it, or it was withdrawn). */
  acted: boolean;
  message: string;
  elapsedSeconds: number;
  status?: SiteStatus;
}

/** A token no earlier request used: the prefix (force-, site-lost-, ...) says what it asks. */
export function freshToken(prefix: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'z').toLowerCase();
  return `${prefix}${stamp}-${randomBytes(3).toString('hex')}`;
}

/** The annotation key as a JSON pointer segment (RFC 6901). */
const pointer = (key: string) => `/metadata/annotations/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;

export interface Progress {
  update(line: string): void;
  done(): void;
}

/** One progress line on stderr: rewritten in place on a terminal, one line per change elsewhere. */
export function progressLine(stream: NodeJS.WriteStream = process.stderr, started = Date.now()): Progress {
  let last = '';
  let timer: NodeJS.Timeout | undefined;
  const draw = () => stream.write(`\r\x1b[2K${last} [${Math.round((Date.now() - started) / 1000)}s]`);
  return {
    update(line) {
      if (line === last) return;
      last = line;
      if (stream.isTTY) {
        draw();
        timer ??= setInterval(draw, 1000);
      } else {
        stream.write(`${line}\n`);
      }
    },
    done() {
      if (timer) clearInterval(timer);
      if (stream.isTTY && last) stream.write('\r\x1b[2K');
    },
  };
}

export interface RequestOptions {
  client: KubeClient;
  capability: Capability;
  /** The command as the user typed it, for the result. */
  command: string;
  site: SiteObject;
  token: string;
  timeoutMs: number;
  progress: Progress;
  /** Aborts the wait early (Ctrl-C): treated like a timeout. */
  signal?: AbortSignal;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Follows one site from `resourceVersion` and calls `onSite` with every version until it returns
 * true, the site is deleted (onSite(undefined)) or `signal` aborts.
 */
async function follow(client: KubeClient, site: SiteObject, resourceVersion: string, signal: AbortSignal, onSite: (s: SiteObject | undefined) => boolean): Promise<void> {
  const { namespace, name } = site.metadata;
  let rv = resourceVersion;
  const stop = new AbortController();
  const both = AbortSignal.any([signal, stop.signal]);
  const finished = { now: false };
  while (!both.aborted) {
    try {
      await client.watch<SiteObject>(SITE_RESOURCE, namespace, { resourceVersion: rv, fieldSelector: `metadata.name=${name}`, timeoutSeconds: 60, signal: both }, (ev) => {
        if (finished.now) return;
        rv = ev.object.metadata.resourceVersion ?? rv;
        if (ev.type === 'BOOKMARK') return;
        if (onSite(ev.type === 'DELETED' ? undefined : ev.object)) {
          finished.now = true;
          stop.abort();
        }
      });
    } catch (err) {
      // (watch returns quietly once `both` aborts, so an error here is a real one.)
      if (isGone(err)) {
        const now = await client.get<SiteObject>(SITE_RESOURCE, namespace, name).catch(() => undefined);
        if (onSite(now)) return;
        rv = now?.metadata.resourceVersion ?? rv;
        continue;
      }
      await sleep(1000, both);
    }
  }
}

/** The operator's own words for a refused promote token, from its PromotionRefused Event. */
async function refusalEvent(client: KubeClient, site: SiteObject, annotation: string, token: string): Promise<string | undefined> {
  const prefix = `${annotation}=${token}: `;
  const events = await client
    .list<EventObject>(R.event, site.metadata.namespace, {
      fieldSelector: `involvedObject.name=${site.metadata.name},involvedObject.kind=StandbySite,reason=PromotionRefused`,
    })
    .catch(() => ({ items: [] as EventObject[] }));
  return events.items.find((e) => e.message?.startsWith(prefix))?.message?.slice(prefix.length);
}

export async function runRequest(o: RequestOptions): Promise<RequestResult> {
  const { client, capability: cap, site, token } = o;
  const { namespace, name } = site.metadata;
  const started = Date.now();
  const base = { command: o.command, namespace, name, annotation: cap.annotation, token };
  const result = (r: Omit<RequestResult, keyof typeof base | 'elapsedSeconds'>): RequestResult => ({
    ...base,
    ...r,
    elapsedSeconds: Math.round((Date.now() - started) / 100) / 10,
  });

  const written = await client.mergePatch<SiteObject>(SITE_RESOURCE, namespace, name, { metadata: { annotations: { [cap.annotation]: token } } });
  o.progress.update(`${cap.annotation}=${token} written; waiting for the operator to act on it`);

  const deadline = AbortSignal.any([AbortSignal.timeout(o.timeoutMs), ...(o.signal ? [o.signal] : [])]);
  let last: Settlement = { state: 'waiting' };
  let lastStatus: SiteStatus | undefined = written.status;
  const gone = { deleted: false };
  const judge = (s: SiteObject | undefined): boolean => {
    if (!s) {
      gone.deleted = true;
      return true;
    }
    lastStatus = s.status;
    last = settle(cap, s.status ?? {}, token, site.status);
    if (last.state === 'running') o.progress.update(last.line);
    return last.state === 'done';
  };
  if (!judge(written)) await follow(client, site, written.metadata.resourceVersion ?? '', deadline, judge);
  o.progress.done();
  const settled = last as Settlement;

  if (gone.deleted) return result({ result: 'Deleted', ok: false, acted: false, message: `standbysite ${name} was deleted while waiting` });
  if (settled.state === 'done') {
    let message = settled.message;
    if (settled.result === 'Refused' && cap.annotation === 'standby.dev/promote') message = (await refusalEvent(client, site, cap.annotation, token)) ?? message;
    return result({ result: settled.result, ok: settled.ok, acted: true, message, ...(lastStatus ? { status: lastStatus } : {}) });
  }

  const why = o.signal?.aborted ? 'interrupted' : `timed out after ${formatDuration(o.timeoutMs)}`;
  if (settled.state === 'running') {
    return result({
      result: 'TimedOut',
      ok: false,
      acted: true,
      message: `${why}; the operator is still at it (${settled.line}): follow it with \`kubectl standby timeline ${name} -n ${namespace}\``,
      ...(lastStatus ? { status: lastStatus } : {}),
    });
  }
  // Never acted on: withdraw the request, so that an operator that comes back later does not
  // act on something its requester gave up on. The test op makes it remove only our own token;
  // a promotion the operator began meanwhile is recorded with the site's resourceVersion as
  // precondition, which this removal changes, so it cannot start behind our back.
  let withdrawn = false;
  try {
    await client.jsonPatch(SITE_RESOURCE, namespace, name, [
      { op: 'test', path: pointer(cap.annotation), value: token },
      { op: 'remove', path: pointer(cap.annotation) },
    ]);
    withdrawn = true;
  } catch {
    // Someone changed the annotation meanwhile: it is no longer our request to withdraw.
  }
  const now = await client.get<SiteObject>(SITE_RESOURCE, namespace, name).catch(() => undefined);
  const after = now ? settle(cap, now.status ?? {}, token, site.status) : { state: 'waiting' as const };
  if (after.state !== 'waiting') {
    return result({
      result: after.state === 'done' ? after.result : 'TimedOut',
      ok: after.state === 'done' && after.ok,
      acted: true,
      message: after.state === 'done' ? after.message : `${why}; the operator is still at it (${after.line})`,
      ...(now?.status ? { status: now.status } : {}),
    });
  }
  return result({
    result: withdrawn ? 'Withdrawn' : 'TimedOut',
    ok: false,
    acted: false,
    message: `${why}: the operator did not act on ${cap.annotation}=${token}${withdrawn ? ', so the request was withdrawn' : ''}; is the operator running and watching namespace ${namespace}?`,
  });
}
