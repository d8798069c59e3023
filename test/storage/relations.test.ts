/**
 * Contract tests on every backend of the relation index (RelationStore),
 * written with the events (RoomStore.persistEvents): threads, children by
 * type and by depth, thread summaries, annotations, redactions leaving the
 * index, relations across rooms ignored, what survives a reopen, and thread
 * events racing each other.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IndexedRelation } from '../../src/events/relation-types.js';
import type { ChildrenQuery, RelationRecord } from '../../src/storage/storage.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';
import { TestRoom } from '../support/stored-events.js';

const ALICE = '@alice:localhost';
const BOB = '@bob:localhost';
const CAROL = '@carol:localhost';

const thread = (rootId: string): IndexedRelation => ({
  relType: 'm.thread',
  parentId: rootId,
  threadRoot: rootId,
  hasNewContent: false,
});
const edit = (parentId: string): IndexedRelation => ({
  relType: 'm.replace',
  parentId,
  hasNewContent: true,
});
const reaction = (parentId: string, key: string): IndexedRelation => ({
  relType: 'm.annotation',
  parentId,
  key,
  hasNewContent: false,
});
const reference = (parentId: string): IndexedRelation => ({
  relType: 'm.reference',
  parentId,
  hasNewContent: false,
});

const ids = (records: readonly { eventId: string }[]) => records.map((r) => r.eventId);
const rootIdsOf = (threads: readonly { rootId: string }[]) => threads.map((t) => t.rootId);
const byRoot = <T extends { rootId: string }>(rows: T[]) =>
  [...rows].sort((a, b) => a.rootId.localeCompare(b.rootId));

for (const backend of storageBackends()) {
  describe(`relations on ${backend.name}`, () => {
    it('records every field of a child, oldest first per type, for several parents at once', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage);
        const a = await room.send({ eventId: '$a' });
        await room.send({ eventId: '$b' });
        const editA = await room.send({
          eventId: '$edit-a',
          sender: BOB,
          relation: edit('$a'),
          originServerTs: 1234,
        });
        await room.send({ eventId: '$like-a', relation: reaction('$a', '👍') });
        await room.send({ eventId: '$edit-b', relation: edit('$b') });
        await room.send({ eventId: '$edit-a2', relation: edit('$a') });

        const edits = await storage.relations.childrenOfType(['$a', '$b', '$none'], 'm.replace');
        assert.deepEqual(ids(edits), ['$edit-a', '$edit-b', '$edit-a2']);
        const expected: RelationRecord = {
          eventId: '$edit-a',
          relatesTo: '$a',
          relType: 'm.replace',
          roomId: room.roomId,
          type: 'm.room.message',
          sender: BOB,
          isState: false,
          hasNewContent: true,
          threadId: 'main',
          originServerTs: 1234,
          streamOrdering: editA.streamOrdering,
        };
        assert.deepEqual(edits[0], expected);
        assert.ok(editA.streamOrdering > a.streamOrdering);

        const [like] = await storage.relations.childrenOfType(['$a'], 'm.annotation');
        assert.equal(like?.key, '👍');
        assert.equal(like?.hasNewContent, false);
        assert.deepEqual(await storage.relations.childrenOfType([], 'm.replace'), []);
        assert.deepEqual(await storage.relations.childrenOfType(['$a'], 'm.reference'), []);
      }));

    it('puts thread events in their root’s thread, and their children in their parent’s', () =>
      withStorage(backend, async (storage, reopen) => {
        const room = await TestRoom.create(storage);
        await room.send({ eventId: '$root' });
        await room.send({ eventId: '$reply', sender: BOB, relation: thread('$root') });
        await room.send({ eventId: '$like-reply', relation: reaction('$reply', '🎉') });
        await room.send({ eventId: '$like-root', relation: reaction('$root', '🎉') });
        const check = async () => {
          const relations = room.storage.relations;
          assert.equal(await relations.threadOf('$reply'), '$root');
          assert.equal(await relations.threadOf('$like-reply'), '$root');
          // A thread root and what relates to it are in the main timeline.
          assert.equal(await relations.threadOf('$root'), 'main');
          assert.equal(await relations.threadOf('$like-root'), 'main');
          assert.equal(await relations.threadOf('$unknown'), 'main');
          const [child] = await relations.childrenOfType(['$reply'], 'm.annotation');
          assert.equal(child?.threadId, '$root');
        };
        await check();
        room.storage = await reopen();
        await check();
      }));

    it('indexes a child stored in the same transaction as its parent, in the parent’s thread', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage);
        await room.send({ eventId: '$root' });
        await room.sendAll([
          { eventId: '$reply', relation: thread('$root') },
          { eventId: '$edit-reply', relation: edit('$reply') },
        ]);
        assert.equal(await storage.relations.threadOf('$edit-reply'), '$root');
        assert.deepEqual(ids(await storage.relations.childrenOfType(['$reply'], 'm.replace')), [
          '$edit-reply',
        ]);
      }));

    it('ignores a relation to an event of another room', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage);
        const other = await TestRoom.create(storage, '!other:localhost');
        await room.send({ eventId: '$parent' });
        await other.send({ eventId: '$foreign-edit', relation: edit('$parent') });
        await other.send({ eventId: '$foreign-reply', relation: thread('$parent') });
        assert.deepEqual(await storage.relations.childrenOfType(['$parent'], 'm.replace'), []);
        assert.deepEqual(await storage.relations.threadSummaries(['$parent']), []);
        assert.equal(await storage.relations.threadOf('$foreign-reply'), 'main');
        assert.deepEqual(
          await storage.relations.threads({ roomId: other.roomId, upTo: 1e9, limit: 10 }),
          [],
        );
      }));

    it('says which events certainly have no child, and knows nothing of events before a reopen', () =>
      withStorage(backend, async (storage, reopen) => {
        const room = await TestRoom.create(storage);
        const lonely = await room.send({ eventId: '$lonely' });
        const parent = await room.send({ eventId: '$parent' });
        await room.send({ eventId: '$edit', relation: edit('$parent') });
        assert.equal(
          await storage.relations.mayHaveChildren('$lonely', lonely.streamOrdering),
          false,
        );
        assert.equal(
          await storage.relations.mayHaveChildren('$parent', parent.streamOrdering),
          true,
        );
        room.storage = await reopen();
        // Stored before this storage was opened: it cannot tell.
        assert.equal(
          await room.storage.relations.mayHaveChildren('$lonely', lonely.streamOrdering),
          true,
        );
        const fresh = await room.send({ eventId: '$fresh' });
        assert.equal(
          await room.storage.relations.mayHaveChildren('$fresh', fresh.streamOrdering),
          false,
        );
        await room.send({ eventId: '$like-fresh', relation: reaction('$fresh', '👍') });
        assert.equal(
          await room.storage.relations.mayHaveChildren('$fresh', fresh.streamOrdering),
          true,
        );
      }));

    it('summarises threads: count and newest event per root, without ignored senders', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage);
        await room.send({ eventId: '$root1' });
        await room.send({ eventId: '$root2' });
        await room.send({ eventId: '$no-thread' });
        await room.send({ eventId: '$r1a', sender: BOB, relation: thread('$root1') });
        await room.send({ eventId: '$r2a', sender: CAROL, relation: thread('$root2') });
        await room.send({ eventId: '$r1b', sender: CAROL, relation: thread('$root1') });
        // Not a thread event: not counted.
        await room.send({ eventId: '$like', relation: reaction('$root1', '👍') });

        const roots = ['$root1', '$root2', '$no-thread'];
        assert.deepEqual(byRoot(await storage.relations.threadSummaries(roots)), [
          { rootId: '$root1', count: 2, latestEventId: '$r1b' },
          { rootId: '$root2', count: 1, latestEventId: '$r2a' },
        ]);
        // Without Carol: root2 has no thread left, root1's newest is Bob's.
        assert.deepEqual(byRoot(await storage.relations.threadSummaries(roots, [CAROL])), [
          { rootId: '$root1', count: 1, latestEventId: '$r1a' },
        ]);
        assert.deepEqual(await storage.relations.threadSummaries([]), []);

        assert.deepEqual([...(await storage.relations.threadsWithSender(roots, CAROL))].sort(), [
          '$root1',
          '$root2',
        ]);
        assert.deepEqual([...(await storage.relations.threadsWithSender(roots, BOB))], ['$root1']);
        assert.deepEqual([...(await storage.relations.threadsWithSender(roots, ALICE))], []);
        assert.equal((await storage.relations.threadsWithSender([], BOB)).size, 0);
      }));

    it('finds a user’s annotation by sender, type and key', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage);
        await room.send({ eventId: '$msg' });
        await room.send({
          eventId: '$like',
          type: 'm.reaction',
          sender: BOB,
          relation: reaction('$msg', '👍'),
        });
        const has = (sender: string, type: string, key: string) =>
          storage.relations.hasAnnotation('$msg', sender, type, key);
        assert.equal(await has(BOB, 'm.reaction', '👍'), true);
        assert.equal(await has(BOB, 'm.reaction', '🎉'), false);
        assert.equal(await has(ALICE, 'm.reaction', '👍'), false);
        assert.equal(await has(BOB, 'm.room.message', '👍'), false);
        await room.send({ eventId: '$unlike', sender: BOB, redacts: '$like' });
        assert.equal(await has(BOB, 'm.reaction', '👍'), false);
      }));

    it('lists children and descendants by filters, range, limit and order', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage);
        const root = await room.send({ eventId: '$root' });
        const t1 = await room.send({ eventId: '$t1', relation: thread('$root') });
        await room.send({ eventId: '$ref', relation: reference('$root') });
        await room.send({ eventId: '$edit-t1', relation: edit('$t1') });
        const t2 = await room.send({ eventId: '$t2', relation: thread('$root') });
        await room.send({
          eventId: '$like-t2',
          type: 'm.reaction',
          relation: reaction('$t2', 'x'),
        });
        const query: ChildrenQuery = {
          parentId: '$root',
          depth: 1,
          after: 0,
          upTo: 1e9,
          limit: 10,
          order: 'oldest-first',
        };
        const children = (overrides: Partial<ChildrenQuery>) =>
          storage.relations.children({ ...query, ...overrides }).then(ids);

        assert.deepEqual(await children({}), ['$t1', '$ref', '$t2']);
        assert.deepEqual(await children({ order: 'newest-first' }), ['$t2', '$ref', '$t1']);
        assert.deepEqual(await children({ relType: 'm.thread' }), ['$t1', '$t2']);
        assert.deepEqual(await children({ eventType: 'm.reaction' }), []);
        assert.deepEqual(await children({ depth: 3 }), [
          '$t1',
          '$ref',
          '$edit-t1',
          '$t2',
          '$like-t2',
        ]);
        // Filters apply at every level: the edit is reached only through a thread event.
        assert.deepEqual(await children({ depth: 3, relType: 'm.thread' }), ['$t1', '$t2']);
        assert.deepEqual(await children({ depth: 3, eventType: 'm.reaction' }), []);
        assert.deepEqual(await children({ after: t1.streamOrdering, upTo: t2.streamOrdering }), [
          '$ref',
          '$t2',
        ]);
        assert.deepEqual(await children({ depth: 3, limit: 2, order: 'newest-first' }), [
          '$like-t2',
          '$t2',
        ]);
        assert.deepEqual(await children({ parentId: '$t2' }), ['$like-t2']);
        assert.ok(root.streamOrdering < t1.streamOrdering);
      }));

    it('lists a room’s threads by latest activity, newest first, and those a user is in', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage);
        const other = await TestRoom.create(storage, '!other:localhost');
        await room.send({ eventId: '$root-a' });
        await room.send({ eventId: '$root-b', sender: CAROL });
        await room.send({ eventId: '$root-c' });
        const a1 = await room.send({ eventId: '$a1', sender: BOB, relation: thread('$root-a') });
        const b1 = await room.send({ eventId: '$b1', relation: thread('$root-b') });
        const a2 = await room.send({ eventId: '$a2', relation: thread('$root-a') });
        await other.send({ eventId: '$root-x' });
        await other.send({ eventId: '$x1', relation: thread('$root-x') });
        const query = { roomId: room.roomId, upTo: 1e9, limit: 10 };

        assert.deepEqual(await storage.relations.threads(query), [
          { rootId: '$root-a', latestStreamOrdering: a2.streamOrdering },
          { rootId: '$root-b', latestStreamOrdering: b1.streamOrdering },
        ]);
        assert.deepEqual(
          rootIdsOf(await storage.relations.threads({ ...query, upTo: a2.streamOrdering - 1 })),
          ['$root-b'],
        );
        assert.deepEqual(rootIdsOf(await storage.relations.threads({ ...query, limit: 1 })), [
          '$root-a',
        ]);
        // Bob replied in a; Carol sent b's root; Dave is in none.
        assert.deepEqual(
          rootIdsOf(await storage.relations.threads({ ...query, participant: BOB })),
          ['$root-a'],
        );
        assert.deepEqual(
          rootIdsOf(await storage.relations.threads({ ...query, participant: CAROL })),
          ['$root-b'],
        );
        assert.deepEqual(
          await storage.relations.threads({ ...query, participant: '@dave:localhost' }),
          [],
        );
        assert.ok(a1.streamOrdering < b1.streamOrdering);
      }));

    it('drops a redacted child; its thread recounts, moves back, and goes once empty', () =>
      withStorage(backend, async (storage, reopen) => {
        const room = await TestRoom.create(storage);
        await room.send({ eventId: '$root' });
        await room.send({ eventId: '$other-root' });
        const r1 = await room.send({ eventId: '$r1', relation: thread('$root') });
        const o1 = await room.send({ eventId: '$o1', relation: thread('$other-root') });
        await room.send({ eventId: '$r2', relation: thread('$root') });
        await room.send({ eventId: '$edit', relation: edit('$root') });
        const query = { roomId: room.roomId, upTo: 1e9, limit: 10 };

        await room.send({ eventId: '$redact-r2', redacts: '$r2' });
        await room.send({ eventId: '$redact-edit', redacts: '$edit' });
        assert.deepEqual(await storage.relations.threadSummaries(['$root']), [
          { rootId: '$root', count: 1, latestEventId: '$r1' },
        ]);
        assert.deepEqual(await storage.relations.threads(query), [
          { rootId: '$other-root', latestStreamOrdering: o1.streamOrdering },
          { rootId: '$root', latestStreamOrdering: r1.streamOrdering },
        ]);
        assert.deepEqual(await storage.relations.childrenOfType(['$root'], 'm.replace'), []);
        assert.equal(await storage.relations.threadOf('$r2'), 'main');

        await room.send({ eventId: '$redact-r1', redacts: '$r1' });
        room.storage = await reopen();
        assert.deepEqual(await room.storage.relations.threadSummaries(['$root']), []);
        assert.deepEqual(rootIdsOf(await room.storage.relations.threads(query)), ['$other-root']);
        // A redaction of something that is not a child changes nothing.
        await room.send({ eventId: '$redact-root', redacts: '$other-root' });
        assert.deepEqual(rootIdsOf(await room.storage.relations.threads(query)), ['$other-root']);
      }));

    it('does not index a child whose redaction was stored first', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage);
        await room.send({ eventId: '$msg' });
        await room.send({ eventId: '$early-redaction', redacts: '$late-edit' });
        await room.send({ eventId: '$late-edit', relation: edit('$msg') });
        assert.deepEqual(await storage.relations.childrenOfType(['$msg'], 'm.replace'), []);
      }));

    it('counts every one of racing thread events, and keeps the newest as latest', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage);
        const other = await TestRoom.create(storage, '!other:localhost');
        await room.send({ eventId: '$root' });
        await room.send({ eventId: '$doomed', relation: thread('$root') });
        const racing = Array.from({ length: 12 }, (_, i) =>
          // Half in a room of their own, so that the room stores may commit them concurrently.
          (i % 2 === 0 ? room : other).send({ eventId: `$race${i}`, relation: thread('$root') }),
        );
        const [, ...stored] = await Promise.all([
          room.send({ eventId: '$redact-doomed', redacts: '$doomed' }),
          ...racing,
        ]);
        // The other room's events relate across rooms: ignored.
        const sameRoom = stored.filter((_, i) => i % 2 === 0);
        const newest = sameRoom.reduce((a, b) => (a.streamOrdering > b.streamOrdering ? a : b));
        assert.deepEqual(await storage.relations.threadSummaries(['$root']), [
          { rootId: '$root', count: 6, latestEventId: newest.eventId },
        ]);
        assert.deepEqual(
          await storage.relations.threads({ roomId: room.roomId, upTo: 1e9, limit: 5 }),
          [{ rootId: '$root', latestStreamOrdering: newest.streamOrdering }],
        );
      }));
  });
}
