// The plugin's commands. Each reads what it needs, prints text or -o json to stdout, and returns
// the exit code; progress and errors go to stderr.
import { SITE_RESOURCE } from '../api/resource.ts';
import { isNotFound, type KubeClient } from '../k8s/client.ts';
import { R } from '../k8s/resources.ts';
import { parseDuration } from '../api/duration.ts';
import type { Flags } from './args.ts';
import { UsageError } from './args.ts';
import { CAPABILITIES, offer, siteSchemaIn, type Capability, type CapabilityName, type Offer, type SchemaNode } from './capabilities.ts';
import { renderList, renderStatus, renderTimeline, seconds } from './render.ts';
import { freshToken, progressLine, runRequest } from './request.ts';
import { openSession, type Session } from './session.ts';
import { promotionSteps, timeline, type EventObject } from './timeline.ts';
import { nextSteps, siteView, type SiteObject } from './view.ts';

/** A failure the user can act on: one line on stderr, exit code 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

type Run = (names: string[], flags: Flags, io: Output, signal: AbortSignal) => Promise<number>;

export interface Command {
  usage: string;
  summary: string;
  run: Run;
}

function oneName(names: string[], usage: string): string {
  if (names.length !== 1) throw new UsageError(names.length === 0 ? `a site name is required: ${usage}` : `one site name, not ${names.length}: ${usage}`);
  return names[0]!;
}

async function getSite(s: Session, name: string): Promise<SiteObject> {
  try {
    const site = await s.client.get<SiteObject>(SITE_RESOURCE, s.namespace, name);
    if (!site) throw new CommandError(`standbysite "${name}" not found in namespace "${s.namespace}"`);
    return site;
  } catch (err) {
    if (isNotFound(err)) throw new CommandError(`the StandbySite API (standby.dev/v1alpha1) is not served by this cluster: install the operator's CRD`);
    throw err;
  }
}

/** The StandbySite schema the API server serves, or why it could not be read. */
async function servedSchema(client: KubeClient): Promise<{ schema?: SchemaNode; why?: string }> {
  try {
    const doc = await client.request<unknown>('GET', '/openapi/v3/apis/standby.dev/v1alpha1', { verb: 'get', resource: 'openapi' });
    const schema = siteSchemaIn(doc);
    return schema ? { schema } : { why: 'the served OpenAPI document has no StandbySite schema' };
  } catch (err) {
    return { why: `the served StandbySite schema could not be read (${(err as Error).message})` };
  }
}

async function offers(client: KubeClient): Promise<(c: CapabilityName) => Offer> {
  const needed = Object.values(CAPABILITIES).some((c) => c.offeredWhen !== undefined);
  const served = needed ? await servedSchema(client) : {};
  return (c) => offer(CAPABILITIES[c], served.schema, served.why);
}

async function siteEvents(client: KubeClient, site: SiteObject): Promise<EventObject[]> {
  const list = await client.list<EventObject>(R.event, site.metadata.namespace, {
    fieldSelector: `involvedObject.name=${site.metadata.name},involvedObject.kind=StandbySite`,
  });
  return list.items;
}

const json = (v: unknown) => JSON.stringify(v, null, 2);

const status: Run = async (names, flags, io) => {
  const name = oneName(names, 'kubectl standby status NAME');
  const s = await openSession(flags);
  const site = await getSite(s, name);
  const isOffered = await offers(s.client);
  const view = siteView(site, new Date());
  const next = nextSteps(view, (c) => isOffered(c).offered === true);
  const drill = isOffered('drill');
  const lastDrillValue = (site.status as Record<string, unknown> | undefined)?.lastDrill;
  const lastDrill =
    drill.offered === true
      ? lastDrillValue === undefined
        ? 'none yet'
        : JSON.stringify(lastDrillValue)
      : drill.offered === false
        ? drill.why
        : `unknown: ${drill.why}`;
  const steps = view.promotion ? promotionSteps(view.promotion) : [];
  if (flags.output === 'json') {
    io.out(json({ ...view, lastDrill: drill.offered === true ? (lastDrillValue ?? null) : { supported: false, message: lastDrill }, lastPromotionSteps: steps, next }));
  } else {
    io.out(renderStatus({ view, lastDrill, lastPromotion: steps, next }));
  }
  return 0;
};

