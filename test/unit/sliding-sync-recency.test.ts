import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RoomRecency } from '../../src/sliding-sync/room-recency.js';
import { roomForm } from '../../src/sliding-sync/sliding-sync-rooms.js';

const event = (position: number, ...roomIds: string[]) => ({
  stream: 'roomEvents' as const,
  position,
  userIds: [],
  roomIds,
});

describe('RoomRecency', () => {
  it('answers from notified positions, and sends the rest to storage', () => {
    const recency = new RoomRecency();
    recency.observe(event(5, '!a'));
    recency.observe(event(7, '!b'));
    recency.observe({ stream: 'receipts', position: 99, userIds: [], roomIds: ['!a'] });
    const { known, missing } = recency.lookup(['!a', '!b', '!c'], 10);
    assert.deepEqual(
      [...known],
      [
        ['!a', 5],
        ['!b', 7],
      ],
    );
    assert.deepEqual(missing, ['!c'], 'never seen: storage');
    // An event after the bound: the latest at or before it is storage's to tell.
    assert.deepEqual(recency.lookup(['!b'], 6).missing, ['!b']);
  });

  it('fills only missing entries, never over a newer notification', () => {
    const recency = new RoomRecency();
    recency.fill(new Map([['!a', 3]]), 10);
    assert.deepEqual([...recency.lookup(['!a'], 10).known], [['!a', 3]]);
    recency.observe(event(12, '!a'));
    recency.fill(new Map([['!a', 3]]), 10);
    assert.deepEqual([...recency.lookup(['!a'], 20).known], [['!a', 12]]);
  });

  it('skips a fill when an entry beyond its bound was evicted', () => {
    const recency = new RoomRecency(2);
    recency.observe(event(11, '!x'));
    recency.observe(event(12, '!y'));
    recency.observe(event(13, '!z')); // evicts !x (11)
    assert.equal(recency.size, 2);
    // A read made up to 10 may predate !x's event at 11: not kept.
    recency.fill(new Map([['!x', 4]]), 10);
    assert.deepEqual(recency.lookup(['!x'], 20).missing, ['!x']);
    // A read up to 13 covers it.
    recency.fill(new Map([['!x', 11]]), 13);
    assert.deepEqual([...recency.lookup(['!x'], 20).known], [['!x', 11]]);
  });
});

describe('roomForm', () => {
  const of = (membership: string, everJoined: boolean) =>
    roomForm({
      membership: { roomId: '!r', eventId: '$e', membership, streamOrdering: 1 },
      everJoined,
    });

  it('tells stripped rooms, rejections and members apart', () => {
    assert.equal(of('invite', false), 'stripped');
    assert.equal(of('knock', true), 'stripped');
    assert.equal(of('leave', false), 'rejection', 'an invite withdrawn, a knock refused');
    assert.equal(of('ban', false), 'rejection');
    assert.equal(of('leave', true), 'member', 'kicked after joining: read up to the leave');
    assert.equal(of('join', true), 'member');
  });
});
