/**
 * The room store's contract for events received over federation, on every
 * backend: state groups made from the state before an event, the current
 * state replaced as resolution decided (with its caches: entries, member
 * counts, memberships per user), extremities given, soft-failed events held
 * with their state but off the stream, outliers and rejected events held by
 * ID only, a later stream copy of an outlier, a room whose first stored event
 * is a remote join.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stateMapKey } from '../../src/events/auth/auth-state.js';
import type { JsonObject, Pdu } from '../../src/events/pdu.js';
import type { NewRoomEvent, StateIds, Storage } from '../../src/storage/storage.js';
import { minimalPdu } from '../support/pdus.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const ROOM = '!fed:localhost';
const ALICE = '@alice:localhost';
const BOB = '@bob:remote.example';
const CAROL = '@carol:localhost';

interface Fields {
  type: string;
  stateKey?: string;
  content?: JsonObject;
  prev?: string[];
  sender?: string;
  depth?: number;
}

let depth = 1;

function pduOf(fields: Fields): Pdu {
  return {
    ...minimalPdu({
      type: fields.type,
      depth: fields.depth ?? depth++,
      roomId: ROOM,
      sender: fields.sender ?? ALICE,
      content: fields.content ?? {},
      ...(fields.stateKey === undefined ? {} : { stateKey: fields.stateKey }),
    }),
    prev_events: fields.prev ?? [],
  };
}

const local = (eventId: string, fields: Fields): NewRoomEvent => ({
  eventId,
  roomId: ROOM,
  pdu: pduOf(fields),
});

/** A received event: its state before, and whatever else the test names. */
const received = (
  eventId: string,
  fields: Fields,
  stateBefore: StateIds,
  more: Partial<NewRoomEvent> = {},
): NewRoomEvent => ({ ...local(eventId, fields), stateBefore: new Map(stateBefore), ...more });

const memberFields = (userId: string, membership: string, prev: string[]): Fields => ({
  type: 'm.room.member',
  stateKey: userId,
  content: { membership },
  prev,
  sender: userId,
});

const key = stateMapKey;
const withEntry = (state: StateIds, type: string, stateKey: string, eventId: string) =>
  new Map(state).set(key(type, stateKey), eventId);

/** create, Alice's join, Bob's join (locally stored): the room and its state after each. */
async function room(storage: Storage) {
  await storage.rooms.createRoom({ roomId: ROOM, version: '11', creator: ALICE }, 1);
  await storage.rooms.persistEvents([
    local('$create', { type: 'm.room.create', stateKey: '', content: { creator: ALICE } }),
    local('$alice', memberFields(ALICE, 'join', ['$create'])),
  ]);
  const s1 = new Map([
    [key('m.room.create', ''), '$create'],
    [key('m.room.member', ALICE), '$alice'],
  ]);
  return { s1 };
}

const streamIds = async (storage: Storage) =>
  (
    await storage.rooms.roomEvents({
      roomId: ROOM,
      after: 0,
      upTo: await storage.rooms.maxStreamOrdering(),
      limit: 100,
      order: 'oldest-first',
    })
  ).map((e) => e.eventId);

const extremityIds = async (storage: Storage) =>
  (await storage.rooms.forwardExtremities(ROOM)).map((e) => e.eventId).sort();

