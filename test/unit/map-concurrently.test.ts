import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapConcurrently } from '../../src/util/map-concurrently.js';

test('mapConcurrently keeps the order of the items, whatever order the work finishes in', async () => {
  const delays = [30, 5, 20, 0, 10];
  const results = await mapConcurrently(delays, 3, async (ms) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return ms * 2;
  });
  assert.deepEqual(results, [60, 10, 40, 0, 20]);
});

test('mapConcurrently never has more than the limit in flight', async () => {
  let inFlight = 0;
  let most = 0;
  await mapConcurrently([...Array(20).keys()], 4, async () => {
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 1));
    inFlight--;
  });
  assert.equal(most, 4);
});

test('mapConcurrently rejects with the first failure', async () => {
  await assert.rejects(
    mapConcurrently([1, 2, 3], 2, async (n) => {
      if (n === 2) throw new Error('two');
      return n;
    }),
    /two/,
  );
});

test('mapConcurrently of nothing is nothing', async () => {
  assert.deepEqual(await mapConcurrently([], 8, async () => 1), []);
});
