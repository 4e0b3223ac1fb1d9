// The schema check the builders' tests rely on must itself reject what the API server would.
import { expect, test } from 'vitest';
import { allValidated, schemaProblem, validated } from './models.ts';

const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' }, spec: { ports: [{ port: 80 }] } };

test('a valid object passes and comes back as it was', () => {
  expect(validated(service)).toBe(service);
  expect(allValidated([service])).toEqual([service]);
});

test('a wrong field type, a missing required field, and a builder that left apiVersion out fail', () => {
  expect(() => validated({ ...service, spec: { ports: [{ port: '80' }] } })).toThrow(/Service a fails the Kubernetes schema/);
  expect(() => validated({ ...service, spec: { ports: [{ name: 'http' }] } })).toThrow(/port/);
  expect(() => validated({ kind: 'Service', metadata: { name: 'a' } })).toThrow(/no model for \(no apiVersion\)\/Service/);
});

test('a kind with no model fails unless it is a known CRD', () => {
  expect(() => validated({ apiVersion: 'v1', kind: 'Nonsense' })).toThrow(/no model/);
  expect(validated({ apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot' }).kind).toBe('VolumeSnapshot');
});

test("schemaProblem (the fake API's check): a message for an invalid object, nothing for a kind without a model", () => {
  expect(schemaProblem(service)).toBeUndefined();
  expect(schemaProblem({ ...service, spec: { ports: [{ port: '80' }] } })).toMatch(/fails the Kubernetes schema/);
  expect(schemaProblem({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' })).toBeUndefined();
});
