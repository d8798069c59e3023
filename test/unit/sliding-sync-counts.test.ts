import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoomSent } from '../../src/sliding-sync/connections.js';
import {
  countsOf,
  markUncounted,
  nextCountsAfter,
  roomsToCount,
} from '../../src/sliding-sync/count-rules.js';

function sent(extra: Partial<RoomSent> = {}): RoomSent {
  return {
    stateKey: '[]',
    upTo: 10,
    timelineLimit: 1,
    notificationCount: 3,
    highlightCount: 1,
    ...extra,
  };
}

describe('sliding sync: which unread counts are read', () => {
  const rooms = new Map<string, RoomSent>([
    ['!counted', sent()],
    ['!moved', sent()],
    ['!outside', sent({ uncounted: true })],
    ['!invite', sent({ stripped: true })],
  ]);
  const windows = ['!counted', '!moved', '!outside', '!invite', '!new'];

  it('reads every room without a base, or with one that cannot tell', () => {
    assert.deepEqual(roomsToCount(windows, undefined, new Set()), windows);
    assert.deepEqual(roomsToCount(windows, { rooms }, new Set()), windows);
  });

  it('reads only the rooms that moved, were not counted, were invites or are new', () => {
    const base = { rooms, countsAfter: 5 };
    assert.deepEqual(roomsToCount(windows, base, new Set(['!moved', '!elsewhere'])), [
      '!moved',
      '!outside',
      '!invite',
      '!new',
    ]);
  });

  it('keeps the counts last sent for a joined room not read, none for others', () => {
    const read = { notificationCount: 0, highlightCount: 0 };
    assert.deepEqual(countsOf(read, true, sent()), read);
    assert.deepEqual(countsOf(undefined, true, sent()), {
      notificationCount: 3,
      highlightCount: 1,
    });
    assert.deepEqual(countsOf(undefined, false, sent()), read);
    assert.deepEqual(countsOf(undefined, true, undefined), read);
  });

  it('holds counts up to the evaluation taken before reading, never past the bound', () => {
    assert.equal(nextCountsAfter(7, 9), 7);
    assert.equal(nextCountsAfter(12, 9), 9);
  });

  it('marks the rooms not counted, and unmarks those counted again', () => {
    const state = new Map<string, RoomSent>([
      ['!a', sent()],
      ['!b', sent({ uncounted: true })],
      ['!c', sent()],
    ]);
    markUncounted(state, new Set(['!b', '!c']));
    assert.equal(state.get('!a')!.uncounted, true);
    assert.equal('uncounted' in state.get('!b')!, false);
    assert.equal('uncounted' in state.get('!c')!, false);
  });
});
