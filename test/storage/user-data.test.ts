/**
 * The contract of the user data stores (account data, receipts, presence, the
 * user directory) on every backend: results, order, ranges, what survives a
 * reopen, and racing writes (distinct positions, each change read once, the
 * newest write kept).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../src/events/pdu.js';
import type { NewReceipt, Storage } from '../../src/storage/storage.js';
import { minimalPdu } from '../support/pdus.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const ALICE = '@alice:localhost';
const BOB = '@bob:localhost';
const CAROL = '@carol:localhost';
const ROOM = '!room:localhost';
const OTHER_ROOM = '!other:localhost';

/** A room whose state events are persisted one after another (no auth is checked). */
async function createRoom(storage: Storage, roomId: string, creator: string) {
  let depth = 0;
  const sendState = async (type: string, stateKey: string, content: JsonObject) => {
    depth += 1;
    return storage.rooms.persistEvent({
      eventId: `$${roomId.slice(1, roomId.indexOf(':'))}-${depth}`,
      roomId,
      pdu: minimalPdu({ type, stateKey, content, depth, roomId, sender: creator }),
    });
  };
  await storage.rooms.createRoom({ roomId, version: '11', creator }, 0);
  await sendState('m.room.create', '', {});
  return {
    sendState,
    setMembership: (userId: string, membership: string) =>
      sendState('m.room.member', userId, { membership }),
  };
}

async function createUser(storage: Storage, userId: string, displayName?: string) {
  const created = await storage.users.createUser({
    userId,
    passwordHash: null,
    isGuest: false,
    isAdmin: false,
    now: 0,
  });
  assert.equal(created, true);
  if (displayName !== undefined) await storage.profiles.setProfile(userId, { displayName });
}

const receipt = (fields: Partial<NewReceipt> = {}): NewReceipt => ({
  roomId: ROOM,
  receiptType: 'm.read',
  userId: ALICE,
  eventId: '$e1',
  eventPosition: 1,
  ts: 1000,
  ...fields,
});

/** Numbers in random order, so racing writes are not issued in position order. */
function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

function assertDistinctPositions(positions: number[]): void {
  assert.equal(new Set(positions).size, positions.length, 'positions are distinct');
  assert.ok(Math.min(...positions) > 0, 'positions start after 0');
}

