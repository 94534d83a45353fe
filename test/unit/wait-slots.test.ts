/**
 * Waiter slots' timing rules (pure logic, no backend): a waiter told it is next in line behind a
 * grant that may lapse wakes when the grant's claim window ends, however long it meant to sleep.
 */
import { describe, expect, it } from 'vitest';
import { WaitSlots } from '../../src/core/wait-slots.js';
import { monotonicNow } from '../../src/time.js';

describe('wait slots › next in line', () => {
  it('a sleeping waiter told it is next wakes when the claim window ends, not at its sleep’s end', async () => {
    const slots = new WaitSlots(() => true);
    const slot = slots.register('t1', 'lock');
    const started = monotonicNow();
    const sleeping = slot.sleep(10_000, undefined);
    expect(slots.nextInLine('t1', 50)).toBe(true);
    expect(await sleeping).toBeUndefined();
    const slept = monotonicNow() - started;
    expect(slept).toBeGreaterThanOrEqual(50);
    expect(slept).toBeLessThan(5_000);
    slot.dispose();
  });

  it('a notice for a token nobody waits for is not delivered', () => {
    expect(new WaitSlots(() => true).nextInLine('nobody', 50)).toBe(false);
  });

  it('after its look, a waiter looks again at the expiry of a lock that may still be the unclaimed grant, and not after a claimed one', () => {
    const slot = new WaitSlots(() => true).register('t1', 'lock');
    slot.lookAgainIn(500);
    slot.lookedAgain(120);
    expect(slot.lookAt - monotonicNow()).toBeGreaterThan(100);
    expect(slot.lookAt - monotonicNow()).toBeLessThanOrEqual(121);
    slot.lookedAgain(9_000);
    expect(slot.lookAt).toBe(Number.POSITIVE_INFINITY);
    slot.dispose();
  });

  it('a grant still outranks the notice: the waiter wakes with it at once', async () => {
    const slots = new WaitSlots(() => true);
    const slot = slots.register('t1', 'lock');
    const sleeping = slot.sleep(10_000, undefined);
    slots.nextInLine('t1', 5_000);
    slots.wake('t1', { fencingToken: 4, afterAttempt: 1 });
    expect(await sleeping).toEqual({ fencingToken: 4, afterAttempt: 1 });
    slot.dispose();
  });
});
