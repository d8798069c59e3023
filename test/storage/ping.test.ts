/**
 * The storage's ping, on every backend (what GET /health asks): it resolves
 * while the database answers and rejects once the storage is closed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { storageBackends, withStorage } from '../support/storage-backends.js';

for (const backend of storageBackends()) {
  describe(`ping on ${backend.name}`, () => {
    it('resolves while the database answers, again after a reopen', () =>
      withStorage(backend, async (storage, reopen) => {
        assert.equal(await storage.ping(), undefined);
        await Promise.all([storage.ping(), storage.ping(), storage.ping()]);
        const reopened = await reopen();
        await reopened.ping();
      }));

    it('rejects once the storage is closed', async () => {
      const database = await backend.create();
      const storage = await database.open();
      try {
        await storage.ping();
      } finally {
        await storage.close();
      }
      try {
        await assert.rejects(storage.ping());
      } finally {
        await database.drop();
      }
    });
  });
}
