/**
 * RoomStore.eventNearTimestamp, on every backend: the first event at or after
 * a time, the last at or before it, ties by stream order, other rooms apart.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestRoom } from '../support/stored-events.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

for (const backend of storageBackends()) {
  describe(`event by timestamp (${backend.name})`, () => {
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
  });
}
