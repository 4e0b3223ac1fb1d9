// The operator's image when neither a flag nor OPERATOR_IMAGE names one (the chart always sets it).
export const DEFAULT_IMAGE = 'ghcr.io/standby-operator/standby-operator:0.1.0';
