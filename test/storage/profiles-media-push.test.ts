/**
 * Contract tests on every backend of the stores around an account: profiles
 * and their propagation queue, filters, push rules, media, content reports, pushers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { UserPushRules } from '../../src/domain/push-rules.js';
import type { MediaRecord, PusherRecord } from '../../src/storage/storage.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const alice = '@alice:localhost';
const bob = '@bob:localhost';

function pendingMedia(mediaId: string, userId = alice, unusedExpiresTs = 1000): MediaRecord {
  return {
    mediaId,
    userId,
    createdTs: 10,
    unusedExpiresTs,
    upload: null,
    authenticated: true,
    quarantined: false,
  };
}

const upload = {
  uploadTs: 20,
  contentType: 'image/png',
  fileName: 'cat.png',
  size: 1234,
  sha256: 'ab'.repeat(32),
};

function pusher(
  userId: string,
  pushkey: string,
  overrides: Partial<PusherRecord> = {},
): PusherRecord {
  return {
    userId,
    appId: 'org.example.app',
    pushkey,
    kind: 'http',
    deviceId: 'DEV',
    appDisplayName: 'Example',
    deviceDisplayName: 'Phone',
    lang: 'en',
    data: { url: 'https://push.example/_matrix/push/v1/notify', format: 'event_id_only' },
    pushkeyTs: 1_700_000_000,
    lastStreamOrdering: 0,
    ...overrides,
  };
}

for (const backend of storageBackends()) {
  describe(`profiles, media and push on ${backend.name}`, () => {
    describe('profiles', () => {
      it('has no profile until one is set, and keeps it across a reopen', () =>
        withStorage(backend, async (storage, reopen) => {
          assert.equal(await storage.profiles.getProfile(alice), undefined);
          assert.equal(await storage.profiles.getFields(alice), undefined);
          await storage.profiles.setProfile(alice, {
            displayName: 'Alice',
            avatarUrl: 'mxc://x/y',
          });
          storage = await reopen();
          assert.deepEqual(await storage.profiles.getProfile(alice), {
            displayName: 'Alice',
            avatarUrl: 'mxc://x/y',
          });
          await storage.profiles.setProfile(alice, { avatarUrl: 'mxc://x/z' });
          assert.deepEqual(await storage.profiles.getProfile(alice), { avatarUrl: 'mxc://x/z' });
          await storage.profiles.setProfile(bob, {});
          assert.deepEqual(await storage.profiles.getProfile(bob), {});
          assert.deepEqual(await storage.profiles.getFields(bob), {});
        }));

      it('replaces every field, keeping non-name fields through setProfile', () =>
        withStorage(backend, async (storage) => {
          await storage.profiles.setFields(
            alice,
            {
              displayname: 'Alice',
              avatar_url: 'mxc://a/b',
              'm.tz': 'Europe/Paris',
              custom: { n: 1 },
            },
            false,
          );
          assert.deepEqual(await storage.profiles.getFields(alice), {
            displayname: 'Alice',
            avatar_url: 'mxc://a/b',
            'm.tz': 'Europe/Paris',
            custom: { n: 1 },
          });
          assert.deepEqual(await storage.profiles.getProfile(alice), {
            displayName: 'Alice',
            avatarUrl: 'mxc://a/b',
          });
          await storage.profiles.setProfile(alice, { displayName: 'Al' });
          assert.deepEqual(await storage.profiles.getFields(alice), {
            displayname: 'Al',
            'm.tz': 'Europe/Paris',
            custom: { n: 1 },
          });
          // A name that is not a string is not kept; the other fields are replaced whole.
          await storage.profiles.setFields(alice, { displayname: 7, 'm.tz': 'UTC' }, false);
          assert.deepEqual(await storage.profiles.getFields(alice), { 'm.tz': 'UTC' });
          assert.deepEqual(await storage.profiles.getProfile(alice), {});
          assert.deepEqual(await storage.profiles.pendingPropagations(), []);
        }));

      it('queues propagations by generation, cleared only by the newest', () =>
        withStorage(backend, async (storage, reopen) => {
          await storage.profiles.setFields(bob, { displayname: 'Bob' }, true);
          await storage.profiles.setFields(alice, { displayname: 'A1' }, true);
          await storage.profiles.setFields(alice, { displayname: 'A2' }, true);
          storage = await reopen();
          assert.deepEqual(await storage.profiles.pendingPropagations(), [
            { userId: alice, generation: 2 },
            { userId: bob, generation: 1 },
          ]);
          await storage.profiles.finishPropagation(alice, 1);
          assert.equal((await storage.profiles.pendingPropagations()).length, 2);
          await storage.profiles.finishPropagation(alice, 2);
          await storage.profiles.finishPropagation(bob, 1);
          assert.deepEqual(await storage.profiles.pendingPropagations(), []);
          // A change after the queue was cleared starts it again.
          await storage.profiles.setFields(alice, { displayname: 'A3' }, true);
          assert.deepEqual(await storage.profiles.pendingPropagations(), [
            { userId: alice, generation: 1 },
          ]);
        }));

      it('gives concurrent propagated changes a generation each', () =>
        withStorage(backend, async (storage) => {
          await Promise.all(
            Array.from({ length: 10 }, (_, i) =>
              storage.profiles.setFields(alice, { displayname: `A${i}` }, true),
            ),
          );
          assert.deepEqual(await storage.profiles.pendingPropagations(), [
            { userId: alice, generation: 10 },
          ]);
        }));

      it('lists pending propagations in code point order', () =>
        withStorage(backend, async (storage) => {
          for (const user of ['@b:x', '@B:x', '@a:x', '@_:x']) {
            await storage.profiles.setFields(user, {}, true);
          }
          const users = (await storage.profiles.pendingPropagations()).map((p) => p.userId);
          assert.deepEqual(users, ['@B:x', '@_:x', '@a:x', '@b:x']);
        }));
    });

    describe('filters', () => {
      it('numbers filters per user from 1, the same text keeping its ID, across a reopen', () =>
        withStorage(backend, async (storage, reopen) => {
          assert.equal(await storage.filters.add(alice, '{"a":1}'), 1);
          assert.equal(await storage.filters.add(alice, '{"a":2}'), 2);
          assert.equal(await storage.filters.add(alice, '{"a":1}'), 1);
          assert.equal(await storage.filters.add(bob, '{"a":2}'), 1);
          storage = await reopen();
          assert.equal(await storage.filters.get(alice, 1), '{"a":1}');
          assert.equal(await storage.filters.get(alice, 2), '{"a":2}');
          assert.equal(await storage.filters.get(bob, 1), '{"a":2}');
          assert.equal(await storage.filters.get(bob, 2), undefined);
          assert.equal(await storage.filters.get('@nobody:x', 1), undefined);
          assert.equal(await storage.filters.add(alice, '{"a":3}'), 3);
        }));

      it('keeps long texts whole', () =>
        withStorage(backend, async (storage) => {
          const long = JSON.stringify({
            room: { not_rooms: Array.from({ length: 2000 }, (_, i) => `!r${i}:x`) },
          });
          const id = await storage.filters.add(alice, long);
          assert.equal(await storage.filters.get(alice, id), long);
          assert.equal(await storage.filters.add(alice, long), id);
        }));

      it('gives concurrent uploads of one text one ID, of different texts distinct IDs', () =>
        withStorage(backend, async (storage) => {
          const same = await Promise.all(
            Array.from({ length: 8 }, () => storage.filters.add(alice, '{"same":true}')),
          );
          assert.deepEqual(same, Array(8).fill(1));
          const different = await Promise.all(
            Array.from({ length: 8 }, (_, i) => storage.filters.add(alice, `{"n":${i}}`)),
          );
          assert.deepEqual(
            [...different].sort((a, b) => a - b),
            [2, 3, 4, 5, 6, 7, 8, 9],
          );
          for (const [i, id] of different.entries()) {
            assert.equal(await storage.filters.get(alice, id), `{"n":${i}}`);
          }
        }));
    });

    describe('push rules', () => {
      it('stores and replaces a user’s rules whole', () =>
        withStorage(backend, async (storage, reopen) => {
          assert.equal(await storage.pushRules.get(alice), undefined);
          const rules: UserPushRules = {
            custom: {
              override: [],
              content: [
                {
                  rule_id: 'cats',
                  default: false,
                  enabled: true,
                  actions: ['notify'],
                  pattern: 'cat*',
                },
              ],
              room: [],
              sender: [],
              underride: [],
            },
            defaults: { '.m.rule.master': { enabled: true } },
          };
          await storage.pushRules.put(alice, rules);
          storage = await reopen();
          assert.deepEqual(await storage.pushRules.get(alice), rules);
          const replaced: UserPushRules = {
            custom: { override: [], content: [], room: [], sender: [], underride: [] },
            defaults: {},
          };
          await storage.pushRules.put(alice, replaced);
          assert.deepEqual(await storage.pushRules.get(alice), replaced);
          assert.equal(await storage.pushRules.get(bob), undefined);
        }));
    });

    describe('media', () => {
      it('creates an ID once and fills it once', () =>
        withStorage(backend, async (storage, reopen) => {
          assert.equal(await storage.media.create(pendingMedia('m1')), true);
          assert.equal(await storage.media.create({ ...pendingMedia('m1'), userId: bob }), false);
          assert.deepEqual(await storage.media.get('m1'), pendingMedia('m1'));
          assert.equal(await storage.media.completeUpload('m1', upload), true);
          assert.equal(await storage.media.completeUpload('m1', { ...upload, size: 1 }), false);
          assert.equal(await storage.media.completeUpload('unknown', upload), false);
          storage = await reopen();
          assert.deepEqual(await storage.media.get('m1'), {
            ...pendingMedia('m1'),
            unusedExpiresTs: null,
            upload,
          });
          assert.equal(await storage.media.get('unknown'), undefined);
        }));

      it('stores uploaded media with all its fields', () =>
        withStorage(backend, async (storage) => {
          const record: MediaRecord = {
            mediaId: 'up',
            userId: alice,
            createdTs: 5,
            unusedExpiresTs: null,
            upload: { ...upload, fileName: null },
            authenticated: false,
            quarantined: true,
          };
          assert.equal(await storage.media.create(record), true);
          assert.deepEqual(await storage.media.get('up'), record);
        }));

      it('fills a pending ID for exactly one of concurrent uploads', () =>
        withStorage(backend, async (storage) => {
          await storage.media.create(pendingMedia('m'));
          const results = await Promise.all(
            Array.from({ length: 8 }, (_, i) =>
              storage.media.completeUpload('m', { ...upload, size: i }),
            ),
          );
          assert.equal(results.filter(Boolean).length, 1);
          assert.equal((await storage.media.get('m'))?.upload?.size, results.indexOf(true));
          const created = await Promise.all(
            Array.from({ length: 8 }, () => storage.media.create(pendingMedia('new'))),
          );
          assert.equal(created.filter(Boolean).length, 1);
        }));

      it('counts and deletes a user’s pending IDs by when they lapse', () =>
        withStorage(backend, async (storage) => {
          await storage.media.create(pendingMedia('early', alice, 100));
          await storage.media.create(pendingMedia('late', alice, 200));
          await storage.media.create(pendingMedia('filled', alice, 100));
          await storage.media.completeUpload('filled', upload);
          await storage.media.create(pendingMedia('bobs', bob, 100));
          assert.equal(await storage.media.countPending(alice, 99), 2);
          // Lapsed at its expiry time.
          assert.equal(await storage.media.countPending(alice, 100), 1);
          assert.equal(await storage.media.countPending(alice, 200), 0);
          assert.equal(await storage.media.deleteLapsed(alice, 100), 0);
          assert.equal(await storage.media.deleteLapsed(alice, 101), 1);
          assert.equal(await storage.media.get('early'), undefined);
          assert.ok(await storage.media.get('late'));
          assert.ok(await storage.media.get('filled'));
          assert.ok(await storage.media.get('bobs'));
          assert.equal(await storage.media.deleteLapsed(alice, 1000), 1);
          assert.equal(await storage.media.countPending(bob, 0), 1);
        }));

      it('quarantines and deletes media, false for unknown IDs', () =>
        withStorage(backend, async (storage) => {
          await storage.media.create(pendingMedia('m'));
          assert.equal(await storage.media.setQuarantined('m', true), true);
          assert.equal((await storage.media.get('m'))?.quarantined, true);
          assert.equal(await storage.media.setQuarantined('m', false), true);
          assert.equal((await storage.media.get('m'))?.quarantined, false);
          assert.equal(await storage.media.setQuarantined('unknown', true), false);
          assert.equal(await storage.media.delete('m'), true);
          assert.equal(await storage.media.delete('m'), false);
          assert.equal(await storage.media.get('m'), undefined);
        }));
    });

    describe('content reports', () => {
      it('stores reports, with or without their optional fields', () =>
        withStorage(backend, async (storage) => {
          await assert.doesNotReject(
            storage.reports.add({
              reporter: alice,
              roomId: '!r:x',
              eventId: '$e',
              reason: 'spam',
              receivedTs: 1,
            }),
          );
          await assert.doesNotReject(
            storage.reports.add({ reporter: alice, userId: bob, receivedTs: 2 }),
          );
          // Identical reports are distinct rows.
          await assert.doesNotReject(
            storage.reports.add({ reporter: alice, userId: bob, receivedTs: 2 }),
          );
        }));
    });

    describe('pushers', () => {
      it('stores a pusher with its fields and lists a user’s by app ID and pushkey', () =>
        withStorage(backend, async (storage, reopen) => {
          const first = pusher(alice, 'key-b', { profileTag: 'tag' });
          await storage.pushers.put(first, false);
          await storage.pushers.put(pusher(alice, 'key-a', { deviceId: null }), false);
          await storage.pushers.put(pusher(alice, 'key-c', { appId: 'Other' }), false);
          storage = await reopen();
          const listed = await storage.pushers.list(alice);
          assert.deepEqual(
            listed.map((p) => [p.appId, p.pushkey]),
            [
              ['Other', 'key-c'],
              ['org.example.app', 'key-a'],
              ['org.example.app', 'key-b'],
            ],
          );
          assert.deepEqual(listed[2], first);
          assert.equal(listed[1]!.deviceId, null);
          assert.equal('profileTag' in listed[1]!, false);
          assert.deepEqual(await storage.pushers.list(bob), []);
        }));

      it('records progress, and a put starts the pusher afresh', () =>
        withStorage(backend, async (storage) => {
          await storage.pushers.put(pusher(alice, 'k'), false);
          await storage.pushers.setProgress(alice, 'org.example.app', 'k', {
            lastStreamOrdering: 42,
            failingSince: 1000,
            lastError: 'HTTP 500',
          });
          let [stored] = await storage.pushers.list(alice);
          assert.equal(stored!.lastStreamOrdering, 42);
          assert.equal(stored!.failingSince, 1000);
          assert.equal(stored!.lastError, 'HTTP 500');
          await storage.pushers.setProgress(alice, 'org.example.app', 'k', {
            lastStreamOrdering: 43,
          });
          [stored] = await storage.pushers.list(alice);
          assert.deepEqual(stored, { ...pusher(alice, 'k'), lastStreamOrdering: 43 });
          await storage.pushers.setProgress(alice, 'org.example.app', 'k', {
            lastStreamOrdering: 44,
            failingSince: 5,
          });
          const replacement = pusher(alice, 'k', {
            lang: 'fr',
            data: { url: 'https://other' },
            lastStreamOrdering: 50,
          });
          await storage.pushers.put(replacement, false);
          assert.deepEqual(await storage.pushers.list(alice), [replacement]);
          // Progress of an unknown pusher changes nothing.
          await storage.pushers.setProgress(bob, 'org.example.app', 'k', { lastStreamOrdering: 1 });
          assert.deepEqual(await storage.pushers.list(bob), []);
        }));

      it('takes a pushkey from other users unless appending', () =>
        withStorage(backend, async (storage) => {
          await storage.pushers.put(pusher(alice, 'shared'), false);
          await storage.pushers.put(pusher(alice, 'own'), false);
          await storage.pushers.put(pusher(bob, 'shared'), true);
          assert.equal((await storage.pushers.list(alice)).length, 2);
          assert.equal((await storage.pushers.list(bob)).length, 1);
          await storage.pushers.put(pusher(bob, 'shared', { lang: 'de' }), false);
          assert.deepEqual(
            (await storage.pushers.list(alice)).map((p) => p.pushkey),
            ['own'],
          );
          assert.deepEqual(await storage.pushers.list(bob), [
            pusher(bob, 'shared', { lang: 'de' }),
          ]);
          assert.deepEqual(await storage.pushers.usersWithPushers(), [alice, bob]);
        }));

      it('leaves one user with a pushkey that several put at once', () =>
        withStorage(backend, async (storage) => {
          const users = Array.from({ length: 6 }, (_, i) => `@u${i}:localhost`);
          await Promise.all(
            users.map((user) => storage.pushers.put(pusher(user, 'contested'), false)),
          );
          const holders = [];
          for (const user of users) {
            if ((await storage.pushers.list(user)).length > 0) holders.push(user);
          }
          assert.equal(holders.length, 1);
          assert.deepEqual(await storage.pushers.usersWithPushers(), holders);
        }));

      it('deletes a pusher, false when there is none', () =>
        withStorage(backend, async (storage) => {
          await storage.pushers.put(pusher(alice, 'k'), false);
          await storage.pushers.put(pusher(alice, 'k2'), false);
          assert.equal(await storage.pushers.delete(alice, 'org.example.app', 'k'), true);
          assert.equal(await storage.pushers.delete(alice, 'org.example.app', 'k'), false);
          assert.equal(await storage.pushers.delete(bob, 'org.example.app', 'k2'), false);
          assert.deepEqual(
            (await storage.pushers.list(alice)).map((p) => p.pushkey),
            ['k2'],
          );
          assert.equal(await storage.pushers.delete(alice, 'org.example.app', 'k2'), true);
          assert.deepEqual(await storage.pushers.usersWithPushers(), []);
        }));
    });
  });
}
