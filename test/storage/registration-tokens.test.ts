/**
 * Contract tests of registration token storage on every backend: CRUD, and
 * the reservations the UIA stage takes (never past uses_allowed, concurrent
 * ones included), completed at registration, given back when they expire.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RegistrationToken } from '../../src/domain/registration-tokens.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const token = (name: string, usesAllowed: number | null, expiryTime: number | null = null) =>
  ({ token: name, usesAllowed, pending: 0, completed: 0, expiryTime }) satisfies RegistrationToken;

for (const backend of storageBackends()) {
  describe(`registration tokens on ${backend.name}`, () => {
    it('creates once, reads, lists, updates given fields, deletes; persists', () =>
      withStorage(backend, async (storage, reopen) => {
        const tokens = storage.registrationTokens;
        assert.equal(await tokens.any(), false);
        assert.equal(await tokens.create(token('b', 3, 5000)), true);
        assert.equal(await tokens.create(token('b', 1)), false);
        assert.equal(await tokens.create(token('a', null)), true);
        assert.equal(await tokens.any(), true);
        assert.deepEqual(await tokens.get('b'), token('b', 3, 5000));
        assert.deepEqual(
          (await tokens.list()).map((t) => t.token),
          ['a', 'b'],
        );
        assert.deepEqual(await tokens.update('b', { usesAllowed: null }), token('b', null, 5000));
        assert.deepEqual(await tokens.update('b', { expiryTime: null }), token('b', null));
        assert.equal(await tokens.update('nope', { usesAllowed: 1 }), undefined);
        const reopened = await reopen();
        assert.deepEqual(await reopened.registrationTokens.get('b'), token('b', null));
        assert.equal(await reopened.registrationTokens.delete('b'), true);
        assert.equal(await reopened.registrationTokens.delete('b'), false);
        assert.equal(await reopened.registrationTokens.get('b'), undefined);
      }));

    it('reserves within uses_allowed, even concurrently; completes; gives back expired ones', () =>
      withStorage(backend, async (storage) => {
        const tokens = storage.registrationTokens;
        await tokens.create(token('one', 1));
        const outcomes = await Promise.all(
          ['s1', 's2', 's3', 's4'].map((s) => tokens.reserve('one', s, 100, 1000)),
        );
        assert.deepEqual(outcomes.filter((o) => o === 'reserved').length, 1);
        assert.deepEqual(outcomes.filter((o) => o === 'unusable').length, 3);
        const holder = `s${outcomes.indexOf('reserved') + 1}`;
        assert.equal(await tokens.reserve('one', holder, 100, 1000), 'reserved', 'kept');
        assert.equal((await tokens.get('one'))?.pending, 1);
        assert.equal(await tokens.reserve('missing', 'x', 100, 1000), 'unknown');

        // The holder's session expires unused: the next reservation gives its use back.
        assert.equal(await tokens.reserve('one', 'late', 1000, 2000), 'reserved');
        assert.deepEqual(await tokens.get('one'), { ...token('one', 1), pending: 1 });
        await tokens.complete('late');
        await tokens.complete('late');
        assert.deepEqual(await tokens.get('one'), { ...token('one', 1), completed: 1 });
        assert.equal(await tokens.reserve('one', 'again', 1500, 3000), 'unusable');

        await tokens.create(token('expiring', null, 500));
        assert.equal(await tokens.reserve('expiring', 'e1', 499, 5000), 'reserved');
        assert.equal(await tokens.reserve('expiring', 'e2', 500, 5000), 'unusable');
      }));
  });
}
