// The reads engines may make, served from the API on demand.
import type { ISecret } from 'kubernetes-models/v1';
import type { EngineIO } from '../engines/engine.ts';
import type { KubeClient } from '../k8s/client.ts';
import { R } from '../k8s/resources.ts';
import type { KubeObject } from '../k8s/types.ts';

interface EndpointSlice extends KubeObject {
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
}

export function apiEngineIO(client: KubeClient): EngineIO {
  return {
    async secret(namespace, name) {
      const s = await client.get<ISecret>(R.secret, namespace, name);
      if (!s) return undefined;
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
      for (const [k, v] of Object.entries(s.stringData ?? {})) out[k] = v;
      return out;
    },
    async endpoints(namespace, service) {
      const { items } = await client.list<EndpointSlice>(R.endpointSlice, namespace, {
        labelSelector: `kubernetes.io/service-name=${service}`,
      });
      return items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses));
    },
  };
}