for (const backend of storageBackends()) {
  describe(`federated events on ${backend.name}`, () => {
    it('makes state groups from the state before, forks and merges, current state as given', () =>
      withStorage(backend, async (storage, reopen) => {
        const { s1 } = await room(storage);
        // Locally: a name on top of Alice's join.
        await storage.rooms.persistEvent(
          local('$name', {
            type: 'm.room.name',
            stateKey: '',
            content: { name: 'n' },
            prev: ['$alice'],
          }),
        );
        const s2 = withEntry(s1, 'm.room.name', '', '$name');
        // Received on a fork from Alice's join: a topic, then a message on it, in one batch.
        const sTopic = withEntry(s1, 'm.room.topic', '', '$topic');
        const resolved = withEntry(s2, 'm.room.topic', '', '$topic');
        const [topic, msg] = await storage.rooms.persistEvents([
          received(
            '$topic',
            {
              type: 'm.room.topic',
              stateKey: '',
              content: { topic: 't' },
              prev: ['$alice'],
              sender: BOB,
            },
            s1,
            {
              extremities: { remove: [], add: ['$topic'] },
              currentState: resolved,
            },
          ),
          received('$fork-msg', { type: 'm.room.message', prev: ['$topic'], sender: BOB }, sTopic, {
            extremities: { remove: ['$topic'], add: ['$fork-msg'] },
          }),
        ]);
        assert.ok(topic!.streamOrdering > 0 && msg!.streamOrdering > topic!.streamOrdering);
        assert.equal(topic!.replacesState, undefined);
        assert.deepEqual(await storage.rooms.stateIdsAfter('$topic'), sTopic);
        assert.deepEqual(await storage.rooms.stateIdsBefore('$topic'), s1);
        assert.deepEqual(await storage.rooms.stateIdsAfter('$fork-msg'), sTopic);
        assert.deepEqual(await storage.rooms.stateIdsBefore('$fork-msg'), sTopic);
        assert.deepEqual(await storage.rooms.stateIdsBefore('$name'), s1);
        // The room's state at a position is the resolved one, not the fork's own.
        const stateAt = (s: Storage, position: number) => s.rooms.stateIdsAt(ROOM, position);
        assert.deepEqual(await stateAt(storage, topic!.streamOrdering - 1), s2);
        assert.deepEqual(await stateAt(storage, topic!.streamOrdering), resolved);
        assert.deepEqual(await stateAt(storage, msg!.streamOrdering), resolved);
        // The current state is resolution's, whole; the message kept it.
        assert.deepEqual(await storage.rooms.currentStateIds(ROOM), resolved);
        const pairs = [
          { type: 'm.room.topic', stateKey: '' },
          { type: 'm.room.name', stateKey: '' },
        ];
        const expectedPairs = new Map([
          [key('m.room.topic', ''), '$topic'],
          [key('m.room.name', ''), '$name'],
        ]);
        assert.deepEqual(await storage.rooms.currentStateIdsFor(ROOM, pairs), expectedPairs);
        assert.deepEqual(await extremityIds(storage), ['$fork-msg', '$name']);
        assert.deepEqual(
          await storage.rooms.referencedEvents(['$topic', '$name', '$alice']),
          new Set(['$topic', '$alice']),
        );

        // A local event on both extremities: its state is the resolved current state.
        await storage.rooms.persistEvent(
          local('$merge', { type: 'm.room.message', prev: ['$name', '$fork-msg'] }),
        );
        assert.deepEqual(await extremityIds(storage), ['$merge']);
        assert.deepEqual(await storage.rooms.stateIdsAfter('$merge'), resolved);
        assert.deepEqual(await streamIds(storage), [
          '$create',
          '$alice',
          '$name',
          '$topic',
          '$fork-msg',
          '$merge',
        ]);

        const reopened = await reopen();
        assert.deepEqual(await reopened.rooms.currentStateIds(ROOM), resolved);
        assert.deepEqual(await reopened.rooms.stateIdsBefore('$topic'), s1);
        assert.deepEqual(await stateAt(reopened, msg!.streamOrdering), resolved);
        assert.deepEqual(await reopened.rooms.currentStateIdsFor(ROOM, pairs), expectedPairs);
        // A later state event builds on the resolved state too.
        await reopened.rooms.persistEvent(
          local('$name2', {
            type: 'm.room.name',
            stateKey: '',
            content: { name: 'm' },
            prev: ['$merge'],
          }),
        );
        assert.deepEqual(
          await reopened.rooms.currentStateIds(ROOM),
          withEntry(resolved, 'm.room.name', '', '$name2'),
        );
      }));

    it('keeps memberships per user right when resolution replaces or removes them', () =>
      withStorage(backend, async (storage, reopen) => {
        const { s1 } = await room(storage);
        await storage.rooms.persistEvent(
          local('$invite', { ...memberFields(CAROL, 'invite', ['$alice']), sender: ALICE }),
        );
        const sInvited = withEntry(s1, 'm.room.member', CAROL, '$invite');
        await storage.rooms.persistEvent(local('$join', memberFields(CAROL, 'join', ['$invite'])));
        const sJoined = withEntry(s1, 'm.room.member', CAROL, '$join');
        assert.deepEqual(await storage.rooms.roomsWithMembership(CAROL, 'join'), [ROOM]);
        assert.deepEqual(await storage.rooms.memberCounts(ROOM), { joined: 2, invited: 0 });

        // A received leave for Carol that loses resolution: she stays joined.
        await storage.rooms.persistEvent(
          received(
            '$leave',
            { ...memberFields(CAROL, 'leave', ['$invite']), sender: ALICE },
            sInvited,
            {
              extremities: { remove: [], add: ['$leave'] },
              currentState: sJoined,
            },
          ),
        );
        assert.deepEqual(await storage.rooms.roomsWithMembership(CAROL, 'join'), [ROOM]);
        assert.deepEqual(await storage.rooms.roomsWithMembership(CAROL, 'leave'), []);
        const afterLeave = await storage.rooms.membershipEventsOf(
          CAROL,
          await storage.rooms.maxStreamOrdering(),
        );
        assert.deepEqual(
          afterLeave.map((m) => [m.eventId, m.membership]),
          [
            ['$invite', 'invite'],
            ['$join', 'join'],
            ['$leave', 'leave'],
            ['$join', 'join'],
          ],
        );

        // A received message whose resolution makes the older invite current again.
        await storage.rooms.persistEvent(
          received('$msg', { type: 'm.room.message', prev: ['$leave'], sender: BOB }, sInvited, {
            extremities: { remove: ['$leave'], add: ['$msg'] },
            currentState: sInvited,
          }),
        );
        assert.deepEqual(await storage.rooms.roomsWithMembership(CAROL, 'join'), []);
        assert.deepEqual(await storage.rooms.roomsWithMembership(CAROL, 'invite'), [ROOM]);
        assert.deepEqual(await storage.rooms.memberCounts(ROOM), { joined: 1, invited: 1 });
        assert.deepEqual(
          await storage.rooms.currentStateIdsFor(ROOM, [
            { type: 'm.room.member', stateKey: CAROL },
          ]),
          new Map([[key('m.room.member', CAROL), '$invite']]),
        );

        // Then one that removes her entry altogether: a leave.
        const msg2 = await storage.rooms.persistEvent(
          received('$msg2', { type: 'm.room.message', prev: ['$msg'], sender: BOB }, sInvited, {
            extremities: { remove: ['$msg'], add: ['$msg2'] },
            currentState: s1,
          }),
        );
        const expected = [
          ['$invite', 'invite'],
          ['$join', 'join'],
          ['$leave', 'leave'],
          ['$join', 'join'],
          ['$invite', 'invite'],
          ['$msg2', 'leave'],
        ];
        const upTo = await storage.rooms.maxStreamOrdering();
        const memberships = await storage.rooms.membershipEventsOf(CAROL, upTo);
        assert.deepEqual(
          memberships.map((m) => [m.eventId, m.membership]),
          expected,
        );
        assert.equal(memberships.at(-1)!.streamOrdering, msg2.streamOrdering);
        assert.deepEqual(await storage.rooms.roomsWithMembership(CAROL, 'leave'), [ROOM]);
        assert.deepEqual(await storage.rooms.memberCounts(ROOM), { joined: 1, invited: 0 });
        assert.deepEqual(
          await storage.rooms.currentStateIdsFor(ROOM, [
            { type: 'm.room.member', stateKey: CAROL },
          ]),
          new Map(),
        );

        const reopened = await reopen();
        const read = await reopened.rooms.membershipEventsOf(CAROL, upTo);
        assert.deepEqual(
          read.map((m) => [m.eventId, m.membership]),
          expected,
        );
        assert.deepEqual(await reopened.rooms.roomsWithMembership(CAROL, 'leave'), [ROOM]);
        assert.deepEqual(await reopened.rooms.currentStateIds(ROOM), s1);
      }));

    it('holds soft-failed events with their state, off the stream', () =>
      withStorage(backend, async (storage, reopen) => {
        const { s1 } = await room(storage);
        const before = await storage.rooms.maxStreamOrdering();
        const [soft] = await storage.rooms.persistEvents([
          received(
            '$soft',
            {
              type: 'm.room.power_levels',
              stateKey: '',
              content: { users: { [BOB]: 100 } },
              prev: ['$alice'],
              sender: BOB,
            },
            s1,
            { softFailed: true },
          ),
          received(
            '$soft-msg',
            { type: 'm.room.message', content: { body: 'hidden' }, prev: ['$alice'], sender: BOB },
            s1,
            {
              softFailed: true,
            },
          ),
        ]);
        assert.equal(soft!.streamOrdering, 0);
        assert.equal(await storage.rooms.maxStreamOrdering(), before);
        assert.deepEqual(await streamIds(storage), ['$create', '$alice']);
        assert.deepEqual(await extremityIds(storage), ['$alice']);
        assert.deepEqual(await storage.rooms.currentStateIds(ROOM), s1);
        assert.deepEqual(
          await storage.rooms.currentStateIdsFor(ROOM, [
            { type: 'm.room.power_levels', stateKey: '' },
          ]),
          new Map(),
        );
        const withPower = withEntry(s1, 'm.room.power_levels', '', '$soft');
        for (const open of [async () => storage, reopen]) {
          const { rooms } = await open();
          assert.deepEqual(await rooms.stateIdsAfter('$soft'), withPower);
          assert.deepEqual(await rooms.stateIdsBefore('$soft'), s1);
          const [held] = await rooms.heldEvents(['$soft']);
          assert.equal(held!.softFailed, true);
          assert.equal(held!.outlier, false);
          assert.equal(held!.streamOrdering, 0);
          assert.equal((await rooms.getEvent('$soft-msg'))!.streamOrdering, 0);
          assert.deepEqual(await rooms.referencedEvents(['$alice']), new Set(['$alice']));
        }
      }));

    it('holds outliers and rejected events by ID, and moves an outlier into the stream', () =>
      withStorage(backend, async (storage, reopen) => {
        const { s1 } = await room(storage);
        const outlier = local('$out', {
          type: 'm.room.message',
          content: { body: 'o' },
          prev: ['$alice'],
          sender: BOB,
        });
        const [record] = await storage.rooms.persistEvents([
          { ...outlier, outlier: true },
          {
            ...local('$bad', { type: 'm.room.name', stateKey: '', prev: ['$alice'], sender: BOB }),
            outlier: true,
            rejectedReason: 'not allowed',
          },
          received(
            '$bad2',
            { type: 'm.room.topic', stateKey: '', prev: ['$alice'], sender: BOB },
            s1,
            {
              rejectedReason: 'no power',
            },
          ),
        ]);
        assert.equal(record!.streamOrdering, 0);
        // Stored again as an outlier: nothing changes.
        await storage.rooms.persistEvents([{ ...outlier, outlier: true }]);
        assert.deepEqual(await streamIds(storage), ['$create', '$alice']);
        assert.equal((await storage.rooms.getEvent('$out'))!.streamOrdering, 0);
        assert.equal(await storage.rooms.getEvent('$bad'), undefined);
        assert.deepEqual(
          await storage.rooms.getEvents(['$bad2', '$out']).then((es) => es.map((e) => e.eventId)),
          ['$out'],
        );
        assert.deepEqual(
          await storage.rooms.eventsExist(['$out', '$bad', '$bad2', '$alice', '$nope']),
          new Set(['$out', '$bad', '$bad2', '$alice']),
        );
        assert.equal(await storage.rooms.rejectedReason('$bad'), 'not allowed');
        assert.equal(await storage.rooms.rejectedReason('$out'), undefined);
        assert.equal(await storage.rooms.stateIdsAfter('$out'), undefined);
        assert.equal(await storage.rooms.stateIdsBefore('$out'), undefined);
        // A rejected event held with its state: the state after it is the state before it.
        assert.deepEqual(await storage.rooms.stateIdsAfter('$bad2'), s1);
        assert.deepEqual(await storage.rooms.stateIdsBefore('$bad2'), s1);
        const held = await storage.rooms.heldEvents(['$nope', '$bad', '$out', '$bad2', '$alice']);
        assert.deepEqual(
          held.map((e) => [e.eventId, e.outlier, e.softFailed, e.rejectedReason ?? null]),
          [
            ['$bad', true, false, 'not allowed'],
            ['$out', true, false, null],
            ['$bad2', false, false, 'no power'],
            ['$alice', false, false, null],
          ],
        );

        // The same event for the timeline: into the stream, an extremity, out of the outliers.
        const streamed = await storage.rooms.persistEvent(
          received(
            '$out',
            {
              type: 'm.room.message',
              content: { body: 'o' },
              prev: ['$alice'],
              sender: BOB,
              depth: outlier.pdu.depth,
            },
            s1,
            {
              extremities: { remove: ['$alice'], add: ['$out'] },
            },
          ),
        );
        assert.ok(streamed.streamOrdering > 0);
        assert.equal(
          (await storage.rooms.getEvent('$out'))!.streamOrdering,
          streamed.streamOrdering,
        );
        assert.deepEqual(await streamIds(storage), ['$create', '$alice', '$out']);
        assert.deepEqual(await extremityIds(storage), ['$out']);
        const reopened = await reopen();
        const [again] = await reopened.rooms.heldEvents(['$out']);
        assert.equal(again!.outlier, false);
        assert.equal(again!.streamOrdering, streamed.streamOrdering);
        assert.deepEqual(await reopened.rooms.stateIdsAfter('$out'), s1);
        assert.equal(await reopened.rooms.rejectedReason('$bad2'), 'no power');
      }));

    it('starts a room from a remote join whose state is outliers', () =>
      withStorage(backend, async (storage, reopen) => {
        await storage.rooms.createRoom({ roomId: ROOM, version: '11', creator: BOB }, 1);
        const outliers: NewRoomEvent[] = [
          local('$r-create', { type: 'm.room.create', stateKey: '', sender: BOB }),
          local('$r-bob', memberFields(BOB, 'join', ['$r-create'])),
          local('$r-rules', {
            type: 'm.room.join_rules',
            stateKey: '',
            content: { join_rule: 'public' },
            prev: ['$r-bob'],
            sender: BOB,
          }),
          local('$r-avatar', {
            type: 'm.room.avatar',
            stateKey: '',
            content: { url: 'mxc://remote.example/room' },
            prev: ['$r-rules'],
            sender: BOB,
          }),
        ].map((event) => ({ ...event, outlier: true }));
        await storage.rooms.persistEvents(outliers);
        const stateBefore = new Map([
          [key('m.room.create', ''), '$r-create'],
          [key('m.room.member', BOB), '$r-bob'],
          [key('m.room.join_rules', ''), '$r-rules'],
          [key('m.room.avatar', ''), '$r-avatar'],
        ]);
        const after = withEntry(stateBefore, 'm.room.member', ALICE, '$r-alice');
        const join = await storage.rooms.persistEvent(
          received('$r-alice', memberFields(ALICE, 'join', ['$r-avatar']), stateBefore, {
            extremities: { remove: [], add: ['$r-alice'] },
            currentState: after,
          }),
        );
        assert.equal(join.replacesState, undefined);
        for (const open of [async () => storage, reopen]) {
          const opened = await open();
          const { rooms } = opened;
          assert.deepEqual(await rooms.currentStateIds(ROOM), after);
          assert.deepEqual(await rooms.stateIdsAt(ROOM, join.streamOrdering), after);
          assert.deepEqual(await rooms.stateIdsBefore('$r-alice'), stateBefore);
          assert.deepEqual(await rooms.forwardExtremities(ROOM), [
            { eventId: '$r-alice', depth: join.pdu.depth },
          ]);
          assert.deepEqual(await rooms.roomsWithMembership(ALICE, 'join'), [ROOM]);
          assert.deepEqual(await rooms.memberCounts(ROOM), { joined: 2, invited: 0 });
          assert.equal(await rooms.hasJoinedMember(ROOM, 'remote.example'), true);
          assert.equal(await rooms.hasJoinedMember(ROOM, 'localhost'), true);
          assert.equal(await rooms.hasJoinedMember(ROOM, 'example'), false);
          // The state's events are found by ID (sync serves them), at position 0.
          const state = await rooms.getEvents([...after.values()]);
          assert.deepEqual(
            state.map((e) => [e.eventId, e.streamOrdering > 0]),
            [
              ['$r-create', false],
              ['$r-bob', false],
              ['$r-rules', false],
              ['$r-avatar', false],
              ['$r-alice', true],
            ],
          );
          // What reads current state's content finds the state held off the stream too.
          const [listed] = await rooms.listRooms({ roomId: ROOM, serverName: 'localhost' });
          assert.deepEqual(listed!.state['m.room.join_rules'], { join_rule: 'public' });
          const found = await opened.userDirectory.search({
            searcher: CAROL,
            words: ['bob'],
            limit: 10,
            searchAllUsers: false,
          });
          assert.deepEqual(
            found.map((user) => user.userId),
            [BOB],
          );
          const avatars = await opened.mediaAdmin.avatarUrls();
          assert.ok(avatars.includes('mxc://remote.example/room'));
        }
      }));
  });
}
