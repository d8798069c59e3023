/**
 * Contract tests on every backend of the content reports' Admin API reads:
 * kinds, filters, order, pages, one report, deletion.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Storage } from '../../src/storage/storage.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const alice = '@alice:localhost';
const bob = '@bob:localhost';
const carol = '@carol:localhost';

/** Two event reports, a room report and a user report (IDs 1-4, in that order). */
async function addReports(storage: Storage) {
  await storage.reports.add({
    reporter: alice,
    roomId: '!a:x',
    eventId: '$1',
    reason: 'spam',
    receivedTs: 10,
  });
  await storage.reports.add({ reporter: bob, roomId: '!b:x', eventId: '$2', receivedTs: 20 });
  await storage.reports.add({
    reporter: alice,
    roomId: '!a:x',
    reason: 'bad room',
    receivedTs: 30,
  });
  await storage.reports.add({ reporter: bob, userId: carol, reason: 'rude', receivedTs: 40 });
}

const page = { from: 0, limit: 10, dir: 'f' as const };

for (const backend of storageBackends()) {
  describe(`content reports for admins (${backend.name})`, () => {
    it('lists each kind apart, oldest or newest first, with totals over pages', () =>
      withStorage(backend, async (storage) => {
        await addReports(storage);
        const events = await storage.reports.list({ kind: 'event', ...page });
        assert.deepEqual(
          events.reports.map((r) => [r.eventId, r.reporter, r.reason, r.receivedTs]),
          [
            ['$1', alice, 'spam', 10],
            ['$2', bob, null, 20],
          ],
        );
        assert.equal(events.total, 2);
        // The reported events are not stored here: no sender is known.
        assert.equal(events.reports[0]!.eventSender, null);
        const rooms = await storage.reports.list({ kind: 'room', ...page });
        assert.deepEqual(
          rooms.reports.map((r) => [r.roomId, r.eventId, r.reason]),
          [['!a:x', null, 'bad room']],
        );
        const users = await storage.reports.list({ kind: 'user', ...page });
        assert.deepEqual(
          users.reports.map((r) => [r.userId, r.reporter]),
          [[carol, bob]],
        );
        const newest = await storage.reports.list({ kind: 'event', from: 1, limit: 1, dir: 'b' });
        assert.deepEqual(
          newest.reports.map((r) => r.eventId),
          ['$1'],
        );
        assert.equal(newest.total, 2);
      }));

    it('filters by reporter, room and target user', () =>
      withStorage(backend, async (storage) => {
        await addReports(storage);
        const byAlice = await storage.reports.list({ kind: 'event', ...page, reporter: alice });
        assert.deepEqual(
          byAlice.reports.map((r) => r.eventId),
          ['$1'],
        );
        assert.equal(byAlice.total, 1);
        const inB = await storage.reports.list({ kind: 'event', ...page, roomId: '!b:x' });
        assert.deepEqual(
          inB.reports.map((r) => r.eventId),
          ['$2'],
        );
        const ofCarol = await storage.reports.list({ kind: 'user', ...page, targetUserId: carol });
        assert.equal(ofCarol.total, 1);
        const ofBob = await storage.reports.list({ kind: 'user', ...page, targetUserId: bob });
        assert.equal(ofBob.total, 0);
        const bySender = await storage.reports.list({ kind: 'event', ...page, eventSender: bob });
        assert.equal(bySender.total, 0);
      }));

    it('gets and deletes one report only under its own kind', () =>
      withStorage(backend, async (storage) => {
        await addReports(storage);
        const { reports } = await storage.reports.list({ kind: 'room', ...page });
        const id = reports[0]!.id;
        assert.equal(await storage.reports.get('event', id), undefined);
        assert.equal((await storage.reports.get('room', id))?.reason, 'bad room');
        assert.equal(await storage.reports.delete('user', id), false);
        assert.equal(await storage.reports.delete('room', id), true);
        assert.equal(await storage.reports.get('room', id), undefined);
        assert.equal(await storage.reports.delete('room', id), false);
        assert.equal((await storage.reports.list({ kind: 'event', ...page })).total, 2);
      }));
  });
}
