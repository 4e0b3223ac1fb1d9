import { describe, expect, test } from 'vitest';
import { bytes, millicores, parseQuantity } from '../../../src/k8s/quantity.ts';

describe('parseQuantity', () => {
  test.each([
    ['500m', 0.5],
    ['1', 1],
    ['2.5', 2.5],
    ['.5', 0.5],
    ['1Ki', 1024],
    ['1Gi', 2 ** 30],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['128974848', 128974848],
    ['129M', 129e6],
    ['1e3', 1000],
    ['1E3', 1000],
    ['12e-3', 0.012],
    ['1E', 1e18],
    ['1k', 1000],
    ['100n', 1e-7],
    ['+1Mi', 2 ** 20],
    ['-1', -1],
  ])('%s is %d', (q, v) => {
    expect(parseQuantity(q)).toBeCloseTo(v, 12);
  });

  test.each(['', 'Gi', '1GB', '1 Gi', '1.2.3', 'abc', '1KiB', '1e'])('%j is not a quantity', (q) => {
    expect(parseQuantity(q)).toBeUndefined();
  });

  test('numbers pass through; absent is undefined', () => {
    expect(parseQuantity(3)).toBe(3);
    expect(parseQuantity(undefined)).toBeUndefined();
  });
});

describe('millicores and bytes', () => {
  test('round up as Kubernetes does, without counting float error as a unit', () => {
    expect(millicores('0.1')).toBe(100);
    expect(millicores('250m')).toBe(250);
    expect(millicores('0.0001')).toBe(1);
    expect(millicores('2')).toBe(2000);
    expect(bytes('256Mi')).toBe(268435456);
    expect(bytes('0.5Ki')).toBe(512);
    expect(bytes('100m')).toBe(1);
  });

  test('absent or malformed counts 0', () => {
    expect(millicores(undefined)).toBe(0);
    expect(bytes('lots')).toBe(0);
  });
});
