/**
 * unsigned.membership (MSC4115): the user's membership at each timeline event,
 * shared by /sync and sliding sync (src/sync/membership-at-event.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../src/events/pdu.js';
import {
  membershipAt,
  membershipHistories,
  withMembershipAt,
} from '../../src/sync/membership-at-event.js';

const history = [
  { streamOrdering: 10, membership: 'invite' },
  { streamOrdering: 12, membership: 'join' },
  { streamOrdering: 20, membership: 'leave' },
  { streamOrdering: 30, membership: 'join' },
];

describe('membershipAt', () => {
  it('is leave before any member event, as the spec says', () => {
    assert.equal(membershipAt(history, 9), 'leave');
    assert.equal(membershipAt([], 100), 'leave');
  });

  it('counts the event’s own change, and holds until the next', () => {
    assert.equal(membershipAt(history, 10), 'invite');
    assert.equal(membershipAt(history, 11), 'invite');
    assert.equal(membershipAt(history, 12), 'join');
    assert.equal(membershipAt(history, 19), 'join');
    assert.equal(membershipAt(history, 20), 'leave');
    assert.equal(membershipAt(history, 29), 'leave');
    assert.equal(membershipAt(history, 30), 'join');
    assert.equal(membershipAt(history, 1_000), 'join');
  });

  it('agrees with a linear scan over many positions', () => {
    const long = Array.from({ length: 101 }, (_, i) => ({
      streamOrdering: i * 3 + 1,
      membership: i % 2 ? 'join' : 'leave',
    }));
    for (let position = 0; position < 320; position++) {
      const scanned = long.filter((s) => s.streamOrdering <= position).at(-1)?.membership;
      assert.equal(membershipAt(long, position), scanned ?? 'leave', `at ${position}`);
    }
  });
});

describe('withMembershipAt', () => {
  it('adds unsigned.membership beside what unsigned holds, copying the events', () => {
    const events: JsonObject[] = [{ event_id: '$a', unsigned: { age: 5 } }, { event_id: '$b' }];
    const out = withMembershipAt(events, [11, 25], history);
    assert.deepEqual(out, [
      { event_id: '$a', unsigned: { age: 5, membership: 'invite' } },
      { event_id: '$b', unsigned: { membership: 'leave' } },
    ]);
    assert.deepEqual(events[0], { event_id: '$a', unsigned: { age: 5 } }, 'input untouched');
  });
});

describe('membershipHistories', () => {
  it('splits the user’s membership events by room, keeping their order', () => {
    const histories = membershipHistories([
      { roomId: '!a', streamOrdering: 1, membership: 'join' },
      { roomId: '!b', streamOrdering: 2, membership: 'invite' },
      { roomId: '!a', streamOrdering: 3, membership: 'leave' },
    ]);
    assert.deepEqual(histories.get('!a'), [
      { streamOrdering: 1, membership: 'join' },
      { streamOrdering: 3, membership: 'leave' },
    ]);
    assert.deepEqual(histories.get('!b'), [{ streamOrdering: 2, membership: 'invite' }]);
  });
});