const list: Run = async (names, flags, io) => {
  if (names.length > 0) throw new UsageError('list takes no site name: kubectl standby list [-A]');
  const s = await openSession(flags);
  let items: SiteObject[];
  try {
    items = (await s.client.list<SiteObject>(SITE_RESOURCE, flags.allNamespaces ? undefined : s.namespace)).items;
  } catch (err) {
    if (isNotFound(err)) throw new CommandError('the StandbySite API (standby.dev/v1alpha1) is not served by this cluster: install the operator\'s CRD');
    throw err;
  }
  const now = new Date();
  const views = items
    .map((i) => siteView(i, now))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  if (flags.output === 'json') io.out(json({ items: views }));
  else if (views.length === 0) io.err(flags.allNamespaces ? 'No StandbySites found.' : `No StandbySites found in namespace ${s.namespace}.`);
  else io.out(renderList(views, flags.allNamespaces));
  return 0;
};

const timelineCommand: Run = async (names, flags, io) => {
  const name = oneName(names, 'kubectl standby timeline NAME');
  const s = await openSession(flags);
  const site = await getSite(s, name);
  const entries = timeline(site.status?.promotion, site.status?.promotionHistory ?? [], await siteEvents(s.client, site));
  if (flags.output === 'json') io.out(json({ namespace: site.metadata.namespace, name, entries }));
  else io.out(renderTimeline(entries));
  return 0;
};

const DEFAULT_TIMEOUT_MS = parseDuration('5m')!;

function request(command: 'promote' | 'failback' | 'reprotect' | 'drill'): Run {
  return async (names, flags, io, signal) => {
    const name = oneName(names, `kubectl standby ${command} NAME`);
    if (command !== 'promote' && (flags.force || flags.siteLost)) throw new UsageError(`--force and --site-lost are flags of promote, not of ${command}`);
    if (flags.force && flags.siteLost) throw new UsageError('use --force or --site-lost, not both: a site-lost promotion already waives what it cannot check');
    const cap: Capability = CAPABILITIES[command === 'promote' && flags.siteLost ? 'site-lost' : command];
    // A capability no operator offers: say so before connecting anywhere.
    if (!cap.offeredWhen) throw new CommandError(cap.notYet);
    const s = await openSession(flags);
    const site = await getSite(s, name);
    const o = (await offers(s.client))(cap.name);
    if (o.offered === false) throw new CommandError(o.why);
    if (o.offered === 'unknown') io.err(`warning: ${o.why}; asking anyway`);
    const p = site.status?.promotion;
    if (p?.state === 'Fencing' || p?.state === 'Promoting' || p?.state === 'Switching') {
      throw new CommandError(`a promotion is already running (${p.state}); follow it with \`kubectl standby timeline ${name} -n ${site.metadata.namespace}\``);
    }
    const prefix = cap.name === 'promote' && flags.force ? 'force-' : cap.tokenPrefix;
    const res = await runRequest({
      client: s.client,
      capability: cap,
      command,
      site,
      token: freshToken(prefix, new Date()),
      timeoutMs: flags.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      progress: progressLine(),
      signal,
    });
    if (flags.output === 'json') io.out(json(res));
    else io.out(`${command} ${site.metadata.namespace}/${name}: ${res.result} after ${seconds(res.elapsedSeconds)}: ${res.message}`);
    if (!res.ok) io.err(`error: ${command} ${name}: ${res.result.toLowerCase()}: ${res.message}`);
    return res.ok ? 0 : 1;
  };
}

export const COMMANDS: Record<string, Command> = {
  status: {
    usage: 'status NAME',
    summary: 'tier, which side serves, data age against the RPO target, lag, conditions, the last drill and promotion, and what to do next',
    run: status,
  },
  list: { usage: 'list [-A]', summary: 'the sites of the namespace (-A: of all namespaces), one line each', run: list },
  promote: {
    usage: 'promote NAME [--force] [--site-lost]',
    summary: 'promote the standby (fencing the primary first) and wait for the outcome; --force waives the data-age check',
    run: request('promote'),
  },
  failback: { usage: 'failback NAME', summary: 'fail back to the declared primary (planned) and wait for the outcome', run: request('failback') },
  reprotect: { usage: 'reprotect NAME', summary: 're-protect a promoted site (the old primary becomes its standby) and wait', run: request('reprotect') },
  drill: { usage: 'drill NAME', summary: 'run a DR drill of the standby, away from production, and wait for its measured RTO', run: request('drill') },
  timeline: { usage: 'timeline NAME', summary: 'the promotions and Events of a site, in order', run: timelineCommand },
};
