// vitest globalSetup of the realpods project: a control plane with one real node (kubelet +
// containerd, see test/cluster/real-node.ts) and the test images imported into it; reuses a
// `npm run cluster:up -- --real-nodes 1` control plane if one is up.
import { clusterSetup } from '../cluster/global-setup.ts';

export default clusterSetup({ realNodes: 1, prefix: 'standby-realpods-', label: 'realpods' });
