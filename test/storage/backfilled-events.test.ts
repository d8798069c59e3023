/**
 * The room store's contract for backfilled events (federation/backfill.ts),
 * on every backend: positions reserved below everything held, each batch
 * below the last (after a restart too); events stored there with their state,
 * read by position before the room's other events, an outlier moved there;
 * the room's extremities, current state and memberships as they were.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stateMapKey } from '../../src/events/auth/auth-state.js';
import type { JsonObject, Pdu } from '../../src/events/pdu.js';
import type { NewRoomEvent, StateIds, Storage } from '../../src/storage/storage.js';
import { minimalPdu } from '../support/pdus.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const ROOM = '!backfill:localhost';
const ALICE = '@alice:localhost';
const CAROL = '@carol:remote.example';

function pduOf(
  type: string,
  prev: string[],
  more: { stateKey?: string; content?: JsonObject; sender?: string } = {},
): Pdu {
  return {
    ...minimalPdu({
      type,
      depth: 1,
      roomId: ROOM,
      sender: more.sender ?? ALICE,
      content: more.content ?? {},
      ...(more.stateKey === undefined ? {} : { stateKey: more.stateKey }),
    }),
    prev_events: prev,
  };
}

const key = stateMapKey;

/** A room held from its create event and Alice's join (the events it "joined" with). */
async function room(storage: Storage): Promise<StateIds> {
  await storage.rooms.createRoom({ roomId: ROOM, version: '11', creator: ALICE }, 1);
  await storage.rooms.persistEvents([
    {
      eventId: '$create',
      roomId: ROOM,
      pdu: pduOf('m.room.create', [], { stateKey: '', content: { creator: ALICE } }),
    },
    {
      eventId: '$alice',
      roomId: ROOM,
      pdu: pduOf('m.room.member', ['$older'], { stateKey: ALICE, content: { membership: 'join' } }),
    },
  ]);
  return new Map([
    [key('m.room.create', ''), '$create'],
    [key('m.room.member', ALICE), '$alice'],
  ]);
}

const backfilled = (
  eventId: string,
  pdu: Pdu,
  stateBefore: StateIds,
  position: number,
): NewRoomEvent => ({
  eventId,
  roomId: ROOM,
  pdu,
  stateBefore: new Map(stateBefore),
  backfillPosition: position,
});

const allIds = async (storage: Storage) =>
  (
    await storage.rooms.roomEvents({
      roomId: ROOM,
      after: Number.MIN_SAFE_INTEGER,
      upTo: Number.MAX_SAFE_INTEGER,
      limit: 100,
      order: 'oldest-first',
    })
  ).map((e) => e.eventId);

for (const backend of storageBackends()) {
  describe(`backfilled events on ${backend.name}`, () => {
    it('reserves positions below every position held, each batch below the last', () =>
      withStorage(backend, async (storage, reopen) => {
        await room(storage);
        const first = await storage.rooms.reserveBackfillPositions(3);
        assert.equal(first.length, 3);
        assert.ok(first[0]! < 0, 'below the stream, which starts at 1');
        assert.deepEqual(
          [...first].sort((x, y) => y - x),
          first,
          'highest first',
        );
        assert.equal(new Set(first).size, 3);
        const second = await storage.rooms.reserveBackfillPositions(2);
        assert.ok(second[0]! < first.at(-1)!);
        // Stored at the lowest of them, then reopened: the next ones are lower still.
        const state = await room2State(storage);
        await storage.rooms.persistEvent(
          backfilled('$low', pduOf('m.room.message', []), state, second.at(-1)!),
        );
        storage = await reopen();
        const third = await storage.rooms.reserveBackfillPositions(1);
        assert.ok(third[0]! < second.at(-1)!, `${third[0]} < ${second.at(-1)}`);
      }));

    it('stores history before the room, with its state, and changes nothing current', () =>
      withStorage(backend, async (storage) => {
        const joinedWith = await room(storage);
        const extremities = await storage.rooms.forwardExtremities(ROOM);
        const current = await storage.rooms.currentStateIds(ROOM);
        // Carol's old join, known first as an outlier (an auth chain), then backfilled.
        const carolJoin = pduOf('m.room.member', ['$oldest'], {
          stateKey: CAROL,
          content: { membership: 'join' },
          sender: CAROL,
        });
        await storage.rooms.persistEvent({
          eventId: '$carol',
          roomId: ROOM,
          pdu: carolJoin,
          outlier: true,
        });
        const before = new Map([[key('m.room.create', ''), '$create']]);
        // The batch's positions: the older event gets the lower one.
        const [newer, older] = await storage.rooms.reserveBackfillPositions(2);
        const [carol, said] = await storage.rooms.persistEvents([
          backfilled('$carol', carolJoin, before, older!),
          backfilled(
            '$older',
            pduOf('m.room.message', ['$carol'], { sender: CAROL, content: { body: 'old' } }),
            new Map(before).set(key('m.room.member', CAROL), '$carol'),
            newer!,
          ),
        ]);
        assert.equal(carol!.streamOrdering, older);
        assert.equal(said!.streamOrdering, newer);
        assert.deepEqual(await allIds(storage), ['$carol', '$older', '$create', '$alice']);
        // A read from position 0, as before backfill, still finds only what the room held.
        const fromZero = await storage.rooms.roomEvents({
          roomId: ROOM,
          after: 0,
          upTo: Number.MAX_SAFE_INTEGER,
          limit: 10,
          order: 'oldest-first',
        });
        assert.deepEqual(
          fromZero.map((e) => e.eventId),
          ['$create', '$alice'],
        );
        // The outlier moved into place: found at its position, with its state.
        assert.equal((await storage.rooms.getEvent('$carol'))?.streamOrdering, older);
        assert.deepEqual(
          await storage.rooms.stateIdsAfter('$carol'),
          new Map(before).set(key('m.room.member', CAROL), '$carol'),
        );
        assert.deepEqual(
          await storage.rooms.stateIdsBefore('$older'),
          new Map(before).set(key('m.room.member', CAROL), '$carol'),
        );
        assert.deepEqual(
          await storage.rooms.stateIdsAt(ROOM, newer!),
          await storage.rooms.stateIdsAfter('$older'),
        );
        // Nothing current moved: extremities, state, the head of the stream.
        assert.deepEqual(await storage.rooms.forwardExtremities(ROOM), extremities);
        assert.deepEqual(await storage.rooms.currentStateIds(ROOM), current);
        assert.deepEqual(current, joinedWith);
        assert.ok((await storage.rooms.maxStreamOrdering()) > 0);
        // Carol's membership events list the old join, before any later one.
        const memberships = await storage.rooms.membershipEventsOf(CAROL, Number.MAX_SAFE_INTEGER);
        assert.deepEqual(
          memberships.map((m) => m.eventId),
          ['$carol'],
        );
        // Stored again (a second backfill of the same events): nothing changes.
        const [again] = await storage.rooms.reserveBackfillPositions(1);
        await storage.rooms.persistEvent(backfilled('$older', said!.pdu, new Map(before), again!));
        assert.equal((await storage.rooms.getEvent('$older'))?.streamOrdering, newer);
      }));
  });
}

async function room2State(storage: Storage): Promise<StateIds> {
  return (await storage.rooms.stateIdsAfter('$create')) ?? new Map();
}
