import { describe, expect, test } from 'vitest';
import type { PromotionStatus } from '../../../src/api/status.ts';
import { drive, type PromotionSteps, type StepResult } from '../../../src/promotion/executor.ts';
import { begin } from '../../../src/promotion/machine.ts';

const T0 = new Date('2026-11-22T10:00:00Z');
const done: StepResult = { done: true };

function harness(results: Partial<Record<keyof PromotionSteps, StepResult>> = {}, writeOk: (p: PromotionStatus) => boolean = () => true) {
  const log: string[] = [];
  const steps: PromotionSteps = {
    Fencing: async () => (log.push('fence'), await Promise.resolve(results.Fencing ?? done)),
    Promoting: async () => (log.push('promote'), await Promise.resolve(results.Promoting ?? done)),
    Switching: async () => (log.push('switch'), await Promise.resolve(results.Switching ?? done)),
  };
  const write = async (p: PromotionStatus) => {
    await new Promise((r) => setTimeout(r, 5));
    log.push(`write ${p.state ?? ''}`);
    return writeOk(p);
  };
  return { log, steps, write };
}

describe('drive', () => {
  test('runs the steps in order; transitions that come while a record is in flight are written as one, the newest', async () => {
    const h = harness();
    const transitions: string[] = [];
    const r = await drive(begin(T0, 'automatic', 'x', undefined), h.steps, {
      now: () => T0,
      stepTimeoutMs: 1000,
      write: h.write,
      afterTransition: (from, to) => transitions.push(`${from}->${to.state ?? ''}`),
    });
    expect(r).toMatchObject({ conflict: false, waitingFor: undefined, record: { state: 'Promoted' } });
    expect(h.log.filter((l) => !l.startsWith('write'))).toEqual(['fence', 'promote', 'switch']);
    // The steps take no time and a write 5 ms: Switching came while Promoting was being written.
    expect(h.log.filter((l) => l.startsWith('write'))).toEqual(['write Promoting', 'write Promoted']);
    // Writes run beside the steps: the switch does not wait for the records to land first.
    expect(h.log.indexOf('switch')).toBeLessThan(h.log.indexOf('write Promoting'));
    // Every transition is still reported, in order, once its record (or a newer one) landed.
    expect(transitions).toEqual(['Fencing->Promoting', 'Promoting->Switching', 'Switching->Promoted']);
  });

  test('steps slower than the writes get a record each', async () => {
    const slow = async (name: string): Promise<StepResult> => {
      log.push(name);
      await new Promise((r) => setTimeout(r, 30));
      return done;
    };
    const log: string[] = [];
    const steps: PromotionSteps = { Fencing: () => slow('fence'), Promoting: () => slow('promote'), Switching: () => slow('switch') };
    const write = async (p: PromotionStatus) => {
      log.push(`write ${p.state ?? ''}`);
      return Promise.resolve(true);
    };
    await drive(begin(T0, 'automatic', 'x', undefined), steps, { now: () => T0, stepTimeoutMs: 1000, write });
    expect(log).toEqual(['fence', 'write Promoting', 'promote', 'write Switching', 'switch', 'write Promoted']);
  });

  test('a record that fails while the next step still runs reaches the caller as an error, never as an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const slow = async (): Promise<StepResult> => {
        await new Promise((r) => setTimeout(r, 30));
        return done;
      };
      const steps: PromotionSteps = { Fencing: () => Promise.resolve(done), Promoting: slow, Switching: slow };
      const write = (p: PromotionStatus) =>
        p.state === 'Promoting' ? Promise.reject(new Error('500 etcdserver: request timed out')) : Promise.resolve(true);
      // The start record fails too, early, while the fence is going up.
      const pendingWrite = Promise.reject(new Error('503 the start record failed'));
      await expect(drive(begin(T0, 'automatic', 'x', undefined), steps, { now: () => T0, stepTimeoutMs: 1000, write, pendingWrite })).rejects.toThrow('503 the start record failed');
      await expect(drive(begin(T0, 'automatic', 'x', undefined), steps, { now: () => T0, stepTimeoutMs: 1000, write })).rejects.toThrow('500 etcdserver');
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('sequential mode waits for each record before the next step', async () => {
    const h = harness();
    await drive(begin(T0, 'manual', 'x', 't'), h.steps, { now: () => T0, stepTimeoutMs: 1000, write: h.write, sequential: true });
    expect(h.log).toEqual(['fence', 'write Promoting', 'promote', 'write Switching', 'switch', 'write Promoted']);
  });

  test('a waiting step stops the drive once what was done is recorded', async () => {
    const h = harness({ Promoting: { done: false, waitingFor: 'a Ready pod' } });
    const r = await drive(begin(T0, 'automatic', 'x', undefined), h.steps, { now: () => T0, stepTimeoutMs: 1000, write: h.write });
    expect(r).toMatchObject({ waitingFor: 'a Ready pod', record: { state: 'Promoting' } });
    expect(h.log).toEqual(['fence', 'promote', 'write Promoting']);
  });

  test('a failed step records Failed', async () => {
    const h = harness({ Promoting: { done: false, waitingFor: '', failed: 'Job failed' } });
    const r = await drive(begin(T0, 'automatic', 'x', undefined), h.steps, { now: () => T0, stepTimeoutMs: 1000, write: h.write });
    expect(r.record).toMatchObject({ state: 'Failed', message: 'Promoting failed: Job failed' });
    expect(h.log.at(-1)).toBe('write Failed');
  });

  test('a step past its deadline records Failed with what it waited for', async () => {
    const h = harness({ Fencing: { done: false, waitingFor: '1 primary pod(s) still exist' } });
    const late = new Date(T0.getTime() + 301_000);
    const r = await drive(begin(T0, 'automatic', 'x', undefined), h.steps, { now: () => late, stepTimeoutMs: 300_000, write: h.write });
    expect(r.record.message).toBe('Fencing failed: did not finish within 5m0s (promotion.stepTimeout): 1 primary pod(s) still exist');
  });

  test('a refused record (the site changed) ends the drive as a conflict', async () => {
    const h = harness({}, (p) => p.state !== 'Promoting');
    const r = await drive(begin(T0, 'automatic', 'x', undefined), h.steps, { now: () => T0, stepTimeoutMs: 1000, write: h.write });
    expect(r.conflict).toBe(true);
    expect(h.log).not.toContain('write Promoted');
  });

  test('the start record, still in flight, runs beside the fence only; if refused, nothing else happens', async () => {
    const h = harness();
    const r = await drive(begin(T0, 'automatic', 'x', undefined), h.steps, {
      now: () => T0,
      stepTimeoutMs: 1000,
      write: h.write,
      pendingWrite: Promise.resolve(false),
    });
    expect(r.conflict).toBe(true);
    expect(h.log).toEqual(['fence']);
  });
});
