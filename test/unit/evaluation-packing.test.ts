import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packEvaluation, unpackEvaluation } from '../../src/storage/sqlite/evaluation-packing.js';
import type { EvaluatedEvents, NotificationRecord } from '../../src/storage/storage.js';

function notification(overrides: Partial<NotificationRecord>): NotificationRecord {
  return {
    userId: '@a:localhost',
    roomId: '!r:localhost',
    eventId: '$e1',
    streamOrdering: 7,
    threadId: 'main',
    notify: true,
    highlight: false,
    actions: ['notify'],
    ts: 1_700_000_000_123,
    ...overrides,
  };
}

describe('push evaluations packed for the writer thread', () => {
  it('unpack gives back every field a row stores of every notification, and the rest as is', () => {
    const highlightActions = [
      'notify',
      { set_tweak: 'highlight' },
      { set_tweak: 'sound', value: 'default' },
    ];
    const result: EvaluatedEvents = {
      notifications: [
        notification({}),
        notification({ userId: '@b:localhost', highlight: true, actions: highlightActions }),
        notification({ eventId: '$e2', streamOrdering: 9, threadId: '$root', ts: 5 }),
        notification({ roomId: '!other:localhost', userId: '@é😀:localhost', eventId: '$e3' }),
      ],
      readMoves: [{ userId: '@c:localhost', roomId: '!r:localhost', streamOrdering: 9 }],
      evaluatedUpTo: 9,
    };
    const packed = packEvaluation(result);
    // The event ID stays behind: rows find their event by position.
    const stored = result.notifications.map(
      ({ eventId: _eventId, notify: _notify, ...row }) => row,
    );
    assert.deepEqual(unpackEvaluation(structuredClone(packed)), {
      ...result,
      notifications: stored,
    });
    assert.ok(!['$e1', '$e2', '$e3'].some((eventId) => packed.strings.includes(eventId)));
  });

  it('sends each repeated string once', () => {
    const notifications = Array.from({ length: 50 }, (_, i) =>
      notification({ userId: `@u${i}:localhost` }),
    );
    const packed = packEvaluation({ notifications, readMoves: [], evaluatedUpTo: 7 });
    // 50 users, and one each of room, thread and action list.
    assert.equal(packed.strings.length, 53);
  });

  it('packs an evaluation with no notifications', () => {
    const empty: EvaluatedEvents = { notifications: [], readMoves: [], evaluatedUpTo: 3 };
    assert.deepEqual(unpackEvaluation(packEvaluation(empty)), empty);
  });
});
