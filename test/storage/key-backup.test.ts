/**
 * Contract tests of the key backup store on every backend: versions, the keys
 * backed up in them, and the etag that guards writes of keys (optimistic
 * concurrency: a write names the etag its choice of keys was read under).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BackupKeyRecord, Storage } from '../../src/storage/storage.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const ALICE = '@alice:test';
const BOB = '@bob:test';
const ALGORITHM = 'm.megolm_backup.v1.curve25519-aes-sha2';

function key(roomId: string, sessionId: string, fields: Partial<BackupKeyRecord> = {}) {
  return {
    roomId,
    sessionId,
    firstMessageIndex: 0,
    forwardedCount: 0,
    isVerified: false,
    sessionDataJson: JSON.stringify({ ciphertext: `${roomId}/${sessionId}` }),
    ...fields,
  };
}

async function etagOf(storage: Storage, version: number): Promise<number> {
  const record = await storage.keyBackup.getVersion(ALICE, version);
  assert.ok(record, `version ${version} exists`);
  return record.etag;
}

/** Writes the keys under the version's current etag; must succeed. */
async function put(storage: Storage, version: number, keys: BackupKeyRecord[]) {
  assert.equal(
    await storage.keyBackup.putKeys(ALICE, version, keys, await etagOf(storage, version)),
    true,
  );
}

const sessionsOf = (keys: BackupKeyRecord[]) => keys.map((k) => `${k.roomId}/${k.sessionId}`);

