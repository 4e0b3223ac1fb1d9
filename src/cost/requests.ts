// What a pod of a template reserves on its node: its effective CPU and memory requests, as the
// scheduler counts them (the Kubernetes "effective request" rule, KEP-753 for sidecars).
import type { V1Container, V1PodTemplateSpec } from '@kubernetes/client-node';
import { bytes, millicores } from '../k8s/quantity.ts';

export interface Reservation {
  /** Millicores: integers while summing, so that 2 × 250m is exactly 500m. */
  milliCpu: number;
  memoryBytes: number;
}

export const NOTHING: Reservation = { milliCpu: 0, memoryBytes: 0 };

/** A container's request: its requests, else its limits (the API server defaults one to the other). */
function containerRequest(c: V1Container): Reservation {
  const r = c.resources;
  return {
    milliCpu: millicores(r?.requests?.cpu ?? r?.limits?.cpu),
    memoryBytes: bytes(r?.requests?.memory ?? r?.limits?.memory),
  };
}

const add = (a: Reservation, b: Reservation): Reservation => ({ milliCpu: a.milliCpu + b.milliCpu, memoryBytes: a.memoryBytes + b.memoryBytes });
const max = (a: Reservation, b: Reservation): Reservation => ({ milliCpu: Math.max(a.milliCpu, b.milliCpu), memoryBytes: Math.max(a.memoryBytes, b.memoryBytes) });

/**
 * One pod's effective requests: the larger of (its containers + sidecars) and (each init
 * container + the sidecars started before it), per resource, plus the pod's overhead.
 */
export function podRequests(template: V1PodTemplateSpec | undefined): Reservation {
  const spec = template?.spec;
  if (!spec) return NOTHING;
  let sidecars = NOTHING;
  let init = NOTHING;
  for (const c of spec.initContainers ?? []) {
    const r = containerRequest(c);
    if (c.restartPolicy === 'Always') {
      sidecars = add(sidecars, r);
      init = max(init, sidecars);
    } else {
      init = max(init, add(r, sidecars));
    }
  }
  const running = spec.containers.reduce((sum, c) => add(sum, containerRequest(c)), sidecars);
  const overhead = { milliCpu: millicores(spec.overhead?.cpu), memoryBytes: bytes(spec.overhead?.memory) };
  return add(max(running, init), overhead);
}

/** `replicas` pods of a template. */
export function times(r: Reservation, replicas: number): Reservation {
  const n = Math.max(0, replicas);
  return { milliCpu: r.milliCpu * n, memoryBytes: r.memoryBytes * n };
}
