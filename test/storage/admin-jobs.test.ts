/**
 * Contract tests of the Admin API's job storage on every backend: jobs and
 * their updates (kept across a reopen), blocked rooms, and the purges: a room
 * purge deletes every row of the room and nothing of another room; a history
 * purge deletes only non-state events before the position, never a forward
 * extremity, and keeps the senders it is told to keep.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AdminJob } from '../../src/domain/admin-jobs.js';
import type { IndexedRelation } from '../../src/events/relation-types.js';
import type { Storage } from '../../src/storage/storage.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';
import { type TestEvent, TestRoom } from '../support/stored-events.js';

const ALICE = '@alice:localhost';
const REMOTE = '@eve:remote.example';
const thread = (rootId: string): IndexedRelation => ({
  relType: 'm.thread',
  parentId: rootId,
  threadRoot: rootId,
  hasNewContent: false,
});

function job(id: string, roomId: string, createdTs: number, kind: AdminJob['kind']): AdminJob {
  return {
    id,
    kind,
    roomId,
    params: { block: true, note: id },
    status: 'scheduled',
    error: null,
    result: null,
    createdTs,
    updatedTs: createdTs,
  };
}

/** Sends an event whose prev_events is the room's last one, so only the newest is an extremity. */
async function sendLinked(room: TestRoom, fields: TestEvent, last: { id?: string }) {
  const event = room.event(fields);
  if (last.id !== undefined) event.pdu.prev_events = [last.id];
  last.id = fields.eventId;
  return room.storage.rooms.persistEvent(event);
}

/** A room with members, messages in a thread, a redaction and an alias. */
async function busyRoom(storage: Storage, roomId: string): Promise<TestRoom> {
  const room = await TestRoom.create(storage, roomId, ALICE);
  const tag = roomId.slice(1, 3);
  await room.send({
    eventId: `$${tag}-alice`,
    type: 'm.room.member',
    stateKey: ALICE,
    content: { membership: 'join' },
  });
  await room.send({ eventId: `$${tag}-root` });
  await room.send({ eventId: `$${tag}-reply`, relation: thread(`$${tag}-root`) });
  await room.send({ eventId: `$${tag}-gone` });
  await room.send({ eventId: `$${tag}-redaction`, redacts: `$${tag}-gone` });
  await room.send({ eventId: `$${tag}-last` });
  await storage.directory.createAlias({ alias: `#${tag}:localhost`, roomId, creator: ALICE }, 1);
  await storage.directory.setPublished(roomId, true, 1);
  return room;
}

