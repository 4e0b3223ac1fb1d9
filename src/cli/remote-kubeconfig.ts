// `remote-kubeconfig`: prints the kubeconfig for the Secret that lets an operator in a standby's
// cluster reach this (the primary's) cluster, from the token Secret of the chart's remoteAccess
// ServiceAccount. Run it with credentials for the primary's cluster:
//
//   standby-operator remote-kubeconfig [--kubeconfig F] [--context C] --namespace standby-system --service-account standby-operator-remote \
//     --primary-namespace shop [--server https://primary.example.com:6443] > primary.kubeconfig
import type { ISecret } from 'kubernetes-models/v1';
import { parseArgs } from 'node:util';
import { KubeClient } from '../k8s/client.ts';
import { loadConnection } from '../k8s/connection.ts';
import { R } from '../k8s/resources.ts';
import { remoteKubeconfig } from '../remote/kubeconfig.ts';

export async function remoteKubeconfigCommand(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        namespace: { type: 'string' },
        'service-account': { type: 'string' },
        'primary-namespace': { type: 'string' },
        server: { type: 'string' },
        secret: { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`remote-kubeconfig: ${(err as Error).message}`);
    return 2;
  }
  const namespace = values.namespace;
  const sa = values['service-account'];
  if (!namespace || !sa) {
    console.error('remote-kubeconfig: --namespace (the chart release namespace) and --service-account (the remoteAccess ServiceAccount) are required');
    return 2;
  }
  let connection;
  try {
    connection = await loadConnection(values.kubeconfig, values.context === undefined ? {} : { context: values.context });
  } catch (err) {
    console.error(`remote-kubeconfig: ${(err as Error).message}`);
    return 1;
  }
  const client = new KubeClient(connection);
  const name = values.secret ?? `${sa}-token`;
  const secret = await client.get<ISecret>(R.secret, namespace, name);
  if (!secret) {
    console.error(`remote-kubeconfig: Secret ${namespace}/${name} does not exist: install the chart with remoteAccess.enabled=true in this cluster`);
    return 1;
  }
  const decode = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString('utf8');
  try {
    process.stdout.write(
      remoteKubeconfig({
        server: values.server ?? connection.server,
        caPem: decode('ca.crt'),
        token: decode('token'),
        namespace: values['primary-namespace'] ?? 'default',
      }),
    );
  } catch (err) {
    console.error(`remote-kubeconfig: Secret ${namespace}/${name}: ${(err as Error).message}`);
    return 1;
  }
  return 0;
}
