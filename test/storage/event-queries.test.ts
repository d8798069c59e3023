/**
 * RoomStore's event queries for timestamp_to_event and the Admin API, on
 * every backend: the first event at or after a time, the last at or before it
 * (ties by stream order, other rooms apart); invites sent and rooms joined
 * since a time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestRoom } from '../support/stored-events.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

for (const backend of storageBackends()) {
  describe(`event queries (${backend.name})`, () => {
    it('finds the nearest event in either direction', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage, '!ts:localhost');
        const other = await TestRoom.create(storage, '!other:localhost');
        // The create events have origin_server_ts 0.
        await room.send({ eventId: '$a', originServerTs: 1_000 });
        await room.send({ eventId: '$b1', originServerTs: 2_000 });
        await room.send({ eventId: '$b2', originServerTs: 2_000 });
        // Timestamps need not follow stream order (a clock step, or federation later).
        await room.send({ eventId: '$late', originServerTs: 1_500 });
        await other.send({ eventId: '$elsewhere', originServerTs: 1_200 });
        const near = async (ts: number, direction: 'f' | 'b') =>
          (await storage.rooms.eventNearTimestamp(room.roomId, ts, direction))?.eventId;

        assert.deepEqual(await storage.rooms.eventNearTimestamp(room.roomId, 1_100, 'f'), {
          eventId: '$late',
          originServerTs: 1_500,
        });
        assert.equal(await near(1_000, 'f'), '$a');
        assert.equal(await near(1_001, 'b'), '$a');
        assert.equal(await near(1_600, 'b'), '$late');
        // Ties: forwards the first in stream order, backwards the last.
        assert.equal(await near(2_000, 'f'), '$b1');
        assert.equal(await near(2_000, 'b'), '$b2');
        assert.equal(await near(5_000, 'b'), '$b2');
        assert.equal(await near(2_001, 'f'), undefined);
        assert.equal(await near(-1, 'b'), undefined);
        assert.equal(await near(-1, 'f'), '$create-ts:localhost');
        assert.equal(
          await storage.rooms.eventNearTimestamp('!unknown:localhost', 1_000, 'b'),
          undefined,
        );
      }));

    // PostgreSQL's JSON parsing refuses \u0000: such an event may be left out of timestamp
    // lookups there, but its insert and the other events' lookups never fail.
    it('stores and reads around events whose JSON holds \\u0000', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage, '!nul:localhost');
        await room.send({ eventId: '$before', originServerTs: 40 });
        await room.send({
          eventId: '$nul',
          content: { body: 'a\u0000b', url: 'mxc://localhost/pic' },
          originServerTs: 50,
        });
        await room.send({
          eventId: '$avatar',
          type: 'm.room.avatar',
          stateKey: '',
          content: { url: 'mxc://localhost/av', note: '\u0000' },
          originServerTs: 60,
        });
        const found = await storage.rooms.eventNearTimestamp(room.roomId, 45, 'b');
        assert.equal(found?.eventId, '$before');
        const atNul = await storage.rooms.eventNearTimestamp(room.roomId, 55, 'b');
        assert.ok(atNul?.eventId === '$nul' || atNul?.eventId === '$before');
        assert.deepEqual(await storage.mediaAdmin.urlsInRoom(room.roomId), [
          'mxc://localhost/pic',
          'mxc://localhost/av',
        ]);
        assert.ok((await storage.mediaAdmin.avatarUrls()).includes('mxc://localhost/av'));
      }));

    it('counts invites sent and rooms joined since a time', () =>
      withStorage(backend, async (storage) => {
        const first = await TestRoom.create(storage, '!one:localhost');
        const second = await TestRoom.create(storage, '!two:localhost');
        const bob = '@bob:localhost';
        const member = (
          room: TestRoom,
          id: string,
          membership: string,
          ts: number,
          sender?: string,
        ) =>
          room.send({
            eventId: id,
            type: 'm.room.member',
            stateKey: bob,
            content: { membership },
            originServerTs: ts,
            ...(sender === undefined ? {} : { sender }),
          });
        await member(first, '$i1', 'invite', 100);
        await member(first, '$j1', 'join', 110, bob);
        await member(first, '$l1', 'leave', 120, bob);
        await member(second, '$i2', 'invite', 200);
        await member(second, '$j2', 'join', 210, bob);
        await member(first, '$i3', 'invite', 300);
        await member(first, '$j3', 'join', 310, bob);
        // A message is not an invite, whatever its content says.
        await first.send({ eventId: '$m', content: { membership: 'invite' }, originServerTs: 400 });
        const alice = first.creator;
        assert.equal(await storage.rooms.invitesSentSince(alice, 0), 3);
        assert.equal(await storage.rooms.invitesSentSince(alice, 200), 2);
        assert.equal(await storage.rooms.invitesSentSince(alice, 301), 0);
        assert.equal(await storage.rooms.invitesSentSince(bob, 0), 0);
        // Rooms, not joins: the first room twice is one.
        assert.equal(await storage.rooms.roomsJoinedSince(bob, 0), 2);
        assert.equal(await storage.rooms.roomsJoinedSince(bob, 211), 1);
        assert.equal(await storage.rooms.roomsJoinedSince(bob, 311), 0);
      }));
  });
}
