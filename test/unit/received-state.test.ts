/**
 * The rules of received events' state (storage/common/received-state.ts:
 * groups from the state before, current state changes, memberships made
 * current by resolution) and the persist queue's part: events held off the
 * stream reach no listener, and `idle` waits for a room's commits.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { stateMapKey as key } from '../../src/events/auth/auth-state.js';
import { PersistQueue } from '../../src/rooms/persist-queue.js';
import {
  MAX_DELTA_ENTRIES,
  currentChanges,
  membershipChanges,
  planStateGroup,
} from '../../src/storage/common/received-state.js';
import { SNAPSHOT_INTERVAL } from '../../src/storage/common/room-rows.js';
import { openSqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import type { EventRecord, NewRoomEvent } from '../../src/storage/storage.js';
import { minimalPdu } from '../support/pdus.js';

const state = (entries: Record<string, string>) =>
  new Map(Object.entries(entries).map(([k, v]) => [key(k, ''), v]));

describe('received state rules', () => {
  it('reuses an equal group, makes the smallest delta, or a snapshot', () => {
    const a = state({ 'm.room.create': '$c', 'm.room.name': '$n' });
    const b = state({ 'm.room.create': '$c' });
    assert.deepEqual(planStateGroup(a, [{ group: 1, chainLength: 3, state: new Map(a) }]), {
      kind: 'reuse',
      group: 1,
    });
    const target = new Map(a).set(key('m.room.topic', ''), '$t');
    // Over `a` one entry, over `b` two: `a` wins.
    assert.deepEqual(
      planStateGroup(target, [
        { group: 2, chainLength: 0, state: b },
        { group: 1, chainLength: 3, state: a },
      ]),
      {
        kind: 'delta',
        prevGroup: 1,
        chainLength: 4,
        entries: [{ type: 'm.room.topic', stateKey: '', eventId: '$t' }],
      },
    );
    // A base with an entry the target lacks cannot be used (groups hold no removals).
    assert.equal(planStateGroup(b, [{ group: 1, chainLength: 0, state: a }]).kind, 'snapshot');
    // A long chain, or a large delta: a snapshot.
    assert.equal(
      planStateGroup(target, [{ group: 1, chainLength: SNAPSHOT_INTERVAL - 1, state: a }]).kind,
      'snapshot',
    );
    const big = new Map(a);
    for (let i = 0; i <= MAX_DELTA_ENTRIES; i++) big.set(key('x', String(i)), `$x${i}`);
    assert.equal(planStateGroup(big, [{ group: 1, chainLength: 0, state: a }]).kind, 'snapshot');
    assert.deepEqual(planStateGroup(b, []), {
      kind: 'snapshot',
      entries: [{ type: 'm.room.create', stateKey: '', eventId: '$c' }],
    });
  });

  it('lists changed, added and removed entries of the current state', () => {
    const before = state({ a: '$a1', b: '$b1', c: '$c1' });
    const after = state({ a: '$a1', b: '$b2', d: '$d1' });
    assert.deepEqual(currentChanges(before, after), [
      { type: 'b', stateKey: '', eventId: '$b2' },
      { type: 'd', stateKey: '', eventId: '$d1' },
      { type: 'c', stateKey: '', eventId: null },
    ]);
  });

  it('records the current-state membership wherever the arriving event does not give it', () => {
    const event = (eventId: string, membership?: string, stateKey = '@c:x'): NewRoomEvent => ({
      eventId,
      roomId: '!r:x',
      pdu: minimalPdu(
        membership === undefined
          ? { type: 'm.room.message', depth: 1 }
          : { type: 'm.room.member', depth: 1, stateKey, content: { membership } },
      ),
    });
    const memberships: Record<string, string> = { $join: 'join', $invite: 'invite' };
    const of = (id: string) => memberships[id] ?? null;
    // A leave that lost: the join stays current, noted after the leave.
    assert.deepEqual(
      membershipChanges(event('$leave', 'leave'), [], () => '$join', of),
      [{ userId: '@c:x', roomId: '!r:x', eventId: '$join', membership: 'join' }],
    );
    // A leave that won: nothing to add (the event itself says it).
    assert.deepEqual(
      membershipChanges(event('$leave', 'leave'), [], () => '$leave', of),
      [],
    );
    // A message making an older invite current, and removing another member's entry.
    const changes = [
      { type: 'm.room.member', stateKey: '@c:x', eventId: '$invite' },
      { type: 'm.room.member', stateKey: '@d:x', eventId: null },
      { type: 'm.room.name', stateKey: '', eventId: '$name' },
    ];
    assert.deepEqual(
      membershipChanges(event('$msg'), changes, () => null, of),
      [
        { userId: '@c:x', roomId: '!r:x', eventId: '$invite', membership: 'invite' },
        { userId: '@d:x', roomId: '!r:x', eventId: '$msg', membership: 'leave' },
      ],
    );
  });
});

describe('persist queue and events off the stream', () => {
  it('tells listeners of stream events only, and idle waits for the room', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weft-received-'));
    const storage = openSqliteStorage(path.join(dir, 'weft.db'), { writerThread: true });
    try {
      const roomId = '!r:localhost';
      await storage.rooms.createRoom({ roomId, version: '11', creator: '@a:localhost' }, 0);
      const told: EventRecord[][] = [];
      const queue = new PersistQueue(
        storage,
        () => {},
        (records) => told.push(records),
      );
      const create = minimalPdu({ type: 'm.room.create', depth: 1, stateKey: '' });
      const message = minimalPdu({ type: 'm.room.message', depth: 2 });
      const outlier = minimalPdu({ type: 'm.room.message', depth: 3 });
      const stateBefore = new Map([[key('m.room.create', ''), '$create']]);
      let idle = false;
      const stored = [
        queue.enqueue({ eventId: '$create', roomId, pdu: create }),
        queue.enqueue({ eventId: '$msg', roomId, pdu: message }),
        queue.enqueue({ eventId: '$out', roomId, pdu: outlier, outlier: true }),
        queue.enqueue({ eventId: '$soft', roomId, pdu: message, stateBefore, softFailed: true }),
      ];
      const waited = queue.idle(roomId).then(() => (idle = true));
      assert.equal(idle, false);
      const records = await Promise.all(stored);
      await waited;
      assert.deepEqual(
        records.map((r) => r.streamOrdering > 0),
        [true, true, false, false],
      );
      assert.deepEqual(
        told.flat().map((r) => r.eventId),
        ['$create', '$msg'],
      );
      await queue.idle('!other:localhost');
    } finally {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
