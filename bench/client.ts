// The cost of one API round trip on a new connection (TCP + TLS handshake per
// request, which is what a client gets when it creates an HTTP agent per
// request, as @kubernetes/client-node's KubeConfig does) against the same GET
// on one kept-alive connection. A failover switch is a few sequential round
// trips, so this is part of its time. Sequential GETs of one StandbySite; the
// operator's own behaviour shows in the open sockets sampled during convergence.
import { Agent, fetch, type Dispatcher } from 'undici';
import type { KubeClient } from '../src/k8s/client.ts';
import { SITE_RESOURCE } from '../src/api/resource.ts';
import { objectPath } from '../src/k8s/resources.ts';
import { log, now, round, summarize, type Summary } from './common.ts';

export interface ClientLatency {
  requests: number;
  /** ms per GET with a new connection for every request. */
  newConnection: Summary;
  /** ms per GET on one kept-alive connection. */
  keptAlive: Summary;
  /** Client-side CPU ms per request (this process), both ways. */
  cpuMsPerRequest: { newConnection: number; keptAlive: number };
}

export async function measureClientLatency(client: KubeClient, ca: string, namespace: string, name: string, count = 200): Promise<ClientLatency> {
  log(`client: ${count} sequential GETs, each on a new connection, then on one kept-alive connection`);
  const url = client.server + objectPath(SITE_RESOURCE, namespace, name);
  const headers = [...(await client.connection.headers(url)), ['Accept', 'application/json']] as [string, string][];
  const run = async (dispatcher: () => Dispatcher, closeEach: boolean) => {
    const times: number[] = [];
    const cpu = process.cpuUsage();
    for (let i = 0; i < count; i++) {
      const d = dispatcher();
      const t = now();
      const res = await fetch(url, { headers, dispatcher: d });
      await res.text();
      times.push(now() - t);
      if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
      if (closeEach) await d.close();
    }
    const used = process.cpuUsage(cpu);
    return { times, cpuMs: round((used.user + used.system) / 1000 / count, 2) };
  };
  const fresh = await run(() => new Agent({ connect: { ca } }), true);
  const shared = new Agent({ connect: { ca } });
  const kept = await run(() => shared, false);
  await shared.close();
  const result: ClientLatency = {
    requests: count,
    newConnection: summarize(fresh.times, 2),
    keptAlive: summarize(kept.times, 2),
    cpuMsPerRequest: { newConnection: fresh.cpuMs, keptAlive: kept.cpuMs },
  };
  log(`  GET p50: new connection ${result.newConnection.p50} ms (${fresh.cpuMs} ms CPU), kept-alive ${result.keptAlive.p50} ms (${kept.cpuMs} ms CPU)`);
  return result;
}
