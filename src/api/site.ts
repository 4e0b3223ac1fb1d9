// The StandbySite object and the controller-side validation of its spec.
import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1';
import type { z } from 'zod';
import { siteConflicts } from './conflicts.ts';
import { isKnownTimeZone } from './cron.ts';
import { siteSpecSchema, type SiteSpec } from './spec.ts';
import type { SiteStatus } from './status.ts';

export const GROUP = 'standby.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'StandbySite';
export const PLURAL = 'standbysites';
export const SINGULAR = 'standbysite';
export const SHORT_NAMES = ['sbs'];

/** A StandbySite as stored by the API server (spec not yet validated). */
export interface StandbySiteObject {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata?: IObjectMeta;
  spec?: unknown;
  status?: SiteStatus;
}

/** A StandbySite whose spec passed validation, with defaults filled in. */
export interface StandbySite {
  metadata: IObjectMeta & { name: string; namespace: string };
  spec: SiteSpec;
  status: SiteStatus;
}

export interface FieldProblem {
  /** The field path as kubectl explain spells it, e.g. spec.cold.schedule. */
  field: string;
  message: string;
}

export type Validation = { ok: true; spec: SiteSpec } | { ok: false; problems: FieldProblem[] };

/**
 * The longest site name: the site's name is a label value and the stem of the
 * objects it owns (<name>-standby pods carry a revision hash label, <name>-sync
 * Jobs get a suffix), which must stay within Kubernetes' 63-character limits.
 */
export const MAX_SITE_NAME = 40;

function fieldPath(path: readonly PropertyKey[]): string {
  let out = 'spec';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

function problemsOf(error: z.ZodError): FieldProblem[] {
  return error.issues.map((issue) => ({ field: fieldPath(issue.path), message: issue.message }));
}

/**
 * Validates a spec as the controller sees it: everything the CRD's schema and
 * CEL rules check (the name conflicts only when the site's name is given), plus
 * what only a running program can (the time zone exists).
 */
export function validateSpec(spec: unknown, siteName?: string): Validation {
  const parsed = siteSpecSchema.safeParse(spec ?? undefined);
  if (!parsed.success) return { ok: false, problems: problemsOf(parsed.error) };
  const problems: FieldProblem[] = [];
  for (const section of ['cold', 'warm', 'drill'] as const) {
    const tz = parsed.data[section]?.timeZone;
    if (tz !== undefined && !isKnownTimeZone(tz)) {
      problems.push({
        field: `spec.${section}.timeZone`,
        message: `"${tz}" is not a time zone in the IANA database; use a name such as Europe/Berlin, America/New_York or UTC`,
      });
    }
  }
  if (siteName !== undefined) problems.push(...siteConflicts(parsed.data, siteName));
  if (siteName !== undefined && siteName.length > MAX_SITE_NAME) {
    problems.push({
      field: 'metadata.name',
      message: `"${siteName}" is ${siteName.length} characters; a StandbySite name has at most ${MAX_SITE_NAME}, so the names of the objects it owns stay valid`,
    });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, spec: parsed.data };
}

/** One line per problem, as shown in status conditions and Events. */
export function describeProblems(problems: readonly FieldProblem[]): string {
  return problems.map((p) => `${p.field}: ${p.message}`).join('; ');
}
