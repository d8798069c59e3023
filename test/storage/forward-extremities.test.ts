/**
 * The forward extremities the Admin API shows and prunes, on every backend:
 * newest first with their state groups and depths, and pruning keeps only the
 * newest by stream order (Synapse's choice), room by room.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestRoom } from '../support/stored-events.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

for (const backend of storageBackends()) {
  describe(`forward extremities (${backend.name})`, () => {
    it('lists every extremity and deletes all but the newest', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage, '!fork:localhost');
        const other = await TestRoom.create(storage, '!other:localhost');
        // The test PDUs name no prev_events, so each event stays an extremity: a fork.
        await room.send({ eventId: '$a' });
        await room.send({ eventId: '$b' });
        const newest = await room.send({ eventId: '$c' });
        await other.send({ eventId: '$elsewhere' });

        const listed = await storage.extremities.list(room.roomId);
        assert.deepEqual(
          listed.map((e) => e.eventId),
          ['$c', '$b', '$a', '$create-fork:localhost'],
        );
        const [first] = listed;
        assert.equal(first!.streamOrdering, newest.streamOrdering);
        assert.equal(first!.depth, newest.pdu.depth);
        assert.equal(typeof first!.stateGroup, 'number');

        assert.equal(await storage.extremities.deleteAllButNewest(room.roomId), 3);
        assert.deepEqual(
          (await storage.extremities.list(room.roomId)).map((e) => e.eventId),
          ['$c'],
        );
        assert.deepEqual(
          (await storage.rooms.forwardExtremities(room.roomId)).map((e) => e.eventId),
          ['$c'],
        );
        // Nothing left to prune; the other room keeps its own extremities.
        assert.equal(await storage.extremities.deleteAllButNewest(room.roomId), 0);
        assert.equal((await storage.extremities.list(other.roomId)).length, 2);
        assert.equal(await storage.extremities.deleteAllButNewest('!unknown:localhost'), 0);
        assert.deepEqual(await storage.extremities.list('!unknown:localhost'), []);
      }));
  });
}
