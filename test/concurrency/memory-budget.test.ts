// The checker's memory budget: tasks at once never reserve more than the budget, every task runs (none starves or deadlocks), small ones run together.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MemoryBudget } from '../../services/concurrency/memory-budget.ts';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('MemoryBudget', () => {
  it('never lets the bytes reserved at once exceed the budget; every task runs once, in any mix of sizes and durations', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1000 }),
        fc.array(fc.record({ bytes: fc.integer({ min: 0, max: 2500 }), ticks: fc.integer({ min: 0, max: 5 }), fails: fc.boolean() }), { maxLength: 60 }),
        async (budgetBytes, tasks) => {
          const budget = new MemoryBudget(budgetBytes);
          let held = 0;
          let peak = 0;
          const ran: number[] = [];
          const results = await Promise.allSettled(
            tasks.map((t, i) =>
              budget.run(t.bytes, async () => {
                const reserved = Math.min(budgetBytes, Math.max(1, t.bytes));
                held += reserved;
                peak = Math.max(peak, held);
                try {
                  for (let k = 0; k < t.ticks; k++) await tick();
                  ran.push(i);
                  if (t.fails) throw new Error(`task ${i} failed`);
                  return i;
                } finally {
                  held -= reserved;
                }
              }),
            ),
          );
          assert.ok(peak <= budgetBytes, `${peak} bytes reserved at once, budget ${budgetBytes}`);
          assert.deepEqual([...ran].sort((a, b) => a - b), tasks.map((_, i) => i));
          results.forEach((r, i) => assert.equal(r.status, tasks[i]!.fails ? 'rejected' : 'fulfilled'));
          assert.equal(budget.usage().reserved, 0, 'a failed task frees its bytes too');
          assert.ok(budget.usage().peak <= budgetBytes);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('runs small tasks together, and a task larger than the budget alone', async () => {
    const budget = new MemoryBudget(100);
    let atOnce = 0;
    let most = 0;
    const task = async () => {
      most = Math.max(most, ++atOnce);
      await tick();
      atOnce--;
    };
    await Promise.all(Array.from({ length: 10 }, () => budget.run(10, task)));
    assert.equal(most, 10, 'ten tasks of 10 bytes fit a budget of 100 at once');
    most = 0;
    await Promise.all([budget.run(5_000, task), budget.run(1, task), budget.run(5_000, task)]);
    assert.equal(most, 1, 'a task over the budget reserves all of it');
  });

  it('settles a budget counted in bytes (tens of GiB) with thousands of tasks: no work per unit of the budget', async () => {
    const budget = new MemoryBudget(64 * 2 ** 30);
    const sizes = Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? 2 ** 34 : (i * 7919) % 2 ** 20));
    const done = await Promise.all(sizes.map((bytes, i) => budget.run(bytes, async () => (await tick(), i))));
    assert.equal(done.length, sizes.length);
    assert.ok(budget.usage().peak <= 64 * 2 ** 30);
    assert.equal(budget.usage().reserved, 0);
  });

  it('starts tasks in the order they asked: a large one is not overtaken by smaller ones that came after it', async () => {
    const budget = new MemoryBudget(100);
    const order: string[] = [];
    const hold = budget.run(60, async () => (await tick(), order.push('first 60')));
    const large = budget.run(80, async () => order.push('80'));
    const small = budget.run(10, async () => order.push('10, asked after the 80'));
    await Promise.all([hold, large, small]);
    assert.deepEqual(order, ['first 60', '80', '10, asked after the 80']);
  });

  it('refuses a budget that is not a positive whole number of bytes', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => new MemoryBudget(bad), RangeError);
  });
});
