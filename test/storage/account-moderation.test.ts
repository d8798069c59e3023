/**
 * Contract tests of account moderation storage on every backend: the flags
 * (read with the token lookup and the user), user types, rate limit
 * overrides, puppet tokens.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Storage } from '../../src/storage/storage.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const alice = '@alice:localhost';
const nobody = '@nobody:localhost';

async function createAlice(storage: Storage): Promise<void> {
  const created = await storage.users.createUser(
    { userId: alice, passwordHash: 'hash', isGuest: false, isAdmin: false, now: 500 },
    {
      userId: alice,
      deviceId: 'DEV',
      initialDisplayName: null,
      tokenHash: 'tok',
      ip: null,
      now: 500,
    },
  );
  assert.equal(created, true);
}

for (const backend of storageBackends()) {
  describe(`account moderation on ${backend.name}`, () => {
    it('sets only the flags given; the token lookup and the user read them; they persist', () =>
      withStorage(backend, async (storage, reopen) => {
        await createAlice(storage);
        const owner = await storage.tokens.lookup('tok');
        assert.deepEqual(owner, {
          userId: alice,
          deviceId: 'DEV',
          isGuest: false,
          locked: false,
          suspended: false,
          shadowBanned: false,
        });
        assert.equal(await storage.moderation.setFlags(alice, { locked: true }), true);
        assert.equal(await storage.moderation.setFlags(alice, { shadowBanned: true }), true);
        assert.equal(await storage.moderation.setFlags(nobody, { locked: true }), false);
        storage = await reopen();
        const user = await storage.users.getUser(alice);
        assert.deepEqual([user?.locked, user?.suspended, user?.shadowBanned], [true, false, true]);
        const flagged = await storage.tokens.lookup('tok');
        assert.deepEqual(
          [flagged?.locked, flagged?.suspended, flagged?.shadowBanned],
          [true, false, true],
        );
        await storage.moderation.setFlags(alice, { locked: false, suspended: true });
        const listed = (await storage.users.listUsers(listAll)).users[0];
        assert.deepEqual(
          [listed?.locked, listed?.suspended, listed?.shadowBanned],
          [false, true, true],
        );
      }));

    it('sets and clears the user type', () =>
      withStorage(backend, async (storage) => {
        await createAlice(storage);
        assert.equal((await storage.users.getUser(alice))?.userType, null);
        assert.equal(await storage.moderation.setUserType(alice, 'bot'), true);
        assert.equal((await storage.users.getUser(alice))?.userType, 'bot');
        assert.equal((await storage.users.listUsers(listAll)).users[0]?.userType, 'bot');
        assert.equal(await storage.moderation.setUserType(alice, null), true);
        assert.equal((await storage.users.getUser(alice))?.userType, null);
        assert.equal(await storage.moderation.setUserType(nobody, 'bot'), false);
      }));

    it('stores, replaces and deletes rate limit overrides', () =>
      withStorage(backend, async (storage, reopen) => {
        await createAlice(storage);
        assert.equal(await storage.moderation.getRateLimitOverride(alice), undefined);
        await storage.moderation.setRateLimitOverride(alice, {
          messagesPerSecond: 5,
          burstCount: 9,
        });
        await storage.moderation.setRateLimitOverride(alice, {
          messagesPerSecond: 0,
          burstCount: 0,
        });
        storage = await reopen();
        assert.deepEqual(await storage.moderation.getRateLimitOverride(alice), {
          messagesPerSecond: 0,
          burstCount: 0,
        });
        await storage.moderation.deleteRateLimitOverride(alice);
        assert.equal(await storage.moderation.getRateLimitOverride(alice), undefined);
      }));

    it('stores puppet tokens with their expiry, on no device of the user', () =>
      withStorage(backend, async (storage) => {
        await createAlice(storage);
        await storage.moderation.createPuppetToken({
          userId: alice,
          deviceId: 'PUPPET',
          tokenHash: 'puppet',
          validUntilMs: 123_456,
          now: 600,
        });
        await storage.moderation.createPuppetToken({
          userId: alice,
          deviceId: 'PUPPET2',
          tokenHash: 'forever',
          validUntilMs: null,
          now: 600,
        });
        const owner = await storage.tokens.lookup('puppet');
        assert.equal(owner?.deviceId, 'PUPPET');
        assert.equal(owner?.validUntilMs, 123_456);
        const forever = await storage.tokens.lookup('forever');
        assert.equal(forever?.userId, alice);
        assert.equal(forever?.validUntilMs, undefined);
        const devices = (await storage.devices.listDevices(alice)).map((d) => d.deviceId);
        assert.deepEqual(devices, ['DEV']);
        // Logging the puppet token out (deleting its device ID) revokes it alone.
        assert.deepEqual(await storage.devices.deleteDevices(alice, ['PUPPET']), ['puppet']);
        assert.equal(await storage.tokens.lookup('puppet'), undefined);
        assert.equal((await storage.tokens.lookup('tok'))?.deviceId, 'DEV');
      }));

    it('revokes puppet tokens with every other device (logout everywhere) and at deactivation', () =>
      withStorage(backend, async (storage) => {
        await createAlice(storage);
        const puppet = (tokenHash: string) =>
          storage.moderation.createPuppetToken({
            userId: alice,
            deviceId: `P${tokenHash}`,
            tokenHash,
            validUntilMs: null,
            now: 600,
          });
        await puppet('p1');
        assert.deepEqual(await storage.devices.deleteOtherDevices(alice, 'DEV'), ['p1']);
        assert.equal(await storage.tokens.lookup('p1'), undefined);
        assert.equal((await storage.tokens.lookup('tok'))?.deviceId, 'DEV');
        await puppet('p2');
        assert.deepEqual((await storage.users.deactivate(alice)).sort(), ['p2', 'tok']);
        // Reactivating brings no token back.
        assert.equal(await storage.users.reactivate(alice), true);
        assert.equal(await storage.tokens.lookup('p2'), undefined);
      }));
  });
}

const listAll = {
  from: 0,
  limit: 10,
  orderBy: 'name',
  direction: 'f',
  guests: true,
} as const;
