import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pdu } from '../../src/events/pdu.js';
import type { EventRecord } from '../../src/storage/storage.js';
import { RecentEvents } from '../../src/sync/recent-events.js';

function event(roomId: string, streamOrdering: number, extra: Partial<Pdu> = {}): EventRecord {
  const pdu = {
    type: 'm.room.message',
    room_id: roomId,
    sender: '@a:x',
    origin_server_ts: 0,
    content: { body: `e${streamOrdering}` },
    prev_events: [],
    auth_events: [],
    depth: streamOrdering,
    hashes: { sha256: '' },
    signatures: {},
    ...extra,
  } as Pdu;
  return { eventId: `$e${streamOrdering}`, roomId, pdu, streamOrdering };
}

const ids = (events: EventRecord[] | undefined) => events?.map((e) => e.streamOrdering);

describe('recent events', () => {
  it('answers ranges from its first event on, in either order, and nothing below it', () => {
    const recent = new RecentEvents(10, 10);
    recent.add([event('!r', 5), event('!other', 6), event('!r', 7), event('!r', 9)]);
    assert.deepEqual(ids(recent.range('!r', 4, 100, 10, 'newest-first')), [9, 7, 5]);
    assert.deepEqual(ids(recent.range('!r', 5, 8, 10, 'oldest-first')), [7]);
    assert.deepEqual(ids(recent.range('!r', 4, 100, 2, 'oldest-first')), [5, 7]);
    // Events of the room before 5 were never seen here: storage must answer.
    assert.equal(recent.range('!r', 3, 100, 10, 'newest-first'), undefined);
    assert.equal(recent.range('!unknown', 0, 100, 10, 'newest-first'), undefined);
  });

  it('raises the floor as it drops old events', () => {
    const recent = new RecentEvents(2, 10);
    recent.add([event('!r', 1), event('!r', 2), event('!r', 3)]);
    assert.equal(recent.range('!r', 0, 10, 10, 'newest-first'), undefined);
    assert.deepEqual(ids(recent.range('!r', 1, 10, 10, 'newest-first')), [3, 2]);
  });

  it('forgets the least recently written room beyond its room bound', () => {
    const recent = new RecentEvents(10, 2);
    recent.add([event('!a', 1), event('!b', 2), event('!a', 3), event('!c', 4)]);
    assert.equal(recent.range('!b', 1, 10, 10, 'newest-first'), undefined);
    assert.deepEqual(ids(recent.range('!a', 0, 10, 10, 'newest-first')), [3, 1]);
  });

  it('marks a held event redacted by a later redaction, without changing the earlier record', () => {
    const recent = new RecentEvents(10, 10);
    const original = event('!r', 1);
    recent.add([original]);
    recent.add([event('!r', 2, { type: 'm.room.redaction', content: { redacts: '$e1' } })]);
    const [held] = recent.range('!r', 0, 1, 10, 'oldest-first')!;
    assert.equal(held?.redactedBy, '$e2');
    assert.equal(original.redactedBy, undefined);
  });
});
