/**
 * Contract tests of the Admin API's media storage on every backend: a user's
 * media paged and ordered, statistics, quarantine (protected media skipped
 * when asked), protection, the bulk deletion's selection. (Room media and
 * avatars need events: test/e2e/admin-media.test.ts covers them.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { MediaRecord } from '../../src/storage/storage.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const alice = '@alice:localhost';
const bob = '@bob:localhost';

function uploaded(mediaId: string, userId: string, ts: number, size: number): MediaRecord {
  return {
    mediaId,
    userId,
    createdTs: ts,
    unusedExpiresTs: null,
    upload: {
      uploadTs: ts,
      contentType: 'text/plain',
      fileName: `${mediaId}.txt`,
      size,
      sha256: 'h',
    },
    authenticated: true,
    quarantined: false,
  };
}

for (const backend of storageBackends()) {
  describe(`media administration on ${backend.name}`, () => {
    it('lists, counts, quarantines, protects and selects for deletion', () =>
      withStorage(backend, async (storage) => {
        for (const record of [
          uploaded('a1', alice, 100, 10),
          uploaded('a2', alice, 200, 30),
          uploaded('a3', alice, 300, 20),
          uploaded('b1', bob, 150, 5),
        ]) {
          assert.equal(await storage.media.create(record), true);
        }
        const admin = storage.mediaAdmin;
        const page = await admin.listOfUser(alice, {
          from: 0,
          limit: 2,
          orderBy: 'media_length',
          dir: 'b',
        });
        assert.equal(page.total, 3);
        assert.deepEqual(
          page.media.map((m) => m.mediaId),
          ['a2', 'a3'],
        );
        assert.deepEqual(page.media[0], {
          mediaId: 'a2',
          userId: alice,
          createdTs: 200,
          contentType: 'text/plain',
          fileName: 'a2.txt',
          size: 30,
          quarantinedBy: null,
          safeFromQuarantine: false,
        });
        assert.deepEqual((await admin.getOne('a2'))?.fileName, 'a2.txt');
        assert.equal(await admin.getOne('nope'), undefined);
        assert.deepEqual((await admin.idsOfUser(bob)).sort(), ['b1']);

        const stats = await admin.statistics({
          from: 0,
          limit: 10,
          orderBy: 'media_count',
          dir: 'b',
          fromTs: 0,
          untilTs: null,
          searchTerm: null,
        });
        assert.equal(stats.total, 2);
        assert.deepEqual(
          stats.users.map((u) => [u.userId, u.mediaCount, u.mediaLength]),
          [
            [alice, 3, 60],
            [bob, 1, 5],
          ],
        );
        const ranged = await admin.statistics({
          from: 0,
          limit: 10,
          orderBy: 'user_id',
          dir: 'f',
          fromTs: 150,
          untilTs: 250,
          searchTerm: 'ali',
        });
        assert.deepEqual(
          ranged.users.map((u) => [u.userId, u.mediaCount]),
          [[alice, 1]],
        );

        assert.equal(await admin.setProtected('a1', true), true);
        assert.equal(await admin.setProtected('nope', true), false);
        assert.equal(await admin.setQuarantinedBy(['a1', 'a2'], '@root:localhost', true), 1);
        assert.equal((await storage.media.get('a2'))?.quarantined, true);
        assert.equal((await storage.media.get('a1'))?.quarantined, false);
        assert.equal(await admin.setQuarantinedBy(['a1'], '@root:localhost', false), 1);
        assert.equal((await storage.media.get('a1'))?.quarantined, true);
        assert.equal(await admin.setQuarantinedBy(['a1', 'a2'], null, false), 2);
        assert.equal((await storage.media.get('a2'))?.quarantined, false);
        assert.equal(await admin.setQuarantinedBy([], 'x', false), 0);

        assert.deepEqual(
          (await admin.idsForBulkDelete({ beforeTs: 250, sizeGt: 5 })).sort(),
          ['a2'],
          'a1 is protected, b1 too small, a3 too new',
        );
      }));
  });
}
