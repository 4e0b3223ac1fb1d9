// The API connection of one plugin run: the current kubeconfig and context, as kubectl picks them.
import { readFileSync } from 'node:fs';
import { KubeClient } from '../k8s/client.ts';
import { loadConnection } from '../k8s/connection.ts';
import type { Flags } from './args.ts';

export const FIELD_MANAGER = 'kubectl-standby';

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'dev';
  } catch {
    return 'dev';
  }
}

export interface Session {
  client: KubeClient;
  /** -n, else the context's namespace, else default. */
  namespace: string;
}

export async function openSession(flags: Flags): Promise<Session> {
  const connection = await loadConnection(flags.kubeconfig, flags.context !== undefined ? { context: flags.context } : {});
  const client = new KubeClient(connection, { userAgent: `kubectl-standby/${version()}`, fieldManager: FIELD_MANAGER });
  return { client, namespace: flags.namespace ?? connection.namespace };
}
