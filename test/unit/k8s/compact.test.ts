// compact(): what a cache keeps is a plain copy with shared strings. `gc` and `%HasFastProperties`
// are V8's own, switched on for this file.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext, runInThisContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { compact, intern } from '../../../src/k8s/compact.ts';

setFlagsFromString('--expose-gc');
setFlagsFromString('--allow-natives-syntax');
const gc = runInNewContext('gc') as () => void;
const hasFastProperties = runInThisContext('(o) => %HasFastProperties(o)') as (o: object) => boolean;

describe('compact', () => {
  test('a deep copy of JSON values, without undefined properties, sharing no object with its input', () => {
    const input = { a: 'x'.repeat(20), b: undefined, c: [1, { d: null, e: undefined, f: true }], g: { h: 'short' } };
    const out = compact(input);
    expect(out).toEqual({ a: 'x'.repeat(20), c: [1, { d: null, f: true }], g: { h: 'short' } });
    expect(Object.keys(out)).toEqual(['a', 'c', 'g']);
    expect(out.c).not.toBe(input.c);
    expect(out.c[1]).not.toBe(input.c[1]);
    expect(out.g).not.toBe(input.g);
  });

  test('an object that lost a property to delete (a dictionary) comes back with fast properties', () => {
    const meta: Record<string, unknown> = JSON.parse('{"name":"db","namespace":"shop","managedFields":[{}],"labels":{"app":"db"}}') as Record<string, unknown>;
    delete meta.managedFields;
    expect(hasFastProperties(meta)).toBe(false);
    expect(hasFastProperties(compact(meta))).toBe(true);
  });

  test('equal strings parsed apart are kept once', () => {
    const long = 'standby-operator-'.repeat(64); // 1,088 characters, far above what the parser shares
    expect(intern(`${long.slice(0, 500)}${long.slice(500)}`)).toBe(long);
    gc();
    const before = process.memoryUsage().heapUsed;
    const kept: unknown[] = [];
    for (let i = 0; i < 10_000; i++) kept.push(compact(JSON.parse(`{"message":"${long}","i":${i}}`) as unknown));
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // 10,000 copies of the message would take ~11 MB; one shared copy and 10,000 small objects, well under 2 MB.
    expect(grown).toBeLessThan(2 * 1024 * 1024);
    expect(kept).toHaveLength(10_000);
  });
});
