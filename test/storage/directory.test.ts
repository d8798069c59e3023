/**
 * The directory store's contract, on every backend: local aliases (unique,
 * moved together on an upgrade) and the published room directory, scanned
 * in its stable order from the tokens it issues.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Storage } from '../../src/storage/storage.js';
import { minimalPdu } from '../support/pdus.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const ROOM = '!r:localhost';
const NEW_ROOM = '!new:localhost';
const ALICE = '@alice:localhost';
const BOB = '@bob:localhost';

const roomIdsOf = (scan: { rooms: { roomId: string }[] } | undefined) =>
  scan?.rooms.map((room) => room.roomId);

/** Publishes the rooms at the given times. */
async function publish(storage: Storage, rooms: [string, number][]): Promise<void> {
  for (const [roomId, ts] of rooms) await storage.directory.setPublished(roomId, true, ts);
}

for (const backend of storageBackends()) {
  describe(`directory on ${backend.name}`, () => {
    it('maps an alias to one room: created once, read, deleted', () =>
      withStorage(backend, async (storage, reopen) => {
        const alias = { alias: '#lobby:localhost', roomId: ROOM, creator: ALICE };
        assert.equal(await storage.directory.createAlias(alias, 10), true);
        assert.equal(
          await storage.directory.createAlias({ ...alias, roomId: NEW_ROOM, creator: BOB }, 11),
          false,
          'taken',
        );
        assert.deepEqual(await storage.directory.getAlias('#lobby:localhost'), alias);
        assert.equal(await storage.directory.getAlias('#nope:localhost'), undefined);

        const reopened = await reopen();
        assert.deepEqual(await reopened.directory.getAlias('#lobby:localhost'), alias);
        assert.equal(await reopened.directory.deleteAlias('#lobby:localhost'), true);
        assert.equal(await reopened.directory.deleteAlias('#lobby:localhost'), false);
        assert.equal(await reopened.directory.getAlias('#lobby:localhost'), undefined);
        assert.equal(await reopened.directory.createAlias({ ...alias, creator: BOB }, 12), true);
        assert.equal((await reopened.directory.getAlias('#lobby:localhost'))!.creator, BOB);
      }));

    it('gives a contested alias to exactly one of concurrent creations', () =>
      withStorage(backend, async (storage) => {
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            storage.directory.createAlias(
              { alias: '#hot:localhost', roomId: `!room${i}:localhost`, creator: ALICE },
              100 + i,
            ),
          ),
        );
        assert.equal(results.filter(Boolean).length, 1);
        const winner = results.indexOf(true);
        assert.equal(
          (await storage.directory.getAlias('#hot:localhost'))!.roomId,
          `!room${winner}:localhost`,
        );
      }));

    it('lists a room’s aliases by creation, and moves them all to another room', () =>
      withStorage(backend, async (storage, reopen) => {
        const make = (alias: string, roomId: string, ts: number, creator = ALICE) =>
          storage.directory.createAlias({ alias, roomId, creator }, ts);
        await make('#b:localhost', ROOM, 20);
        await make('#a:localhost', ROOM, 20);
        await make('#Z:localhost', ROOM, 20, BOB);
        await make('#first:localhost', ROOM, 5);
        await make('#elsewhere:localhost', '!x:localhost', 1);
        // By creation time, then by alias as bytes compare (upper case first).
        const ordered = ['#first:localhost', '#Z:localhost', '#a:localhost', '#b:localhost'];
        assert.deepEqual(await storage.directory.aliasesOfRoom(ROOM), ordered);
        assert.deepEqual(await storage.directory.aliasesOfRoom(NEW_ROOM), []);

        const moved = await storage.directory.moveAliases(ROOM, NEW_ROOM);
        assert.deepEqual([...moved].sort(), [...ordered].sort());
        assert.deepEqual(await storage.directory.aliasesOfRoom(ROOM), []);
        const reopened = await reopen();
        assert.deepEqual(await reopened.directory.aliasesOfRoom(NEW_ROOM), ordered);
        // The creator stays: still who may delete it.
        assert.deepEqual(await reopened.directory.getAlias('#Z:localhost'), {
          alias: '#Z:localhost',
          roomId: NEW_ROOM,
          creator: BOB,
        });
        assert.deepEqual(await reopened.directory.moveAliases(ROOM, NEW_ROOM), []);
        assert.equal(
          (await reopened.directory.getAlias('#elsewhere:localhost'))!.roomId,
          '!x:localhost',
        );
      }));

    it('publishes and unpublishes; publishing again keeps the room’s place', () =>
      withStorage(backend, async (storage, reopen) => {
        await publish(storage, [
          ['!a:localhost', 10],
          ['!b:localhost', 20],
          ['!c:localhost', 30],
        ]);
        assert.equal(await storage.directory.isPublished('!a:localhost'), true);
        assert.equal(await storage.directory.isPublished('!nope:localhost'), false);
        // Published again later, even concurrently: still first.
        await Promise.all([
          storage.directory.setPublished('!a:localhost', true, 40),
          storage.directory.setPublished('!a:localhost', true, 50),
        ]);
        const all = await storage.directory.scanPublished({ limit: 10 });
        assert.deepEqual(roomIdsOf(all), ['!a:localhost', '!b:localhost', '!c:localhost']);
        assert.equal(await storage.directory.countPublished(), 3);

        await storage.directory.setPublished('!a:localhost', false, 60);
        await storage.directory.setPublished('!nope:localhost', false, 60);
        assert.equal(await storage.directory.isPublished('!a:localhost'), false);
        assert.equal(await storage.directory.countPublished(), 2);
        // Unpublished, then published again: a new place, at the end.
        await storage.directory.setPublished('!a:localhost', true, 70);
        const reopened = await reopen();
        assert.deepEqual(roomIdsOf(await reopened.directory.scanPublished({ limit: 10 })), [
          '!b:localhost',
          '!c:localhost',
          '!a:localhost',
        ]);
        assert.equal(await reopened.directory.countPublished(), 3);
      }));

    it('scans the directory both ways from the tokens it issues', () =>
      withStorage(backend, async (storage, reopen) => {
        assert.deepEqual(await storage.directory.scanPublished({ limit: 5 }), {
          direction: 'forward',
          rooms: [],
        });
        // Equal times are ordered by room ID as bytes compare.
        await publish(storage, [
          ['!d:localhost', 20],
          ['!b:localhost', 10],
          ['!C:localhost', 10],
          ['!a:localhost', 30],
          ['!e:localhost', 20],
        ]);
        const order = [
          '!C:localhost',
          '!b:localhost',
          '!d:localhost',
          '!e:localhost',
          '!a:localhost',
        ];
        const first = (await storage.directory.scanPublished({ limit: 2 }))!;
        assert.equal(first.direction, 'forward');
        assert.deepEqual(roomIdsOf(first), order.slice(0, 2));

        const reopened = await reopen();
        const next = await reopened.directory.scanPublished({
          since: first.rooms[1]!.laterToken,
          limit: 10,
        });
        assert.equal(next!.direction, 'forward');
        assert.deepEqual(roomIdsOf(next), order.slice(2));
        // Backward from the last room: nearest first.
        const back = await reopened.directory.scanPublished({
          since: next!.rooms.at(-1)!.earlierToken,
          limit: 3,
        });
        assert.equal(back!.direction, 'backward');
        assert.deepEqual(roomIdsOf(back), ['!e:localhost', '!d:localhost', '!b:localhost']);
        const none = await reopened.directory.scanPublished({
          since: first.rooms[0]!.earlierToken,
          limit: 3,
        });
        assert.deepEqual(roomIdsOf(none), []);

        // A token goes on from its place even when its room was unpublished meanwhile.
        await reopened.directory.setPublished('!d:localhost', false, 99);
        const after = await reopened.directory.scanPublished({
          since: next!.rooms[0]!.laterToken,
          limit: 10,
        });
        assert.deepEqual(roomIdsOf(after), ['!e:localhost', '!a:localhost']);

        for (const bad of ['nope', 'WyJ4IiwxLCJhIl0', '']) {
          assert.equal(await reopened.directory.scanPublished({ since: bad, limit: 1 }), undefined);
        }
      }));

    it('counts the joined members of a room from its current state', () =>
      withStorage(backend, async (storage) => {
        assert.equal(await storage.directory.joinedMemberCount(ROOM), 0);
        await storage.rooms.createRoom({ roomId: ROOM, version: '11', creator: ALICE }, 1);
        const state = (
          type: string,
          stateKey: string,
          membership: string | undefined,
          depth: number,
        ) => ({
          eventId: `$${depth}`,
          roomId: ROOM,
          pdu: minimalPdu({
            type,
            stateKey,
            depth,
            roomId: ROOM,
            content: membership === undefined ? {} : { membership },
          }),
        });
        await storage.rooms.persistEvents([
          state('m.room.create', '', undefined, 1),
          state('m.room.member', ALICE, 'join', 2),
          state('m.room.member', BOB, 'join', 3),
          state('m.room.member', '@carol:localhost', 'invite', 4),
          state('m.room.member', BOB, 'leave', 5),
        ]);
        assert.equal(await storage.directory.joinedMemberCount(ROOM), 1);
      }));
  });
}