for (const backend of storageBackends()) {
  describe(`user data on ${backend.name}`, () => {
    describe('account data', () => {
      it('stores global and room data, replaces it, and reads changes by range', () =>
        withStorage(backend, async (storage, reopen) => {
          assert.equal(await storage.accountData.maxStreamId(), 0);
          assert.equal(await storage.accountData.get(ALICE, undefined, 'm.push'), undefined);

          const first = await storage.accountData.put(ALICE, undefined, 'm.push', { a: 1 });
          const room = await storage.accountData.put(ALICE, ROOM, 'm.tag', { tags: {} });
          const bobs = await storage.accountData.put(BOB, undefined, 'm.push', { b: 1 });
          assert.ok(first < room && room < bobs);
          assert.equal(await storage.accountData.maxStreamId(), bobs);

          assert.deepEqual(await storage.accountData.get(ALICE, undefined, 'm.push'), {
            userId: ALICE,
            type: 'm.push',
            content: { a: 1 },
            streamId: first,
          });
          assert.deepEqual(await storage.accountData.get(ALICE, ROOM, 'm.tag'), {
            userId: ALICE,
            roomId: ROOM,
            type: 'm.tag',
            content: { tags: {} },
            streamId: room,
          });
          // Global and room data of the same type are separate entries.
          assert.equal(await storage.accountData.get(ALICE, ROOM, 'm.push'), undefined);

          const replaced = await storage.accountData.put(ALICE, undefined, 'm.push', { a: 2 });
          assert.ok(replaced > bobs);
          assert.deepEqual(
            (await storage.accountData.changes(ALICE, 0, replaced)).map((r) => [r.type, r.content]),
            [
              ['m.tag', { tags: {} }],
              ['m.push', { a: 2 }],
            ],
            'one entry per key, at its latest position, in stream order; not other users',
          );
          assert.deepEqual(
            (await storage.accountData.changes(ALICE, room, replaced)).map((r) => r.streamId),
            [replaced],
            'the lower bound is exclusive',
          );
          assert.deepEqual(
            (await storage.accountData.changes(ALICE, 0, room)).map((r) => r.streamId),
            [room],
            'the upper bound is inclusive',
          );
          assert.deepEqual(await storage.accountData.changes(CAROL, 0, replaced), []);

          storage = await reopen();
          assert.equal(await storage.accountData.maxStreamId(), replaced);
          assert.deepEqual((await storage.accountData.get(ALICE, undefined, 'm.push'))?.content, {
            a: 2,
          });
          const afterReopen = await storage.accountData.put(ALICE, ROOM, 'm.tag', {
            tags: { x: {} },
          });
          assert.ok(afterReopen > replaced, 'positions continue after a reopen');
        }));

      it('reads whole account data: the global first, then the rooms as asked', () =>
        withStorage(backend, async (storage) => {
          await storage.accountData.put(ALICE, OTHER_ROOM, 'm.tag', { o: 1 });
          await storage.accountData.put(ALICE, ROOM, 'b', { r: 1 });
          await storage.accountData.put(ALICE, undefined, 'g', { g: 1 });
          await storage.accountData.put(ALICE, ROOM, 'a', { r: 2 });
          await storage.accountData.put(BOB, ROOM, 'a', { bob: 1 });

          const entries = async (roomIds: string[], global: boolean) =>
            (await storage.accountData.whole(ALICE, roomIds, global)).map((r) => [
              r.roomId ?? 'global',
              r.type,
            ]);
          assert.deepEqual(await entries([ROOM, OTHER_ROOM], true), [
            ['global', 'g'],
            [ROOM, 'b'],
            [ROOM, 'a'],
            [OTHER_ROOM, 'm.tag'],
          ]);
          assert.deepEqual(await entries([OTHER_ROOM, ROOM], false), [
            [OTHER_ROOM, 'm.tag'],
            [ROOM, 'b'],
            [ROOM, 'a'],
          ]);
          assert.deepEqual(await entries([], true), [['global', 'g']]);
          assert.deepEqual(await entries([], false), []);
          assert.deepEqual(await entries(['!unknown:localhost'], false), []);
        }));

      it('gives racing puts distinct positions, each change read once, the newest kept', () =>
        withStorage(backend, async (storage) => {
          const types = Array.from({ length: 12 }, (_, i) => `t${i}`);
          const distinct = await Promise.all(
            types.map((type) => storage.accountData.put(ALICE, undefined, type, { type })),
          );
          const sameKey = await Promise.all(
            shuffled(Array.from({ length: 12 }, (_, i) => i)).map(async (n) => ({
              n,
              position: await storage.accountData.put(ALICE, ROOM, 'race', { n }),
            })),
          );
          const positions = [...distinct, ...sameKey.map((put) => put.position)];
          assertDistinctPositions(positions);
          const max = await storage.accountData.maxStreamId();
          assert.equal(max, Math.max(...positions));

          const changes = await storage.accountData.changes(ALICE, 0, max);
          assert.deepEqual(
            changes.map((r) => r.type).sort(),
            [...types, 'race'].sort(),
            'each key once',
          );
          const newest = sameKey.reduce((a, b) => (a.position > b.position ? a : b));
          const stored = await storage.accountData.get(ALICE, ROOM, 'race');
          assert.deepEqual(
            stored?.content,
            { n: newest.n },
            'the put with the highest position wins',
          );
          assert.equal(stored?.streamId, newest.position);
        }));
    });

    describe('receipts', () => {
      it('keeps the latest receipt per room, type, user and thread; ignores earlier events', () =>
        withStorage(backend, async (storage, reopen) => {
          assert.equal(await storage.receipts.maxStreamId(), 0);
          const first = await storage.receipts.put(receipt({ eventId: '$e5', eventPosition: 5 }));
          assert.ok(first !== undefined && first > 0);

          assert.equal(
            await storage.receipts.put(receipt({ eventId: '$e3', eventPosition: 3, ts: 2 })),
            undefined,
            'an earlier event is ignored',
          );
          assert.equal(
            await storage.receipts.put(receipt({ eventId: '$e5', eventPosition: 5, ts: 3 })),
            undefined,
            'the same event again is ignored',
          );
          const threaded = await storage.receipts.put(
            receipt({ threadId: '$root', eventId: '$e2', eventPosition: 2, ts: 4 }),
          );
          const privately = await storage.receipts.put(
            receipt({ receiptType: 'm.read.private', eventId: '$e1', eventPosition: 1, ts: 5 }),
          );
          const later = await storage.receipts.put(
            receipt({ eventId: '$e9', eventPosition: 9, ts: 6 }),
          );
          const otherRoom = await storage.receipts.put(
            receipt({ roomId: OTHER_ROOM, userId: BOB, eventId: '$o1', eventPosition: 4, ts: 7 }),
          );
          assert.ok(threaded! > first && privately! > threaded! && later! > privately!);
          assert.ok(otherRoom! > later!);
          assert.ok((await storage.receipts.maxStreamId()) >= otherRoom!);

          const all = await storage.receipts.changes(0, otherRoom!);
          assert.deepEqual(all, [
            {
              roomId: ROOM,
              receiptType: 'm.read',
              userId: ALICE,
              threadId: '$root',
              eventId: '$e2',
              ts: 4,
              streamId: threaded,
            },
            {
              roomId: ROOM,
              receiptType: 'm.read.private',
              userId: ALICE,
              eventId: '$e1',
              ts: 5,
              streamId: privately,
            },
            {
              roomId: ROOM,
              receiptType: 'm.read',
              userId: ALICE,
              eventId: '$e9',
              ts: 6,
              streamId: later,
            },
            {
              roomId: OTHER_ROOM,
              receiptType: 'm.read',
              userId: BOB,
              eventId: '$o1',
              ts: 7,
              streamId: otherRoom,
            },
          ]);
          assert.deepEqual(
            (await storage.receipts.changes(privately!, later!)).map((r) => r.eventId),
            ['$e9'],
            'exclusive lower bound, inclusive upper bound',
          );

          storage = await reopen();
          assert.deepEqual(
            (await storage.receipts.ofRooms([OTHER_ROOM, ROOM])).map((r) => r.eventId),
            ['$o1', '$e2', '$e1', '$e9'],
            'room by room as asked, each in stream order',
          );
          assert.deepEqual(await storage.receipts.ofRooms([]), []);
          assert.ok((await storage.receipts.maxStreamId()) >= otherRoom!);
          assert.equal(
            await storage.receipts.put(receipt({ eventId: '$e8', eventPosition: 8 })),
            undefined,
            'the stored position survives a reopen',
          );
          const afterReopen = await storage.receipts.put(
            receipt({ eventId: '$e10', eventPosition: 10 }),
          );
          assert.ok(afterReopen! > otherRoom!, 'positions continue after a reopen');
        }));

      it('keeps the latest event under racing puts, with distinct positions', () =>
        withStorage(backend, async (storage) => {
          const eventPositions = shuffled(Array.from({ length: 16 }, (_, i) => i + 1));
          const sameKey = await Promise.all(
            eventPositions.map((eventPosition) =>
              storage.receipts.put(receipt({ eventId: `$e${eventPosition}`, eventPosition })),
            ),
          );
          const users = Array.from({ length: 10 }, (_, i) => `@u${i}:localhost`);
          const distinctKeys = await Promise.all(
            users.map((userId) => storage.receipts.put(receipt({ userId }))),
          );
          assert.ok(distinctKeys.every((position) => position !== undefined));
          const stored = sameKey.filter((position): position is number => position !== undefined);
          assert.ok(stored.length >= 1);
          assertDistinctPositions([...stored, ...(distinctKeys as number[])]);

          const max = await storage.receipts.maxStreamId();
          const changes = await storage.receipts.changes(0, max);
          assert.deepEqual(
            changes.map((r) => r.userId).sort(),
            [ALICE, ...users].sort(),
            'each receipt once',
          );
          assert.equal(
            changes.find((r) => r.userId === ALICE)?.eventId,
            '$e16',
            'the latest event wins whatever the commit order',
          );
        }));
    });

    describe('presence', () => {
      it('stores one presence per user and lists those not offline', () =>
        withStorage(backend, async (storage, reopen) => {
          assert.equal(await storage.presence.get(ALICE), undefined);
          assert.equal(await storage.presence.maxStreamId(), 0);
          const a = await storage.presence.put({
            userId: ALICE,
            state: 'online',
            lastActiveTs: 10,
          });
          const b = await storage.presence.put({
            userId: BOB,
            state: 'unavailable',
            statusMsg: 'away',
            lastActiveTs: 20,
          });
          const c = await storage.presence.put({
            userId: CAROL,
            state: 'offline',
            lastActiveTs: 30,
          });
          assert.ok(a < b && b < c);
          assert.deepEqual(await storage.presence.get(ALICE), {
            userId: ALICE,
            state: 'online',
            lastActiveTs: 10,
            streamId: a,
          });
          assert.deepEqual(await storage.presence.get(BOB), {
            userId: BOB,
            state: 'unavailable',
            statusMsg: 'away',
            lastActiveTs: 20,
            streamId: b,
          });
          assert.deepEqual(
            (await storage.presence.notOffline()).map((r) => r.userId),
            [ALICE, BOB],
          );

          const again = await storage.presence.put({
            userId: ALICE,
            state: 'offline',
            lastActiveTs: 40,
          });
          assert.ok(again > c);
          assert.equal(await storage.presence.maxStreamId(), again);

          storage = await reopen();
          assert.deepEqual(await storage.presence.get(ALICE), {
            userId: ALICE,
            state: 'offline',
            lastActiveTs: 40,
            streamId: again,
          });
          assert.deepEqual(
            (await storage.presence.notOffline()).map((r) => r.userId),
            [BOB],
          );
          assert.equal(await storage.presence.maxStreamId(), again);
          const afterReopen = await storage.presence.put({
            userId: BOB,
            state: 'online',
            lastActiveTs: 50,
          });
          assert.ok(afterReopen > again, 'positions continue after a reopen');
          assert.equal((await storage.presence.get(BOB))?.statusMsg, undefined, 'replaced whole');
        }));

      it('reads changes of the user and their joined room-mates only', () =>
        withStorage(backend, async (storage) => {
          const dave = '@dave:localhost';
          const erin = '@erin:localhost';
          const room = await createRoom(storage, ROOM, ALICE);
          await room.setMembership(ALICE, 'join');
          await room.setMembership(BOB, 'join');
          await room.setMembership(CAROL, 'invite');
          await room.setMembership(dave, 'join');
          await room.setMembership(dave, 'leave');
          const other = await createRoom(storage, OTHER_ROOM, erin);
          await other.setMembership(erin, 'join');

          const positions = new Map<string, number>();
          for (const userId of [ALICE, BOB, CAROL, dave, erin]) {
            positions.set(
              userId,
              await storage.presence.put({ userId, state: 'online', lastActiveTs: 1 }),
            );
          }
          const max = await storage.presence.maxStreamId();
          const changedFor = async (userId: string, after = 0, upTo = max) =>
            (await storage.presence.changesAmongRoomMates(userId, after, upTo)).map(
              (r) => r.userId,
            );

          assert.deepEqual(await changedFor(ALICE), [ALICE, BOB]);
          assert.deepEqual(await changedFor(BOB), [ALICE, BOB]);
          assert.deepEqual(await changedFor(CAROL), [CAROL], 'an invite shares no room yet');
          assert.deepEqual(await changedFor(erin), [erin]);
          assert.deepEqual(await changedFor(ALICE, positions.get(ALICE)!), [BOB]);
          assert.deepEqual(await changedFor(ALICE, 0, positions.get(ALICE)!), [ALICE]);

          assert.equal(await storage.presence.shareARoom(ALICE, BOB), true);
          assert.equal(await storage.presence.shareARoom(BOB, ALICE), true);
          assert.equal(await storage.presence.shareARoom(ALICE, CAROL), false);
          assert.equal(await storage.presence.shareARoom(ALICE, dave), false);
          assert.equal(await storage.presence.shareARoom(ALICE, erin), false);

          await room.setMembership(BOB, 'leave');
          assert.equal(await storage.presence.shareARoom(ALICE, BOB), false);
          assert.deepEqual(await changedFor(ALICE), [ALICE]);
        }));

      it('gives racing puts distinct positions, each change read once, the newest kept', () =>
        withStorage(backend, async (storage) => {
          const users = Array.from({ length: 10 }, (_, i) => `@u${i}:localhost`);
          const distinct = await Promise.all(
            users.map((userId) =>
              storage.presence.put({ userId, state: 'online', lastActiveTs: 1 }),
            ),
          );
          const sameUser = await Promise.all(
            shuffled(Array.from({ length: 10 }, (_, i) => i)).map(async (n) => ({
              n,
              position: await storage.presence.put({
                userId: ALICE,
                state: 'online',
                lastActiveTs: n,
              }),
            })),
          );
          const positions = [...distinct, ...sameUser.map((put) => put.position)];
          assertDistinctPositions(positions);
          const max = await storage.presence.maxStreamId();
          assert.equal(max, Math.max(...positions));
          const newest = sameUser.reduce((a, b) => (a.position > b.position ? a : b));
          const stored = await storage.presence.get(ALICE);
          assert.equal(stored?.lastActiveTs, newest.n, 'the put with the highest position wins');
          assert.equal(stored?.streamId, newest.position);
          assert.deepEqual(
            (await storage.presence.notOffline()).map((r) => r.userId).sort(),
            [ALICE, ...users].sort(),
            'each user once',
          );
        }));
    });

    describe('user directory', () => {
      const dave = '@dave:localhost';
      const erin = '@erin:localhost';
      const frank = '@frank:localhost';
      const gina = '@gina:localhost';
      const hugo = '@hugo:localhost';

      /**
       * Alice and Bob share a private room; Carol and Dave are joined to a
       * public room, Erin to a world-readable one; Frank is in no room; Gina is
       * deactivated; Hugo only left the private room.
       */
      async function populate(storage: Storage): Promise<void> {
        await createUser(storage, ALICE, 'alice');
        await createUser(storage, BOB, 'Bob');
        await createUser(storage, CAROL, 'Émile ΣΑΣ');
        await createUser(storage, dave);
        await createUser(storage, erin, 'zed');
        await createUser(storage, frank, 'Frank');
        await createUser(storage, gina, 'Gina');
        await createUser(storage, hugo, 'Hugo');
        await storage.users.deactivate(gina);

        const privateRoom = await createRoom(storage, '!private:localhost', ALICE);
        await privateRoom.setMembership(ALICE, 'join');
        await privateRoom.setMembership(BOB, 'join');
        await privateRoom.setMembership(hugo, 'join');
        await privateRoom.setMembership(hugo, 'leave');
        const publicRoom = await createRoom(storage, '!public:localhost', CAROL);
        // A NUL in the content (escaped in the JSON) must not trouble the query.
        await publicRoom.sendState('m.room.join_rules', '', {
          join_rule: 'public',
          note: 'a\u0000b',
        });
        await publicRoom.setMembership(CAROL, 'join');
        await publicRoom.setMembership(dave, 'join');
        const readable = await createRoom(storage, '!readable:localhost', erin);
        await readable.sendState('m.room.history_visibility', '', {
          history_visibility: 'world_readable',
        });
        await readable.setMembership(erin, 'join');
        const invitedOnly = await createRoom(storage, '!invite:localhost', frank);
        await invitedOnly.sendState('m.room.join_rules', '', { join_rule: 'invite' });
        await invitedOnly.setMembership(frank, 'join');
      }

      const search = async (
        storage: Storage,
        searcher: string,
        words: string[],
        options: { limit?: number; searchAllUsers?: boolean } = {},
      ) =>
        (
          await storage.userDirectory.search({
            searcher,
            words,
            limit: options.limit ?? 50,
            searchAllUsers: options.searchAllUsers ?? false,
          })
        ).map((user) => user.userId);

      it('finds room-mates and members of public or world-readable rooms, by folded name', () =>
        withStorage(backend, async (storage) => {
          await populate(storage);
          await storage.profiles.setProfile(BOB, { displayName: 'Bob', avatarUrl: 'mxc://x/bob' });

          // Named users first, by case-folded name compared byte for byte ('é' after 'z'), then by ID.
          assert.deepEqual(await search(storage, ALICE, []), [ALICE, BOB, erin, CAROL, dave]);
          assert.deepEqual(await search(storage, frank, []), [frank, erin, CAROL, dave]);
          assert.deepEqual(
            await storage.userDirectory.search({
              searcher: ALICE,
              words: ['bob'],
              limit: 5,
              searchAllUsers: false,
            }),
            [{ userId: BOB, displayName: 'Bob', avatarUrl: 'mxc://x/bob' }],
          );
          assert.deepEqual(
            await storage.userDirectory.search({
              searcher: ALICE,
              words: ['dave'],
              limit: 5,
              searchAllUsers: false,
            }),
            [{ userId: dave }],
            'no profile: no name, matched on the user ID',
          );
          assert.deepEqual(await search(storage, ALICE, ['d', 'a']), [erin, dave]);
          assert.deepEqual(await search(storage, ALICE, ['émile']), [CAROL]);
          assert.deepEqual(await search(storage, ALICE, ['σας']), [CAROL], 'Unicode case folding');
          assert.deepEqual(await search(storage, ALICE, ['hugo']), [], 'a former member');
          assert.deepEqual(await search(storage, ALICE, ['frank']), [], 'a private room');
          assert.deepEqual(await search(storage, ALICE, ['nobody']), []);
          assert.deepEqual(await search(storage, ALICE, [], { limit: 2 }), [ALICE, BOB]);

          const eightMatching = ['alice', 'a', 'l', 'i', 'c', 'e', '@', ':'];
          assert.deepEqual(
            await search(storage, ALICE, [...eightMatching, 'nomatch']),
            [ALICE],
            'words after the eighth are ignored',
          );
        }));

      it('searches every active user when asked', () =>
        withStorage(backend, async (storage, reopen) => {
          await populate(storage);
          assert.deepEqual(await search(storage, frank, [], { searchAllUsers: true }), [
            ALICE,
            BOB,
            frank,
            hugo,
            erin,
            CAROL,
            dave,
          ]);
          storage = await reopen();
          assert.deepEqual(
            await search(storage, frank, ['u'], { searchAllUsers: true, limit: 1 }),
            [hugo],
          );
        }));
    });
  });
}
