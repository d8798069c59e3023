/**
 * The notification store's writes behind (PostgreSQL, SQLite's writer thread):
 * a write that fails after `recordEvaluated` resolved is reported by the next
 * call, once, and what it held is not taken as stored.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CachedNotificationStore,
  type EvaluationRows,
  type NotificationRows,
} from '../../src/storage/common/notification-cache.js';
import type { EvaluatedEvents } from '../../src/storage/storage.js';

function evaluation(position: number): EvaluatedEvents {
  return {
    notifications: [
      {
        userId: '@bob:x',
        roomId: '!r:x',
        eventId: `$e${position}`,
        streamOrdering: position,
        threadId: 'main',
        notify: true,
        highlight: false,
        actions: ['notify'],
        ts: 1,
      },
    ],
    readMoves: [],
    evaluatedUpTo: position,
  };
}

/** Rows whose writes fail while `failing` is set; what was written, and the unread reads. */
function rowsWithFailures() {
  const state = { failing: true, written: [] as number[], unreadReads: 0 };
  const rows = {
    async writeEvaluated(result: EvaluationRows) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (state.failing) throw new Error('the database went away');
      state.written.push(result.evaluatedUpTo);
      return result.notifications.map(() => true);
    },
    async countUnread() {
      state.unreadReads++;
      return new Map();
    },
  };
  return { state, rows: rows as unknown as NotificationRows };
}

test('a write behind that fails is reported by the next recordEvaluated, once', async () => {
  const { state, rows } = rowsWithFailures();
  const store = new CachedNotificationStore(rows, {
    evaluated: 0,
    changeFloor: 0,
    writes: { behind: true },
  });
  await store.recordEvaluated(evaluation(1));
  await store.flush();
  assert.deepEqual(state.written, []);
  state.failing = false;
  await assert.rejects(store.recordEvaluated(evaluation(2)), /the database went away/);
  await store.recordEvaluated(evaluation(3));
  await store.flush();
  assert.deepEqual(state.written, [3], 'the evaluation after the report is written');
});

test('after a failed write, unread counts are read from the rows, not from what it held', async () => {
  const { state, rows } = rowsWithFailures();
  const store = new CachedNotificationStore(rows, {
    evaluated: 0,
    changeFloor: 0,
    writes: { behind: true },
  });
  // Cached: none unread.
  assert.deepEqual(await store.unreadByThread('@bob:x', '!r:x', 0), new Map());
  await store.recordEvaluated(evaluation(1));
  await store.flush();
  const reads = state.unreadReads;
  assert.deepEqual(await store.unreadByThread('@bob:x', '!r:x', 1), new Map());
  assert.equal(state.unreadReads, reads + 1, 'read again from the rows');
});