for (const backend of storageBackends()) {
  describe(`key backup on ${backend.name}`, () => {
    it('numbers versions per user, never reusing one; the highest live one is current', () =>
      withStorage(backend, async (storage, reopen) => {
        assert.equal(await storage.keyBackup.getVersion(ALICE), undefined);
        assert.equal(await storage.keyBackup.createVersion(ALICE, ALGORITHM, '{"a":1}'), 1);
        assert.equal(await storage.keyBackup.createVersion(ALICE, ALGORITHM, '{"a":2}'), 2);
        assert.equal(await storage.keyBackup.createVersion(BOB, 'other', '{}'), 1);
        assert.deepEqual(await storage.keyBackup.getVersion(ALICE), {
          userId: ALICE,
          version: 2,
          algorithm: ALGORITHM,
          authDataJson: '{"a":2}',
          etag: 0,
        });
        assert.equal((await storage.keyBackup.getVersion(ALICE, 1))?.authDataJson, '{"a":1}');
        assert.equal(await storage.keyBackup.getVersion(ALICE, 3), undefined);
        assert.equal(await storage.keyBackup.deleteVersion(ALICE, 2), true);
        assert.equal(await storage.keyBackup.deleteVersion(ALICE, 2), false);
        assert.equal(await storage.keyBackup.deleteVersion(ALICE, 9), false);
        assert.equal(await storage.keyBackup.getVersion(ALICE, 2), undefined);
        assert.equal((await storage.keyBackup.getVersion(ALICE))?.version, 1);
        storage = await reopen();
        assert.equal((await storage.keyBackup.getVersion(ALICE))?.version, 1);
        assert.equal(await storage.keyBackup.createVersion(ALICE, ALGORITHM, '{}'), 3);
        await storage.keyBackup.updateAuthData(ALICE, 1, '{"changed":true}');
        assert.equal(
          (await storage.keyBackup.getVersion(ALICE, 1))?.authDataJson,
          '{"changed":true}',
        );
        assert.equal((await storage.keyBackup.getVersion(BOB))?.algorithm, 'other');
      }));

    it('numbers concurrently created versions one after another', () =>
      withStorage(backend, async (storage) => {
        const versions = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            storage.keyBackup.createVersion(ALICE, ALGORITHM, `{"n":${i}}`),
          ),
        );
        assert.deepEqual(
          [...versions].sort((a, b) => a - b),
          [1, 2, 3, 4, 5, 6, 7, 8],
        );
        assert.equal((await storage.keyBackup.getVersion(ALICE))?.version, 8);
      }));

    it('stores keys under the etag read, bumping it; lists and counts them', () =>
      withStorage(backend, async (storage, reopen) => {
        const version = await storage.keyBackup.createVersion(ALICE, ALGORITHM, '{}');
        const other = await storage.keyBackup.createVersion(ALICE, ALGORITHM, '{}');
        await put(storage, version, [key('!b', 's2'), key('!a', 's9'), key('!b', 's1')]);
        assert.equal(await etagOf(storage, version), 1);
        await put(storage, version, [key('!a', 's1', { isVerified: true, forwardedCount: 2 })]);
        assert.equal(await etagOf(storage, version), 2);
        assert.equal(await etagOf(storage, other), 0);
        storage = await reopen();
        assert.equal(await storage.keyBackup.countKeys(ALICE, version), 4);
        assert.equal(await storage.keyBackup.countKeys(ALICE, other), 0);
        const all = await storage.keyBackup.getKeys(ALICE, version);
        assert.deepEqual(sessionsOf(all), ['!a/s1', '!a/s9', '!b/s1', '!b/s2']);
        assert.deepEqual(all[0], key('!a', 's1', { isVerified: true, forwardedCount: 2 }));
        assert.deepEqual(sessionsOf(await storage.keyBackup.getKeys(ALICE, version, '!b')), [
          '!b/s1',
          '!b/s2',
        ]);
        assert.deepEqual(await storage.keyBackup.getKeys(ALICE, version, '!b', 's2'), [
          key('!b', 's2'),
        ]);
        assert.deepEqual(await storage.keyBackup.getKeys(ALICE, version, '!c'), []);
        assert.deepEqual(await storage.keyBackup.getKeys(ALICE, other), []);
        // Replacing a session's key keeps one row, the new one.
        const better = key('!b', 's2', { firstMessageIndex: 0, sessionDataJson: '{"new":1}' });
        await put(storage, version, [better]);
        assert.deepEqual(await storage.keyBackup.getKeys(ALICE, version, '!b', 's2'), [better]);
        assert.equal(await storage.keyBackup.countKeys(ALICE, version), 4);
      }));

    it('reads the stored keys of the sessions asked', () =>
      withStorage(backend, async (storage) => {
        const version = await storage.keyBackup.createVersion(ALICE, ALGORITHM, '{}');
        await put(storage, version, [key('!a', 's1'), key('!a', 's2'), key('!b', 's1')]);
        const found = await storage.keyBackup.keysOfSessions(ALICE, version, [
          { roomId: '!b', sessionId: 's1' },
          { roomId: '!a', sessionId: 's2' },
          { roomId: '!a', sessionId: 'missing' },
          { roomId: '!c', sessionId: 's1' },
        ]);
        assert.deepEqual(sessionsOf(found).sort(), ['!a/s2', '!b/s1']);
        assert.deepEqual(await storage.keyBackup.keysOfSessions(ALICE, version, []), []);
        assert.deepEqual(
          await storage.keyBackup.keysOfSessions(BOB, version, [{ roomId: '!a', sessionId: 's1' }]),
          [],
        );
      }));

    it('writes nothing under an outdated etag, nor into a deleted version', () =>
      withStorage(backend, async (storage) => {
        const version = await storage.keyBackup.createVersion(ALICE, ALGORITHM, '{}');
        await put(storage, version, [key('!a', 's1')]);
        assert.equal(await storage.keyBackup.putKeys(ALICE, version, [key('!a', 's2')], 0), false);
        assert.equal(await storage.keyBackup.countKeys(ALICE, version), 1);
        assert.equal(await etagOf(storage, version), 1);
        // No keys: nothing written, the etag kept; whether it still matches.
        assert.equal(await storage.keyBackup.putKeys(ALICE, version, [], 1), true);
        assert.equal(await storage.keyBackup.putKeys(ALICE, version, [], 0), false);
        assert.equal(await etagOf(storage, version), 1);
        assert.equal(await storage.keyBackup.putKeys(ALICE, 7, [key('!a', 's2')], 0), false);
        assert.equal(await storage.keyBackup.deleteVersion(ALICE, version), true);
        assert.equal(await storage.keyBackup.putKeys(ALICE, version, [key('!a', 's2')], 1), false);
        assert.equal(await storage.keyBackup.putKeys(ALICE, version, [], 1), false);
        assert.equal(await storage.keyBackup.countKeys(ALICE, version), 0);
      }));

    it('lets one of concurrent writes under the same etag through', () =>
      withStorage(backend, async (storage) => {
        const version = await storage.keyBackup.createVersion(ALICE, ALGORITHM, '{}');
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            storage.keyBackup.putKeys(ALICE, version, [key('!a', `s${i}`), key('!a', 'same')], 0),
          ),
        );
        const winners = results.flatMap((ok, i) => (ok ? [i] : []));
        assert.equal(winners.length, 1);
        assert.equal(await etagOf(storage, version), 1);
        assert.deepEqual(sessionsOf(await storage.keyBackup.getKeys(ALICE, version)), [
          `!a/s${winners[0]}`,
          '!a/same',
        ]);
      }));

    it('deletes keys by scope, bumping the etag each time (no lost bump when concurrent)', () =>
      withStorage(backend, async (storage, reopen) => {
        const version = await storage.keyBackup.createVersion(ALICE, ALGORITHM, '{}');
        const other = await storage.keyBackup.createVersion(ALICE, ALGORITHM, '{}');
        const keys = [key('!a', 's1'), key('!a', 's2'), key('!b', 's1'), key('!c', 's1')];
        await put(storage, version, keys);
        await put(storage, other, keys);
        await storage.keyBackup.deleteKeys(ALICE, version, '!a', 's1');
        assert.deepEqual(sessionsOf(await storage.keyBackup.getKeys(ALICE, version)), [
          '!a/s2',
          '!b/s1',
          '!c/s1',
        ]);
        await storage.keyBackup.deleteKeys(ALICE, version, '!b');
        assert.deepEqual(sessionsOf(await storage.keyBackup.getKeys(ALICE, version)), [
          '!a/s2',
          '!c/s1',
        ]);
        assert.equal(await etagOf(storage, version), 3);
        await Promise.all(
          Array.from({ length: 6 }, () => storage.keyBackup.deleteKeys(ALICE, version)),
        );
        storage = await reopen();
        assert.equal(await storage.keyBackup.countKeys(ALICE, version), 0);
        assert.equal(await etagOf(storage, version), 9);
        assert.equal(await storage.keyBackup.countKeys(ALICE, other), 4);
        // Deleting a version deletes its keys.
        assert.equal(await storage.keyBackup.deleteVersion(ALICE, other), true);
        assert.equal(await storage.keyBackup.countKeys(ALICE, other), 0);
        assert.deepEqual(await storage.keyBackup.getKeys(ALICE, other), []);
      }));
  });
}
