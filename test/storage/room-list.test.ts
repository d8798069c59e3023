/**
 * RoomStore.listRooms, on every backend: every room (or one) with its record,
 * current state counts (joined members, local ones, all entries), whether it
 * is published, and the content of the listed state events.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject, Pdu } from '../../src/events/pdu.js';
import type { ListedRoom } from '../../src/domain/room-list.js';
import type { NewRoomEvent, Storage } from '../../src/storage/storage.js';
import { minimalPdu } from '../support/pdus.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const ALICE = '@alice:localhost';
const BOB = '@bob:localhost';
const REMOTE = '@carol:remote.example';
const SERVER = 'localhost';

let depth = 1;
let counter = 0;

/** Stores a state event on the room's newest one (each room's events form a line). */
const last = new Map<string, string>();
async function state(
  storage: Storage,
  roomId: string,
  type: string,
  stateKey: string,
  content: JsonObject,
): Promise<void> {
  const eventId = `$e${++counter}`;
  const pdu: Pdu = {
    ...minimalPdu({ type, depth: depth++, roomId, sender: ALICE, content, stateKey }),
    prev_events: last.has(roomId) ? [last.get(roomId)!] : [],
  };
  const event: NewRoomEvent = { eventId, roomId, pdu };
  await storage.rooms.persistEvent(event);
  last.set(roomId, eventId);
}

const byId = (rooms: ListedRoom[]) => new Map(rooms.map((room) => [room.roomId, room]));

for (const backend of storageBackends()) {
  describe(`room list on ${backend.name}`, () => {
    it('lists every room with its counts, publication and listed state', () =>
      withStorage(backend, async (storage, reopen) => {
        assert.deepEqual(await storage.rooms.listRooms({ serverName: SERVER }), []);
        await storage.rooms.createRoom(
          { roomId: '!a:localhost', version: '11', creator: ALICE },
          1,
        );
        await storage.rooms.createRoom({ roomId: '!b:localhost', version: '10', creator: BOB }, 2);
        // A room without any event yet: listed, with nothing counted.
        await storage.rooms.createRoom({ roomId: '!c:localhost', version: '12', creator: BOB }, 3);
        await state(storage, '!a:localhost', 'm.room.create', '', { 'm.federate': false });
        await state(storage, '!a:localhost', 'm.room.member', ALICE, { membership: 'join' });
        await state(storage, '!a:localhost', 'm.room.member', BOB, { membership: 'join' });
        await state(storage, '!a:localhost', 'm.room.member', REMOTE, { membership: 'join' });
        await state(storage, '!a:localhost', 'm.room.name', '', { name: 'First' });
        await state(storage, '!a:localhost', 'm.room.name', '', { name: 'Renamed' });
        await state(storage, '!a:localhost', 'm.room.member', BOB, { membership: 'leave' });
        // Not a listed type, and listed types with a state key: counted, not read.
        await state(storage, '!a:localhost', 'org.example.custom', '', { x: 1 });
        await state(storage, '!a:localhost', 'm.room.name', 'odd', { name: 'Not this one' });
        await state(storage, '!b:localhost', 'm.room.create', '', {});
        await state(storage, '!b:localhost', 'm.room.member', BOB, { membership: 'invite' });
        await state(storage, '!b:localhost', 'm.room.encryption', '', {
          algorithm: 'm.megolm.v1.aes-sha2',
        });
        await storage.directory.setPublished('!b:localhost', true, 5);

        // As written, then after reopening.
        for (const open of [async () => storage, reopen]) {
          const store = await open();
          const rooms = byId(await store.rooms.listRooms({ serverName: SERVER }));
          assert.equal(rooms.size, 3);
          assert.deepEqual(rooms.get('!a:localhost'), {
            roomId: '!a:localhost',
            version: '11',
            creator: ALICE,
            // create, three members, name, custom, the odd name.
            stateEvents: 7,
            joinedMembers: 2,
            joinedLocalMembers: 1,
            published: false,
            state: { 'm.room.create': { 'm.federate': false }, 'm.room.name': { name: 'Renamed' } },
          });
          assert.deepEqual(rooms.get('!b:localhost'), {
            roomId: '!b:localhost',
            version: '10',
            creator: BOB,
            stateEvents: 3,
            joinedMembers: 0,
            joinedLocalMembers: 0,
            published: true,
            state: {
              'm.room.create': {},
              'm.room.encryption': { algorithm: 'm.megolm.v1.aes-sha2' },
            },
          });
          assert.deepEqual(rooms.get('!c:localhost'), {
            roomId: '!c:localhost',
            version: '12',
            creator: BOB,
            stateEvents: 0,
            joinedMembers: 0,
            joinedLocalMembers: 0,
            published: false,
            state: {},
          });
        }
      }));

    it('lists only the room asked for, or none when it is unknown', () =>
      withStorage(backend, async (storage) => {
        await storage.rooms.createRoom(
          { roomId: '!x:localhost', version: '11', creator: ALICE },
          1,
        );
        await storage.rooms.createRoom(
          { roomId: '!y:localhost', version: '11', creator: ALICE },
          1,
        );
        await state(storage, '!x:localhost', 'm.room.create', '', {});
        await state(storage, '!y:localhost', 'm.room.create', '', {});
        await state(storage, '!y:localhost', 'm.room.member', ALICE, { membership: 'join' });
        const one = await storage.rooms.listRooms({ roomId: '!y:localhost', serverName: SERVER });
        assert.equal(one.length, 1);
        assert.equal(one[0]!.roomId, '!y:localhost');
        assert.equal(one[0]!.stateEvents, 2);
        assert.equal(one[0]!.joinedLocalMembers, 1);
        assert.deepEqual(
          await storage.rooms.listRooms({ roomId: '!z:localhost', serverName: SERVER }),
          [],
        );
      }));
  });
}
