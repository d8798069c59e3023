import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemberEventHorizon } from '../../src/storage/common/member-event-horizon.js';

/** A stream whose member events are at `members`, committed up to `committed`. */
function horizonOver(members: number[]) {
  const state = { committed: 0, queries: 0 };
  const horizon = new MemberEventHorizon(
    () => state.committed,
    async (after, upTo) => {
      state.queries++;
      const found = members.filter((p) => p > after && p <= upTo);
      return found.length > 0 ? Math.max(...found) : undefined;
    },
  );
  return { state, horizon };
}

test('a stretch of messages holds no member event; one that has one does', async () => {
  const { state, horizon } = horizonOver([3, 7]);
  state.committed = 10;
  assert.equal(await horizon.noneIn(7, 10), true);
  assert.equal(await horizon.noneIn(6, 10), false);
  assert.equal(await horizon.noneIn(2, 6), false);
  assert.equal(await horizon.noneIn(8, 9), true);
});

test('it never says "none" of a range that holds a member event', async () => {
  const members = [3, 7, 8];
  const { state, horizon } = horizonOver(members);
  state.committed = 12;
  for (let after = 11; after >= 0; after--) {
    for (let upTo = after + 1; upTo <= 12; upTo++) {
      const holds = members.some((p) => p > after && p <= upTo);
      if (holds) assert.equal(await horizon.noneIn(after, upTo), false, `(${after}, ${upTo}]`);
      if (after >= 8) assert.equal(await horizon.noneIn(after, upTo), true, `(${after}, ${upTo}]`);
    }
  }
});

test('syncs woken together by one send share one query', async () => {
  const { state, horizon } = horizonOver([2]);
  state.committed = 5;
  assert.equal(await horizon.noneIn(4, 5), true);
  const before = state.queries;
  state.committed = 6;
  const answers = await Promise.all(Array.from({ length: 50 }, () => horizon.noneIn(5, 6)));
  assert.deepEqual(new Set(answers), new Set([true]));
  assert.equal(state.queries - before, 1);
});

test('a range past the committed point is not known: the caller must query', async () => {
  const { state, horizon } = horizonOver([]);
  state.committed = 4;
  assert.equal(await horizon.noneIn(3, 9), false);
  state.committed = 9;
  assert.equal(await horizon.noneIn(3, 9), true);
});

test('a member event committed after the stretch was learnt is found', async () => {
  const members: number[] = [];
  const { state, horizon } = horizonOver(members);
  state.committed = 3;
  assert.equal(await horizon.noneIn(1, 3), true);
  members.push(4);
  state.committed = 5;
  assert.equal(await horizon.noneIn(3, 5), false);
  assert.equal(await horizon.noneIn(4, 5), true);
});

test('an empty range holds nothing, without a query', async () => {
  const { state, horizon } = horizonOver([1]);
  assert.equal(await horizon.noneIn(5, 5), true);
  assert.equal(state.queries, 0);
});
