/**
 * The room store answers each /sync's membership reads from memory: a user's
 * membership events, rooms by membership and forgotten rooms. The cached
 * answers must follow every new member event and every forget, with the
 * writer thread and without.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stateMapKey } from '../../src/events/auth/auth-state.js';
import type { JsonObject, Pdu } from '../../src/events/pdu.js';
import { openSqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { minimalPdu } from '../support/pdus.js';

const ROOM = '!r:localhost';
const USER = '@u:localhost';

function pdu(type: string, stateKey: string, content: JsonObject, depth: number): Pdu {
  return minimalPdu({ type, stateKey, content, depth, roomId: ROOM, sender: USER });
}

for (const writerThread of [false, true]) {
  describe(`room store membership caches${writerThread ? ', writer thread' : ''}`, () => {
    let dir: string;
    let storage: Storage;

    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'weft-room-caches-'));
      storage = openSqliteStorage(path.join(dir, 'weft.db'), { writerThread });
      await storage.rooms.createRoom({ roomId: ROOM, version: '11', creator: USER }, 0);
      await storage.rooms.persistEvent({
        eventId: '$create',
        roomId: ROOM,
        pdu: pdu('m.room.create', '', {}, 1),
      });
    });
    after(async () => {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const member = (eventId: string, membership: string, depth: number) =>
      storage.rooms.persistEvent({
        eventId,
        roomId: ROOM,
        pdu: pdu('m.room.member', USER, { membership }, depth),
      });

    it('follows each new member event once the cache is filled', async () => {
      assert.deepEqual(await storage.rooms.roomsWithMembership(USER, 'join'), []);
      const joined = await member('$join', 'join', 2);
      assert.deepEqual(await storage.rooms.roomsWithMembership(USER, 'join'), [ROOM]);
      const left = await member('$leave', 'leave', 3);
      assert.deepEqual(await storage.rooms.roomsWithMembership(USER, 'join'), []);
      assert.deepEqual(await storage.rooms.roomsWithMembership(USER, 'leave'), [ROOM]);
      const events = await storage.rooms.membershipEventsOf(USER, left.streamOrdering);
      assert.deepEqual(
        events.map((e) => [e.eventId, e.membership]),
        [
          ['$join', 'join'],
          ['$leave', 'leave'],
        ],
      );
      // As of an earlier position: without the later event.
      const earlier = await storage.rooms.membershipEventsOf(USER, joined.streamOrdering);
      assert.deepEqual(
        earlier.map((e) => e.eventId),
        ['$join'],
      );
    });

    it('reads current state entries that follow each new state event', async () => {
      const pairs = [{ type: 'm.room.member', stateKey: USER }];
      const key = stateMapKey('m.room.member', USER);
      const before = await storage.rooms.currentStateIdsFor(ROOM, pairs);
      assert.equal(before.get(key), '$leave');
      await member('$rejoin', 'join', 4);
      const after = await storage.rooms.currentStateIdsFor(ROOM, pairs);
      assert.equal(after.get(key), '$rejoin');
      const absent = await storage.rooms.currentStateIdsFor(ROOM, [
        { type: 'm.room.name', stateKey: '' },
      ]);
      assert.equal(absent.size, 0);
    });

    it('lists a room as forgotten right after it is forgotten', async () => {
      assert.deepEqual(await storage.rooms.forgottenRooms(USER), []);
      await storage.rooms.forgetRoom(USER, ROOM);
      assert.deepEqual(await storage.rooms.forgottenRooms(USER), [ROOM]);
    });
  });
}
