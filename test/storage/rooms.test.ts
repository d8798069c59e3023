/**
 * The room store's contract, on every backend: rooms, events and their
 * positions, state (current, after an event, at a position), extremities,
 * client transactions, redactions, memberships and forgotten rooms; batches
 * handed in without waiting commit in order, all or nothing, and reads that
 * race with commits never keep what the commit changed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stateMapKey } from '../../src/events/auth/auth-state.js';
import type { JsonObject, Pdu } from '../../src/events/pdu.js';
import type { EventRecord, NewRoomEvent, Storage } from '../../src/storage/storage.js';
import { minimalPdu } from '../support/pdus.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const ROOM = '!r:localhost';
const OTHER_ROOM = '!other:localhost';
const ALICE = '@alice:localhost';

interface EventFields {
  type: string;
  stateKey?: string;
  content?: JsonObject;
  prev?: string[];
  roomId?: string;
  sender?: string;
  redacts?: string;
}

/** Depths only need to grow; each new event gets the next one. */
let depth = 1;

function newEvent(eventId: string, fields: EventFields): NewRoomEvent {
  const roomId = fields.roomId ?? ROOM;
  const pdu: Pdu = {
    ...minimalPdu({
      type: fields.type,
      depth: depth++,
      roomId,
      sender: fields.sender ?? ALICE,
      content: fields.content ?? {},
      ...(fields.stateKey === undefined ? {} : { stateKey: fields.stateKey }),
    }),
    prev_events: fields.prev ?? [],
    ...(fields.redacts === undefined ? {} : { redacts: fields.redacts }),
  };
  return { eventId, roomId, pdu };
}

const message = (eventId: string, fields: Partial<EventFields> = {}) =>
  newEvent(eventId, { type: 'm.room.message', content: { body: eventId }, ...fields });

const member = (eventId: string, userId: string, membership: string, roomId = ROOM) =>
  newEvent(eventId, { type: 'm.room.member', stateKey: userId, content: { membership }, roomId });

/** A room with its create event stored. */
async function createRoom(storage: Storage, roomId = ROOM): Promise<EventRecord> {
  await storage.rooms.createRoom({ roomId, version: '11', creator: ALICE }, 1_000);
  return storage.rooms.persistEvent(
    newEvent(`$create-${roomId}`, { type: 'm.room.create', stateKey: '', roomId }),
  );
}

const ids = (events: { eventId: string }[]) => events.map((e) => e.eventId);

