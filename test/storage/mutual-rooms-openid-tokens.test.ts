/**
 * Contract tests of the mutual room and OpenID token stores on every backend: the rooms two users
 * are both joined to (current memberships only, sorted), and OpenID tokens
 * (found while valid, never after expiry, expired rows pruned, kept on reopen).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pdu } from '../../src/events/pdu.js';
import type { NewRoomEvent, Storage } from '../../src/storage/storage.js';
import { minimalPdu } from '../support/pdus.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const ALICE = '@alice:localhost';
const BOB = '@bob:localhost';
const CAROL = '@carol:localhost';

let depth = 1;

function event(roomId: string, eventId: string, type: string, stateKey: string, content = {}) {
  const pdu: Pdu = {
    ...minimalPdu({ type, depth: depth++, roomId, sender: ALICE, content, stateKey }),
    prev_events: [],
  };
  return { eventId, roomId, pdu } satisfies NewRoomEvent;
}

async function room(storage: Storage, roomId: string): Promise<void> {
  await storage.rooms.createRoom({ roomId, version: '11', creator: ALICE }, 1_000);
  await storage.rooms.persistEvent(event(roomId, `$create${roomId}`, 'm.room.create', ''));
}

let memberships = 0;
const member = (storage: Storage, roomId: string, userId: string, membership: string) =>
  storage.rooms.persistEvent(
    event(roomId, `$m${++memberships}`, 'm.room.member', userId, { membership }),
  );

for (const backend of storageBackends()) {
  describe(`mutual rooms and OpenID tokens on ${backend.name}`, () => {
    it('lists the rooms two users are both joined to now, sorted by room ID', () =>
      withStorage(backend, async (storage) => {
        // Names whose order differs between a byte order and a language collation.
        const rooms = ['!b:localhost', '!A:localhost', '!a:localhost', '!c:localhost'];
        for (const roomId of rooms) await room(storage, roomId);
        for (const roomId of rooms) await member(storage, roomId, ALICE, 'join');
        await member(storage, '!b:localhost', BOB, 'join');
        await member(storage, '!a:localhost', BOB, 'join');
        await member(storage, '!A:localhost', BOB, 'join');
        await member(storage, '!c:localhost', BOB, 'invite');
        await member(storage, '!a:localhost', CAROL, 'join');
        const mutual = storage.mutualRooms;
        assert.deepEqual(await mutual.mutualRooms(ALICE, BOB), [
          '!A:localhost',
          '!a:localhost',
          '!b:localhost',
        ]);
        assert.deepEqual(
          await mutual.mutualRooms(BOB, ALICE),
          await mutual.mutualRooms(ALICE, BOB),
        );
        await member(storage, '!b:localhost', BOB, 'leave');
        await member(storage, '!c:localhost', BOB, 'join');
        assert.deepEqual(await mutual.mutualRooms(ALICE, BOB), [
          '!A:localhost',
          '!a:localhost',
          '!c:localhost',
        ]);
        assert.deepEqual(await mutual.mutualRooms(BOB, CAROL), ['!a:localhost']);
        assert.deepEqual(await mutual.mutualRooms(BOB, '@nobody:localhost'), []);
      }));

    it('finds OpenID tokens until they expire, prunes expired ones, keeps them on reopen', () =>
      withStorage(backend, async (storage, reopen) => {
        const tokens = storage.openIdTokens;
        await tokens.create({ tokenHash: 'h1', userId: ALICE, expiresTs: 10_000 });
        await tokens.create({ tokenHash: 'h2', userId: BOB, expiresTs: 20_000 });
        await assert.rejects(tokens.create({ tokenHash: 'h1', userId: BOB, expiresTs: 5 }));
        assert.deepEqual(await tokens.find('h1', 9_999), {
          tokenHash: 'h1',
          userId: ALICE,
          expiresTs: 10_000,
        });
        assert.equal(await tokens.find('h1', 10_000), undefined, 'expired at expiresTs');
        assert.equal(await tokens.find('nope', 0), undefined);
        const reopened = await reopen();
        assert.equal((await reopened.openIdTokens.find('h2', 15_000))?.userId, BOB);
        assert.equal(await reopened.openIdTokens.pruneExpired(10_000), 1);
        assert.equal(await reopened.openIdTokens.pruneExpired(10_000), 0);
        assert.equal((await reopened.openIdTokens.find('h2', 15_000))?.userId, BOB);
        assert.equal(await reopened.openIdTokens.pruneExpired(30_000), 1);
        assert.equal(await reopened.openIdTokens.find('h2', 15_000), undefined);
      }));
  });
}
