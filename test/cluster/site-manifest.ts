// The StandbySite the multi-site tests and the site-loss bench apply in the standby's site: a hot
// site whose primary is in the primary's site, promotion automatic with a short failureThreshold,
// and automatic site failover through the witness with the timing given. One builder, so that the
// suites differ only in what they mean to (timing, the witness's namespace, the budget).

/** promotion.siteFailover's timing fields, as written in the manifest. */
export interface WitnessTimingText {
  leaseDuration: string;
  renewInterval: string;
  requestTimeout: string;
  safetyMargin: string;
  acquireAfter: string;
  fenceWithin: string;
}

/** The partition suite's short timing. */
export const SHORT_WITNESS_TIMING: WitnessTimingText = { leaseDuration: '6s', renewInterval: '1500ms', requestTimeout: '1s', safetyMargin: '1500ms', acquireAfter: '5s', fenceWithin: '2s' };

export function automaticSiteYaml(o: {
  timing: WitnessTimingText;
  witnessNamespace: string;
  /** The witness Secret's key, when not the default. */
  witnessKey?: string;
  /** promotion.maxPromotions {count: 1, window: 1h}: one takeover per trial. */
  onePromotion?: boolean;
  name?: string;
}): string {
  const t = o.timing;
  const key = o.witnessKey ? `, key: ${o.witnessKey}` : '';
  return `
apiVersion: standby.dev/v1alpha1
kind: StandbySite
metadata: {name: ${o.name ?? 'orders'}}
spec:
  tier: hot
  primary:
    workload: {kind: StatefulSet, name: orders}
    service: orders
    cluster: {kubeconfigSecret: {name: primary-cluster}}
  promotion:
    mode: automatic
    failureThreshold: 2s
${o.onePromotion ? '    maxPromotions: {count: 1, window: 1h}\n' : ''}    siteFailover:
      mode: automatic
      witness: {kubeconfigSecret: {name: witness${key}}, namespace: ${o.witnessNamespace}}
      leaseDuration: ${t.leaseDuration}
      renewInterval: ${t.renewInterval}
      requestTimeout: ${t.requestTimeout}
      safetyMargin: ${t.safetyMargin}
      acquireAfter: ${t.acquireAfter}
      fenceWithin: ${t.fenceWithin}
`;
}