for (const backend of storageBackends()) {
  describe(`admin jobs on ${backend.name}`, () => {
    it('stores jobs, updates them in part, lists them by room and unfinished; they persist', () =>
      withStorage(backend, async (storage, reopen) => {
        const jobs = storage.adminJobs;
        await jobs.insertJob(job('b', '!r:localhost', 20, 'room_delete'));
        await jobs.insertJob(job('a', '!r:localhost', 10, 'room_delete'));
        await jobs.insertJob(job('p', '!r:localhost', 15, 'purge_history'));
        await jobs.insertJob(job('o', '!other:localhost', 5, 'room_delete'));
        await jobs.updateJob('a', { status: 'active', result: { kicked_users: ['x'] } }, 30);
        await jobs.updateJob('a', { status: 'failed', error: 'boom' }, 40);
        await jobs.updateJob('o', { status: 'complete' }, 50);
        storage = await reopen();
        const a = await storage.adminJobs.getJob('a');
        assert.deepEqual(a, {
          ...job('a', '!r:localhost', 10, 'room_delete'),
          status: 'failed',
          error: 'boom',
          result: { kicked_users: ['x'] },
          updatedTs: 40,
        });
        assert.equal(await storage.adminJobs.getJob('nope'), undefined);
        const ofRoom = await storage.adminJobs.jobsOfRoom('!r:localhost', 'room_delete');
        assert.deepEqual(
          ofRoom.map((j) => j.id),
          ['a', 'b'],
        );
        const unfinished = await storage.adminJobs.unfinishedJobs();
        assert.deepEqual(
          unfinished.map((j) => j.id),
          ['p', 'b'],
        );
      }));

    it('blocks rooms (known or not), records who, unblocks', () =>
      withStorage(backend, async (storage, reopen) => {
        const jobs = storage.adminJobs;
        assert.equal(await jobs.roomBlock('!x:elsewhere'), undefined);
        await jobs.setRoomBlock('!x:elsewhere', ALICE, 1);
        await jobs.setRoomBlock('!y:elsewhere', null, 1);
        await jobs.setRoomBlock('!y:elsewhere', '@bob:localhost', 2);
        storage = await reopen();
        assert.deepEqual(await storage.adminJobs.roomBlock('!x:elsewhere'), {
          roomId: '!x:elsewhere',
          userId: ALICE,
        });
        assert.equal((await storage.adminJobs.roomBlock('!y:elsewhere'))?.userId, '@bob:localhost');
        await storage.adminJobs.clearRoomBlock('!x:elsewhere');
        assert.equal(await storage.adminJobs.roomBlock('!x:elsewhere'), undefined);
      }));

    it('purges a room in batches: every row of it gone, another room untouched', () =>
      withStorage(backend, async (storage, reopen) => {
        await busyRoom(storage, '!aa:localhost');
        await busyRoom(storage, '!bb:localhost');
        const deleted: string[] = [];
        for (let more = true; more;) {
          const batch = await storage.adminJobs.purgeRoomBatch('!aa:localhost', 2);
          assert.ok(batch.eventIds.length <= 2);
          deleted.push(...batch.eventIds);
          more = batch.more;
        }
        assert.equal(deleted.length, 7);
        assert.ok(deleted.includes('$aa-reply') && deleted.includes('$create-aa:localhost'));
        storage = await reopen();
        const { rooms, directory, relations } = storage;
        assert.equal(await rooms.getRoom('!aa:localhost'), undefined);
        assert.deepEqual(await rooms.getEvents(deleted), []);
        assert.equal((await rooms.currentStateIds('!aa:localhost')).size, 0);
        assert.deepEqual(await rooms.forwardExtremities('!aa:localhost'), []);
        assert.deepEqual(await directory.aliasesOfRoom('!aa:localhost'), []);
        assert.equal(await directory.isPublished('!aa:localhost'), false);
        assert.deepEqual(await relations.childrenOfType(['$aa-root'], 'm.thread'), []);
        assert.deepEqual(await rooms.roomsWithMembership(ALICE, 'join'), ['!bb:localhost']);
        // The other room is whole.
        assert.ok(await rooms.getRoom('!bb:localhost'));
        assert.equal((await rooms.getEvents(['$bb-root', '$bb-last', '$bb-reply'])).length, 3);
        assert.equal((await rooms.getEvent('$bb-gone'))?.redactedBy, '$bb-redaction');
        assert.equal((await relations.childrenOfType(['$bb-root'], 'm.thread')).length, 1);
        assert.deepEqual(await directory.aliasesOfRoom('!bb:localhost'), ['#bb:localhost']);
        assert.equal((await rooms.currentStateIds('!bb:localhost')).size, 2);
      }));

    it('purges history: non-state events before the position, extremities and kept senders stay', () =>
      withStorage(backend, async (storage, reopen) => {
        const room = await TestRoom.create(storage, '!h:localhost', ALICE);
        const last = { id: '$create-h:localhost' };
        await sendLinked(room, { eventId: '$topic', type: 'm.room.topic', stateKey: '' }, last);
        await sendLinked(room, { eventId: '$local-old' }, last);
        await sendLinked(room, { eventId: '$remote-old', sender: REMOTE }, last);
        const reply = { eventId: '$remote-reply', sender: REMOTE, relation: thread('$local-old') };
        await sendLinked(room, reply, last);
        const cut = await sendLinked(room, { eventId: '$cut' }, last);
        await sendLinked(room, { eventId: '$remote-new', sender: REMOTE }, last);

        const scope = {
          roomId: '!h:localhost',
          beforeStreamOrdering: cut.streamOrdering,
          limit: 1,
        };
        const deleted: string[] = [];
        for (let more = true; more;) {
          const batch = await storage.adminJobs.purgeHistoryBatch({
            ...scope,
            keepSendersEndingWith: ':localhost',
          });
          deleted.push(...batch.eventIds);
          more = batch.more;
        }
        assert.deepEqual(deleted.sort(), ['$remote-old', '$remote-reply']);
        storage = await reopen();
        assert.equal((await storage.rooms.getEvents(['$remote-old', '$remote-reply'])).length, 0);
        assert.deepEqual(await storage.relations.childrenOfType(['$local-old'], 'm.thread'), []);
        assert.ok(await storage.rooms.getEvent('$local-old'));

        // Everyone's events now, up to past the last one: state and the extremity stay.
        const all = await storage.adminJobs.purgeHistoryBatch({
          ...scope,
          beforeStreamOrdering: Number.MAX_SAFE_INTEGER,
          limit: 100,
        });
        assert.deepEqual(all.eventIds.sort(), ['$cut', '$local-old']);
        assert.equal(all.more, false);
        storage = await reopen();
        const kept = await storage.rooms.getEvents([
          '$create-h:localhost',
          '$topic',
          '$remote-new',
        ]);
        assert.equal(kept.length, 3);
        assert.deepEqual(await storage.rooms.forwardExtremities('!h:localhost'), [
          { eventId: '$remote-new', depth: 7 },
        ]);
      }));
  });
}
