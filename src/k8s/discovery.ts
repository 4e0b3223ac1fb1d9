// Whether the API server offers a resource or subresource (API discovery of its group version),
// e.g. `pods/resize` (in-place pod resize). Asked once per client: an API server does not lose a
// resource while it runs (an upgrade restarts the operator's connections anyway). A failed
// request is not remembered, so the next call asks again.
import type { KubeClient } from './client.ts';

const known = new WeakMap<KubeClient, Map<string, Promise<boolean>>>();

/** `groupVersion`: "v1" for the core group, else "group/version"; `name`: e.g. "pods/resize". */
export function offersResource(client: KubeClient, groupVersion: string, name: string): Promise<boolean> {
  let byKey = known.get(client);
  if (!byKey) {
    byKey = new Map<string, Promise<boolean>>();
    known.set(client, byKey);
  }
  const key = `${groupVersion} ${name}`;
  const had = byKey.get(key);
  if (had) return had;
  const path = groupVersion === 'v1' ? '/api/v1' : `/apis/${groupVersion}`;
  const asked = client
    .request<{ resources?: { name: string }[] }>('GET', path, { verb: 'get', resource: 'discovery' })
    .then((list) => (list.resources ?? []).some((r) => r.name === name));
  byKey.set(key, asked);
  asked.catch(() => byKey.delete(key));
  return asked;
}