for (const backend of storageBackends()) {
  describe(`rooms on ${backend.name}`, () => {
    it('creates rooms, refuses a second with the same ID, and keeps them', () =>
      withStorage(backend, async (storage, reopen) => {
        await storage.rooms.createRoom({ roomId: ROOM, version: '11', creator: ALICE }, 5);
        await assert.rejects(
          storage.rooms.createRoom({ roomId: ROOM, version: '10', creator: '@b:localhost' }, 6),
        );
        assert.equal(await storage.rooms.getRoom('!nope:localhost'), undefined);
        const reopened = await reopen();
        assert.deepEqual(await reopened.rooms.getRoom(ROOM), {
          roomId: ROOM,
          version: '11',
          creator: ALICE,
        });
      }));

    it('stores events at growing positions and serves them by ID, as asked', () =>
      withStorage(backend, async (storage, reopen) => {
        assert.equal(await storage.rooms.maxStreamOrdering(), 0);
        const create = await createRoom(storage);
        const first = await storage.rooms.persistEvent(message('$m1', { prev: [create.eventId] }));
        const second = await storage.rooms.persistEvent(message('$m2', { prev: ['$m1'] }));
        assert.ok(create.streamOrdering < first.streamOrdering);
        assert.ok(first.streamOrdering < second.streamOrdering);
        assert.equal(await storage.rooms.maxStreamOrdering(), second.streamOrdering);
        assert.deepEqual(first, {
          eventId: '$m1',
          roomId: ROOM,
          pdu: first.pdu,
          streamOrdering: first.streamOrdering,
        });

        const reopened = await reopen();
        assert.equal(await reopened.rooms.maxStreamOrdering(), second.streamOrdering);
        assert.deepEqual(await reopened.rooms.getEvent('$m1'), first);
        assert.equal(await reopened.rooms.getEvent('$missing'), undefined);
        // In the order asked, the unknown left out, a repeated ID repeated.
        assert.deepEqual(ids(await reopened.rooms.getEvents(['$m2', '$missing', '$m1', '$m2'])), [
          '$m2',
          '$m1',
          '$m2',
        ]);
        assert.deepEqual(await reopened.rooms.getEvents([]), []);
        const later = await reopened.rooms.persistEvent(message('$m3', { prev: ['$m2'] }));
        assert.ok(later.streamOrdering > second.streamOrdering, 'positions go on after a restart');
      }));

    it('refuses events of unknown rooms, and a first event that is not state', () =>
      withStorage(backend, async (storage) => {
        await assert.rejects(
          storage.rooms.persistEvent(message('$lost', { roomId: '!nope:localhost' })),
          /Unknown room/,
        );
        await storage.rooms.createRoom({ roomId: ROOM, version: '11', creator: ALICE }, 1);
        await assert.rejects(storage.rooms.persistEvent(message('$early')), /state event/);
        assert.equal(await storage.rooms.getEvent('$early'), undefined);
        assert.equal(await storage.rooms.getEvent('$lost'), undefined);
        assert.deepEqual(await storage.rooms.persistEvents([]), []);
      }));

    it('keeps the current state and what each state event replaced', () =>
      withStorage(backend, async (storage, reopen) => {
        const create = await createRoom(storage);
        const join = await storage.rooms.persistEvent(member('$join', ALICE, 'join'));
        assert.equal(join.replacesState, undefined);
        const name1 = newEvent('$name1', {
          type: 'm.room.name',
          stateKey: '',
          content: { name: 'a' },
        });
        const name2 = newEvent('$name2', {
          type: 'm.room.name',
          stateKey: '',
          content: { name: 'b' },
        });
        // In one batch the second replaces the first, which the batch itself stored.
        const [first, second] = await storage.rooms.persistEvents([name1, name2]);
        assert.equal(first!.replacesState, undefined);
        assert.equal(second!.replacesState, '$name1');
        const third = await storage.rooms.persistEvent(
          newEvent('$name3', { type: 'm.room.name', stateKey: '', content: { name: 'c' } }),
        );
        assert.equal(third.replacesState, '$name2');

        const expected = new Map([
          [stateMapKey('m.room.create', ''), create.eventId],
          [stateMapKey('m.room.member', ALICE), '$join'],
          [stateMapKey('m.room.name', ''), '$name3'],
        ]);
        assert.deepEqual(await storage.rooms.currentStateIds(ROOM), expected);
        const pairs = [
          { type: 'm.room.name', stateKey: '' },
          { type: 'm.room.topic', stateKey: '' },
          { type: 'm.room.member', stateKey: ALICE },
        ];
        const wanted = new Map([
          [stateMapKey('m.room.name', ''), '$name3'],
          [stateMapKey('m.room.member', ALICE), '$join'],
        ]);
        assert.deepEqual(await storage.rooms.currentStateIdsFor(ROOM, pairs), wanted);
        // Asked again (from the caches), then after a change to one and the absent one set.
        assert.deepEqual(await storage.rooms.currentStateIdsFor(ROOM, pairs), wanted);
        await storage.rooms.persistEvents([
          newEvent('$topic', { type: 'm.room.topic', stateKey: '', content: { topic: 't' } }),
          member('$leave', ALICE, 'leave'),
        ]);
        const changed = new Map([
          [stateMapKey('m.room.name', ''), '$name3'],
          [stateMapKey('m.room.topic', ''), '$topic'],
          [stateMapKey('m.room.member', ALICE), '$leave'],
        ]);
        assert.deepEqual(await storage.rooms.currentStateIdsFor(ROOM, pairs), changed);
        assert.deepEqual(await storage.rooms.currentStateIdsFor(OTHER_ROOM, pairs), new Map());

        const reopened = await reopen();
        assert.deepEqual(await reopened.rooms.currentStateIdsFor(ROOM, pairs), changed);
        assert.equal((await reopened.rooms.getEvent('$name3'))!.replacesState, '$name2');
        assert.equal((await reopened.rooms.currentStateIds(ROOM)).size, 4);
      }));

    it('answers the state after every event, across many snapshots and batches', () =>
      withStorage(backend, async (storage, reopen) => {
        const create = await createRoom(storage);
        // 300 state events over 40 keys (each key replaced several times) and some
        // messages: the delta chains are cut by snapshots, within batches and between them.
        const expected = new Map<string, Map<string, string>>();
        const state = new Map([[stateMapKey('m.room.create', ''), create.eventId]]);
        expected.set(create.eventId, new Map(state));
        const events: NewRoomEvent[] = [];
        for (let i = 0; i < 300; i++) {
          const key = `k${(i * 7) % 40}`;
          const event =
            i % 5 === 4
              ? message(`$msg${i}`)
              : newEvent(`$st${i}`, { type: 'x.state', stateKey: key, content: { i } });
          if (event.pdu.state_key !== undefined) {
            state.set(stateMapKey('x.state', key), event.eventId);
          }
          expected.set(event.eventId, new Map(state));
          events.push(event);
        }
        // Batches of these sizes in turn; one of 90 holds a snapshot and the deltas after it.
        const sizes = [1, 7, 90, 3, 64];
        for (let start = 0, batch = 0; start < events.length; batch++) {
          const size = sizes[batch % sizes.length]!;
          await storage.rooms.persistEvents(events.slice(start, start + size));
          start += size;
        }
        const check = async (s: Storage) => {
          for (const [eventId, stateAfter] of expected) {
            assert.deepEqual(await s.rooms.stateIdsAfter(eventId), stateAfter, eventId);
          }
          assert.deepEqual(await s.rooms.currentStateIds(ROOM), state);
        };
        await check(storage);
        assert.equal(await storage.rooms.stateIdsAfter('$unknown'), undefined);
        // Without the caches filled, as after a restart: read from the groups alone.
        await check(await reopen());
      }));

    it('answers the state at a position: after the last event at or before it', () =>
      withStorage(backend, async (storage) => {
        await createRoom(storage, OTHER_ROOM);
        assert.deepEqual(await storage.rooms.stateIdsAt(ROOM, 1_000), new Map());
        const create = await createRoom(storage);
        const join = await storage.rooms.persistEvent(member('$join', ALICE, 'join'));
        const msg = await storage.rooms.persistEvent(message('$after-join'));
        await storage.rooms.persistEvent(message('$other', { roomId: OTHER_ROOM }));
        const leave = await storage.rooms.persistEvent(member('$leave', ALICE, 'leave'));
        const key = stateMapKey('m.room.member', ALICE);
        assert.deepEqual(
          await storage.rooms.stateIdsAt(ROOM, create.streamOrdering - 1),
          new Map(),
        );
        assert.equal(
          (await storage.rooms.stateIdsAt(ROOM, create.streamOrdering)).get(key),
          undefined,
        );
        assert.equal((await storage.rooms.stateIdsAt(ROOM, join.streamOrdering)).get(key), '$join');
        assert.equal(
          (await storage.rooms.stateIdsAt(ROOM, msg.streamOrdering + 1)).get(key),
          '$join',
        );
        assert.equal(
          (await storage.rooms.stateIdsAt(ROOM, leave.streamOrdering)).get(key),
          '$leave',
        );
        assert.equal((await storage.rooms.stateIdsAt(OTHER_ROOM, leave.streamOrdering)).size, 1);
      }));

    it('keeps the forward extremities: events no later event names as a prev event', () =>
      withStorage(backend, async (storage, reopen) => {
        const create = await createRoom(storage);
        assert.deepEqual(await storage.rooms.forwardExtremities(ROOM), [
          { eventId: create.eventId, depth: create.pdu.depth },
        ]);
        const b = await storage.rooms.persistEvent(message('$b', { prev: [create.eventId] }));
        const a = await storage.rooms.persistEvent(message('$a', { prev: [create.eventId] }));
        // A fork: both, by event ID.
        assert.deepEqual(await storage.rooms.forwardExtremities(ROOM), [
          { eventId: '$a', depth: a.pdu.depth },
          { eventId: '$b', depth: b.pdu.depth },
        ]);
        // In one batch: the merge, then an event on top of it.
        const [, top] = await storage.rooms.persistEvents([
          message('$merge', { prev: ['$a', '$b'] }),
          message('$top', { prev: ['$merge'] }),
        ]);
        assert.deepEqual(await storage.rooms.forwardExtremities(ROOM), [
          { eventId: '$top', depth: top!.pdu.depth },
        ]);
        const reopened = await reopen();
        assert.deepEqual(ids(await reopened.rooms.forwardExtremities(ROOM)), ['$top']);
        assert.deepEqual(await reopened.rooms.forwardExtremities(OTHER_ROOM), []);
      }));

    it('reads a room’s events by position range, either way, up to the limit', () =>
      withStorage(backend, async (storage) => {
        const create = await createRoom(storage);
        await createRoom(storage, OTHER_ROOM);
        const stored: EventRecord[] = [];
        for (let i = 0; i < 6; i++) {
          stored.push(await storage.rooms.persistEvent(message(`$r${i}`)));
          await storage.rooms.persistEvent(message(`$o${i}`, { roomId: OTHER_ROOM }));
        }
        const at = (i: number) => stored[i]!.streamOrdering;
        const query = { roomId: ROOM, after: at(0), upTo: at(4), limit: 10 };
        assert.deepEqual(ids(await storage.rooms.roomEvents({ ...query, order: 'oldest-first' })), [
          '$r1',
          '$r2',
          '$r3',
          '$r4',
        ]);
        assert.deepEqual(
          ids(await storage.rooms.roomEvents({ ...query, limit: 2, order: 'newest-first' })),
          ['$r4', '$r3'],
        );
        assert.deepEqual(
          ids(await storage.rooms.roomEvents({ ...query, limit: 2, order: 'oldest-first' })),
          ['$r1', '$r2'],
        );
        const all = await storage.rooms.roomEvents({
          roomId: ROOM,
          after: 0,
          upTo: await storage.rooms.maxStreamOrdering(),
          limit: 100,
          order: 'oldest-first',
        });
        assert.deepEqual(ids(all), [create.eventId, ...ids(stored)]);
        assert.deepEqual(all.slice(1), stored);
      }));

    it('persists batches handed in together, in order, each all or nothing', () =>
      withStorage(backend, async (storage) => {
        await createRoom(storage);
        // Handed in without waiting: they commit in the order handed in.
        const batches = Array.from({ length: 30 }, (_, i) =>
          storage.rooms.persistEvents([message(`$p${i}a`), message(`$p${i}b`)]),
        );
        const records = (await Promise.all(batches)).flat();
        assert.deepEqual(
          ids(records),
          Array.from({ length: 30 }, (_, i) => [`$p${i}a`, `$p${i}b`]).flat(),
        );
        for (let i = 1; i < records.length; i++) {
          assert.ok(records[i - 1]!.streamOrdering < records[i]!.streamOrdering);
        }
        assert.equal(await storage.rooms.maxStreamOrdering(), records.at(-1)!.streamOrdering);
        const read = await storage.rooms.roomEvents({
          roomId: ROOM,
          after: records[0]!.streamOrdering - 1,
          upTo: records.at(-1)!.streamOrdering,
          limit: 100,
          order: 'oldest-first',
        });
        assert.deepEqual(read, records);

        // A batch with a bad event stores none of its events.
        const extremities = await storage.rooms.forwardExtremities(ROOM);
        await assert.rejects(
          storage.rooms.persistEvents([
            message('$good', { prev: ['$p29b'] }),
            message('$bad', { roomId: '!no:x' }),
          ]),
        );
        assert.equal(await storage.rooms.getEvent('$good'), undefined);
        assert.deepEqual(await storage.rooms.forwardExtremities(ROOM), extremities);
        // Its positions may stay a gap in the stream; the events before it are all there.
        assert.ok((await storage.rooms.maxStreamOrdering()) >= records.at(-1)!.streamOrdering);
        assert.deepEqual(ids(await storage.rooms.getEvents(['$p29b'])), ['$p29b']);
      }));

    it('fails batches handed in before a failure was known, and takes the later ones', () =>
      withStorage(backend, async (storage) => {
        await createRoom(storage);
        const failed = storage.rooms.persistEvents([message('$x1', { roomId: '!nope:x' })]);
        const meanwhile = storage.rooms.persistEvents([message('$x2')]);
        await assert.rejects(failed);
        // Refused, or stored in the same failed transaction: never stored on top of it.
        await assert.rejects(meanwhile);
        assert.equal(await storage.rooms.getEvent('$x2'), undefined);
        const [after] = await storage.rooms.persistEvents([message('$x3')]);
        assert.equal(after!.eventId, '$x3');
        assert.deepEqual(await storage.rooms.getEvent('$x3'), after);
      }));

    it('remembers client transactions: one event per transaction', () =>
      withStorage(backend, async (storage, reopen) => {
        await createRoom(storage);
        const txn = { userId: ALICE, deviceId: 'DEV', endpoint: 'send', txnId: 't1' };
        const sent = await storage.rooms.persistEvent({ ...message('$t1'), transaction: txn });
        assert.deepEqual(sent.transaction, { userId: ALICE, deviceId: 'DEV', txnId: 't1' });
        assert.equal(await storage.rooms.transactionEvent(ALICE, 'DEV', 'send', 't1'), '$t1');
        assert.equal(await storage.rooms.transactionEvent(ALICE, 'DEV', 'state', 't1'), undefined);
        assert.equal(await storage.rooms.transactionEvent(ALICE, 'OTHER', 'send', 't1'), undefined);
        // The same transaction again: refused, the first event stands.
        await assert.rejects(
          storage.rooms.persistEvent({ ...message('$again'), transaction: txn }),
        );
        assert.equal(await storage.rooms.getEvent('$again'), undefined);

        // Twice at once: never two events for it.
        const racing = { ...txn, txnId: 't2' };
        const results = await Promise.allSettled(
          ['$race1', '$race2'].map((id) =>
            storage.rooms.persistEvents([{ ...message(id), transaction: racing }]),
          ),
        );
        const stored = results.filter((r) => r.status === 'fulfilled');
        assert.ok(stored.length <= 1, 'at most one event for the transaction');
        const winner = await storage.rooms.transactionEvent(ALICE, 'DEV', 'send', 't2');
        const found = await storage.rooms.getEvents(['$race1', '$race2']);
        assert.deepEqual(ids(found), winner === undefined ? [] : [winner]);

        const reopened = await reopen();
        assert.equal(await reopened.rooms.transactionEvent(ALICE, 'DEV', 'send', 't1'), '$t1');
        assert.deepEqual((await reopened.rooms.getEvent('$t1'))!.transaction, sent.transaction);
      }));

    it('marks redacted events, top-level redacts and in content, in every read', () =>
      withStorage(backend, async (storage, reopen) => {
        await createRoom(storage);
        await storage.rooms.persistEvents([message('$target'), message('$target2')]);
        assert.equal((await storage.rooms.getEvent('$target'))!.redactedBy, undefined);
        await storage.rooms.persistEvent(
          newEvent('$redaction', { type: 'm.room.redaction', redacts: '$target' }),
        );
        await storage.rooms.persistEvent(
          newEvent('$redaction2', { type: 'm.room.redaction', content: { redacts: '$target2' } }),
        );
        // The cached event follows the redaction.
        assert.equal((await storage.rooms.getEvent('$target'))!.redactedBy, '$redaction');
        assert.equal((await storage.rooms.getEvents(['$target2']))[0]!.redactedBy, '$redaction2');
        const timeline = await storage.rooms.roomEvents({
          roomId: ROOM,
          after: 0,
          upTo: await storage.rooms.maxStreamOrdering(),
          limit: 10,
          order: 'oldest-first',
        });
        const redactedBy = new Map(timeline.map((e) => [e.eventId, e.redactedBy]));
        assert.equal(redactedBy.get('$target'), '$redaction');
        assert.equal(redactedBy.get('$redaction'), undefined);
        // A second redaction of the same event: the first one named (by ID) is served.
        await storage.rooms.persistEvent(
          newEvent('$another', { type: 'm.room.redaction', redacts: '$target' }),
        );
        assert.equal((await storage.rooms.getEvent('$target'))!.redactedBy, '$another');
        const reopened = await reopen();
        assert.equal((await reopened.rooms.getEvent('$target2'))!.redactedBy, '$redaction2');
      }));

    it('indexes relations with the events, and unindexes redacted children', () =>
      withStorage(backend, async (storage) => {
        await createRoom(storage);
        await storage.rooms.persistEvent(message('$parent'));
        const reaction = (id: string, key: string): NewRoomEvent => ({
          ...newEvent(id, { type: 'm.reaction' }),
          relation: { relType: 'm.annotation', parentId: '$parent', key, hasNewContent: false },
        });
        await storage.rooms.persistEvents([reaction('$like', '👍'), reaction('$heart', '❤️')]);
        const children = await storage.relations.childrenOfType(['$parent'], 'm.annotation');
        assert.deepEqual(ids(children), ['$like', '$heart']);
        await storage.rooms.persistEvent(
          newEvent('$undo', { type: 'm.room.redaction', redacts: '$like' }),
        );
        const left = await storage.relations.childrenOfType(['$parent'], 'm.annotation');
        assert.deepEqual(ids(left), ['$heart']);
      }));

    it('follows memberships: events of a user, rooms by membership, counts, members', () =>
      withStorage(backend, async (storage, reopen) => {
        await createRoom(storage);
        await createRoom(storage, OTHER_ROOM);
        const bob = '@bob:localhost';
        assert.deepEqual(await storage.rooms.roomsWithMembership(bob, 'join'), []);
        const invite = await storage.rooms.persistEvent(member('$invite', bob, 'invite'));
        const join = await storage.rooms.persistEvent(member('$join', bob, 'join'));
        await storage.rooms.persistEvent(member('$join2', bob, 'join', OTHER_ROOM));
        assert.deepEqual(await storage.rooms.roomsWithMembership(bob, 'join'), [ROOM, OTHER_ROOM]);
        const leave = await storage.rooms.persistEvent(member('$leave', bob, 'leave'));
        assert.deepEqual(await storage.rooms.roomsWithMembership(bob, 'join'), [OTHER_ROOM]);
        assert.deepEqual(await storage.rooms.roomsWithMembership(bob, 'leave'), [ROOM]);

        const upTo = await storage.rooms.maxStreamOrdering();
        const all = await storage.rooms.membershipEventsOf(bob, upTo);
        assert.deepEqual(all, [
          {
            roomId: ROOM,
            eventId: '$invite',
            membership: 'invite',
            streamOrdering: invite.streamOrdering,
          },
          {
            roomId: ROOM,
            eventId: '$join',
            membership: 'join',
            streamOrdering: join.streamOrdering,
          },
          {
            roomId: OTHER_ROOM,
            eventId: '$join2',
            membership: 'join',
            streamOrdering: join.streamOrdering + 1,
          },
          {
            roomId: ROOM,
            eventId: '$leave',
            membership: 'leave',
            streamOrdering: leave.streamOrdering,
          },
        ]);
        assert.deepEqual(ids(await storage.rooms.membershipEventsOf(bob, join.streamOrdering)), [
          '$invite',
          '$join',
        ]);
        assert.deepEqual(await storage.rooms.membershipEventsOf(ALICE, upTo), []);

        // Members by user ID as bytes compare: upper case before lower case.
        await storage.rooms.persistEvents([
          member('$m1', '@zed:localhost', 'join'),
          member('$m2', '@Ann:localhost', 'join'),
          member('$m3', '@amy:localhost', 'invite'),
          member('$m4', '@carl:localhost', 'ban'),
        ]);
        assert.deepEqual(await storage.rooms.memberCounts(ROOM), { joined: 2, invited: 1 });
        assert.deepEqual(await storage.rooms.memberCounts('!empty:x'), { joined: 0, invited: 0 });
        // Counted again after a member event: a count read before it is not kept.
        await storage.rooms.persistEvents([member('$m5', '@amy:localhost', 'join')]);
        assert.deepEqual(await storage.rooms.memberCounts(ROOM), { joined: 3, invited: 0 });
        assert.deepEqual(await storage.rooms.someMembers(ROOM, 10), [
          '@Ann:localhost',
          '@amy:localhost',
          '@zed:localhost',
        ]);
        assert.deepEqual(await storage.rooms.someMembers(ROOM, 2), [
          '@Ann:localhost',
          '@amy:localhost',
        ]);
        assert.deepEqual(await storage.rooms.someMembers(ROOM, 10, { former: true }), [
          bob,
          '@carl:localhost',
        ]);

        const reopened = await reopen();
        assert.deepEqual(await reopened.rooms.membershipEventsOf(bob, upTo), all);
        assert.deepEqual(await reopened.rooms.roomsWithMembership(bob, 'join'), [OTHER_ROOM]);
      }));

    it('forgets rooms until a new membership, and keeps that', () =>
      withStorage(backend, async (storage, reopen) => {
        await createRoom(storage);
        await createRoom(storage, OTHER_ROOM);
        assert.deepEqual(await storage.rooms.forgottenRooms(ALICE), []);
        await storage.rooms.forgetRoom(ALICE, ROOM);
        await storage.rooms.forgetRoom(ALICE, OTHER_ROOM);
        await storage.rooms.forgetRoom(ALICE, ROOM);
        assert.deepEqual(await storage.rooms.forgottenRooms(ALICE), [OTHER_ROOM, ROOM]);
        assert.deepEqual(await storage.rooms.forgottenRooms('@bob:localhost'), []);
        // A new membership (a join) ends it for that room only.
        await storage.rooms.persistEvent(member('$rejoin', ALICE, 'join'));
        assert.deepEqual(await storage.rooms.forgottenRooms(ALICE), [OTHER_ROOM]);
        const reopened = await reopen();
        assert.deepEqual(await reopened.rooms.forgottenRooms(ALICE), [OTHER_ROOM]);
      }));

    it('never keeps a read that raced with a commit changing it', () =>
      withStorage(backend, async (storage) => {
        await createRoom(storage);
        const topicPair = [{ type: 'm.room.topic', stateKey: '' }];
        const topicKey = stateMapKey('m.room.topic', '');
        for (let i = 0; i < 10; i++) {
          const user = `@racer${i}:localhost`;
          await storage.rooms.persistEvent(message(`$target${i}`));
          // Cold reads in flight while the events that change them commit.
          const [, , , stored] = await Promise.all([
            storage.rooms.roomsWithMembership(user, 'join'),
            storage.rooms.getEvent(`$target${i}`),
            storage.rooms.currentStateIdsFor(ROOM, topicPair),
            storage.rooms.persistEvents([
              member(`$join${i}`, user, 'join'),
              newEvent(`$redact${i}`, { type: 'm.room.redaction', redacts: `$target${i}` }),
              newEvent(`$topic${i}`, { type: 'm.room.topic', stateKey: '', content: { i } }),
            ]),
            storage.rooms.forgottenRooms(user),
            storage.rooms.forgetRoom(user, OTHER_ROOM),
          ]);
          assert.equal(stored.length, 3);
          assert.deepEqual(await storage.rooms.roomsWithMembership(user, 'join'), [ROOM]);
          assert.equal((await storage.rooms.getEvent(`$target${i}`))!.redactedBy, `$redact${i}`);
          const topic = await storage.rooms.currentStateIdsFor(ROOM, topicPair);
          assert.equal(topic.get(topicKey), `$topic${i}`);
          assert.deepEqual(await storage.rooms.forgottenRooms(user), [OTHER_ROOM]);
          const upTo = await storage.rooms.maxStreamOrdering();
          assert.deepEqual(ids(await storage.rooms.membershipEventsOf(user, upTo)), [`$join${i}`]);
        }
      }));
  });
}
