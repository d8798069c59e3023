/**
 * Contract tests of the federation key store on every backend: keys stored with
 * the response they came in, read by server (all or by ID), replaced only by a
 * response at least as recent, several in one batch, kept on reopen.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServerKeyRecord } from '../../src/storage/storage.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const KEY_A = 'A'.repeat(43);
const KEY_B = 'B'.repeat(43);

function record(overrides: Partial<ServerKeyRecord> = {}): ServerKeyRecord {
  const serverName = overrides.serverName ?? 'remote.example';
  const validUntilTs = overrides.validUntilTs ?? 2_000_000;
  return {
    serverName,
    keyId: 'ed25519:a1',
    publicKey: KEY_A,
    validUntilTs,
    expiredTs: null,
    fetchedTs: 1_000_000,
    // A response as a server signs it: nested objects, a unicode string, big integers.
    response: {
      server_name: serverName,
      valid_until_ts: validUntilTs,
      verify_keys: { 'ed25519:a1': { key: KEY_A } },
      signatures: { [serverName]: { 'ed25519:a1': 'c2lnbmF0dXJl' } },
      note: 'Grüße ✓',
    },
    ...overrides,
  };
}

for (const backend of storageBackends()) {
  describe(`server keys on ${backend.name}`, () => {
    it('stores keys with their response and reads them back, all or by ID', () =>
      withStorage(backend, async (storage, reopen) => {
        const current = record();
        const old = record({ keyId: 'ed25519:old', publicKey: KEY_B, expiredTs: 1_500_000 });
        const other = record({ serverName: 'other.example' });
        await storage.serverKeys.storeKeys([current, old, other]);

        assert.deepEqual(await storage.serverKeys.keysOf('remote.example'), [current, old]);
        assert.deepEqual(await storage.serverKeys.keysOf('remote.example', ['ed25519:old']), [old]);
        assert.deepEqual(
          await storage.serverKeys.keysOf('remote.example', ['ed25519:nope', 'ed25519:a1']),
          [current],
        );
        assert.deepEqual(await storage.serverKeys.keysOf('remote.example', []), []);
        assert.deepEqual(await storage.serverKeys.keysOf('unknown.example'), []);

        const reopened = await reopen();
        assert.deepEqual(await reopened.serverKeys.keysOf('other.example'), [other]);
      }));

    it('lets a response at least as recent replace a key, never an older one', () =>
      withStorage(backend, async (storage) => {
        const first = record({ validUntilTs: 2_000_000 });
        await storage.serverKeys.storeKeys([first]);

        // A notary's stale copy of an earlier response: ignored.
        const stale = record({ validUntilTs: 1_900_000, fetchedTs: 1_100_000, publicKey: KEY_B });
        await storage.serverKeys.storeKeys([stale]);
        assert.deepEqual(await storage.serverKeys.keysOf('remote.example'), [first]);

        // The server's next response moved the key to old_verify_keys: it wins.
        const expired = record({
          validUntilTs: 3_000_000,
          fetchedTs: 1_200_000,
          expiredTs: 1_150_000,
        });
        await storage.serverKeys.storeKeys([expired]);
        assert.deepEqual(await storage.serverKeys.keysOf('remote.example'), [expired]);

        // The same response fetched again (equal valid_until_ts) refreshes fetchedTs.
        const again = { ...expired, fetchedTs: 1_300_000 };
        await storage.serverKeys.storeKeys([again]);
        assert.deepEqual(await storage.serverKeys.keysOf('remote.example'), [again]);
      }));

    it('takes one key twice in a batch, the more recent response winning', () =>
      withStorage(backend, async (storage) => {
        const newer = record({ validUntilTs: 5_000_000 });
        const older = record({ validUntilTs: 4_000_000, publicKey: KEY_B });
        await storage.serverKeys.storeKeys([newer, older]);
        assert.deepEqual(await storage.serverKeys.keysOf('remote.example'), [newer]);
        await storage.serverKeys.storeKeys([]);
        assert.deepEqual(await storage.serverKeys.keysOf('remote.example'), [newer]);
      }));

    it('keeps server names and key IDs apart by exact value', () =>
      withStorage(backend, async (storage) => {
        const lower = record({ keyId: 'ed25519:abc' });
        const upper = record({ keyId: 'ed25519:ABC', publicKey: KEY_B });
        await storage.serverKeys.storeKeys([lower, upper]);
        assert.deepEqual(await storage.serverKeys.keysOf('remote.example', ['ed25519:ABC']), [
          upper,
        ]);
        assert.deepEqual(await storage.serverKeys.keysOf('REMOTE.example'), []);
        // Sorted by code point: upper case first, on both backends.
        assert.deepEqual(
          (await storage.serverKeys.keysOf('remote.example')).map((k) => k.keyId),
          ['ed25519:ABC', 'ed25519:abc'],
        );
      }));
  });
}
