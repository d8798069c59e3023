/**
 * Contract tests of the account stores on every backend: users, devices and
 * their tokens, login tokens, UIA sessions, deactivation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NewSession, NewUser, Storage, UserListQuery } from '../../src/storage/storage.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const alice = '@alice:localhost';
const bob = '@bob:localhost';

function session(userId: string, deviceId: string, tokenHash: string, now = 1000): NewSession {
  return {
    userId,
    deviceId,
    initialDisplayName: `${deviceId} name`,
    tokenHash,
    ip: '10.0.0.1',
    now,
  };
}

async function createUser(storage: Storage, userId: string, ...sessions: NewSession[]) {
  const [first, ...others] = sessions;
  const created = await storage.users.createUser(
    { userId, passwordHash: 'hash', isGuest: false, isAdmin: false, now: 500 },
    first,
  );
  assert.equal(created, true);
  for (const s of others) await storage.tokens.createSession(s);
}

/** Gives the device keys, a one-time key and a queued to-device message. */
async function giveDeviceData(storage: Storage, userId: string, deviceId: string) {
  const upload = await storage.e2eeKeys.uploadKeys({
    userId,
    deviceId,
    deviceKeysJson: JSON.stringify({ user_id: userId, device_id: deviceId, keys: {} }),
    oneTimeKeys: [{ algorithm: 'signed_curve25519', keyId: 'AAAA', keyJson: '{"key":"a"}' }],
    fallbackKeys: [],
  });
  assert.equal(upload.ok, true);
  const queued = await storage.toDevice.enqueue(
    { userId: bob, deviceId: 'BOBDEV', endpoint: 'sendToDevice', txnId: `${userId}${deviceId}` },
    [{ recipient: { userId, deviceId }, messageJson: '{"type":"m.test"}' }],
  );
  assert.ok(queued);
}

async function deviceDataOf(storage: Storage, userId: string, deviceId: string) {
  const keys = await storage.e2eeKeys.deviceKeys(userId, [deviceId]);
  const oneTimeKeys = await storage.e2eeKeys.oneTimeKeyCounts(userId, deviceId);
  const upTo = await storage.toDevice.maxPosition();
  const messages = await storage.toDevice.pending({ userId, deviceId }, 0, upTo, 100);
  return {
    keys: keys.length,
    oneTimeKeys: oneTimeKeys.signed_curve25519 ?? 0,
    messages: messages.length,
  };
}

function pusher(userId: string, deviceId: string | null, pushkey: string) {
  return {
    userId,
    appId: 'app',
    pushkey,
    kind: 'http',
    deviceId,
    appDisplayName: 'App',
    deviceDisplayName: 'Phone',
    lang: 'en',
    data: { url: 'https://push.example/_matrix/push/v1/notify' },
    pushkeyTs: 1,
    lastStreamOrdering: 0,
  };
}

for (const backend of storageBackends()) {
  describe(`accounts on ${backend.name}`, () => {
    describe('users', () => {
      it('creates a user once, with its profile and first session, and keeps it across a reopen', () =>
        withStorage(backend, async (storage, reopen) => {
          const created = await storage.users.createUser(
            {
              userId: alice,
              passwordHash: 'h1',
              isGuest: false,
              isAdmin: true,
              now: 42,
              displayName: 'Alice',
            },
            session(alice, 'DEV1', 'token1'),
          );
          assert.equal(created, true);
          const again = await storage.users.createUser(
            { userId: alice, passwordHash: 'h2', isGuest: true, isAdmin: false, now: 43 },
            session(alice, 'DEV2', 'token2'),
          );
          assert.equal(again, false);
          const expected = {
            userId: alice,
            passwordHash: 'h1',
            isGuest: false,
            isAdmin: true,
            deactivated: false,
            createdTs: 42,
            locked: false,
            suspended: false,
            shadowBanned: false,
            userType: null,
          };
          assert.deepEqual(await storage.users.getUser(alice), expected);
          assert.deepEqual(await storage.profiles.getProfile(alice), { displayName: 'Alice' });
          // The refused creation stored nothing of its session.
          assert.deepEqual(
            (await storage.devices.listDevices(alice)).map((d) => d.deviceId),
            ['DEV1'],
          );
          assert.equal(await storage.tokens.lookup('token2'), undefined);
          storage = await reopen();
          assert.deepEqual(await storage.users.getUser(alice), expected);
          assert.deepEqual(await storage.tokens.lookup('token1'), {
            userId: alice,
            deviceId: 'DEV1',
            isGuest: false,
            locked: false,
            suspended: false,
            shadowBanned: false,
          });
          assert.equal(await storage.users.getUser(bob), undefined);
        }));

      it('creates a user without profile or session when none is given', () =>
        withStorage(backend, async (storage) => {
          await createUser(storage, bob);
          assert.equal(await storage.profiles.getProfile(bob), undefined);
          assert.deepEqual(await storage.devices.listDevices(bob), []);
        }));

      it('lets exactly one of concurrent creations of an ID succeed, with its session only', () =>
        withStorage(backend, async (storage) => {
          const results = await Promise.all(
            Array.from({ length: 8 }, (_, i) =>
              storage.users.createUser(
                { userId: alice, passwordHash: `h${i}`, isGuest: false, isAdmin: false, now: i },
                session(alice, `DEV${i}`, `token${i}`),
              ),
            ),
          );
          assert.equal(results.filter(Boolean).length, 1);
          const winner = results.indexOf(true);
          assert.equal((await storage.users.getUser(alice))?.passwordHash, `h${winner}`);
          assert.deepEqual(
            (await storage.devices.listDevices(alice)).map((d) => d.deviceId),
            [`DEV${winner}`],
          );
        }));

      it('counts guest numbers up, distinct under concurrency and across a reopen', () =>
        withStorage(backend, async (storage, reopen) => {
          assert.equal(await storage.users.nextGuestNumber(), 1);
          assert.equal(await storage.users.nextGuestNumber(), 2);
          const concurrent = await Promise.all(
            Array.from({ length: 20 }, () => storage.users.nextGuestNumber()),
          );
          assert.deepEqual(
            [...concurrent].sort((a, b) => a - b),
            Array.from({ length: 20 }, (_, i) => i + 3),
          );
          storage = await reopen();
          assert.equal(await storage.users.nextGuestNumber(), 23);
        }));

      it('changes the password hash and upgrades a guest', () =>
        withStorage(backend, async (storage) => {
          await storage.users.createUser(
            { userId: alice, passwordHash: null, isGuest: true, isAdmin: false, now: 1 },
            session(alice, 'DEV', 'token'),
          );
          assert.equal((await storage.tokens.lookup('token'))?.isGuest, true);
          await storage.users.upgradeGuest(alice, 'upgraded');
          let user = await storage.users.getUser(alice);
          assert.equal(user?.isGuest, false);
          assert.equal(user?.passwordHash, 'upgraded');
          assert.equal((await storage.tokens.lookup('token'))?.isGuest, false);
          await storage.users.setPasswordHash(alice, 'changed');
          user = await storage.users.getUser(alice);
          assert.equal(user?.passwordHash, 'changed');
          await storage.users.upgradeGuest(alice, null);
          assert.equal((await storage.users.getUser(alice))?.passwordHash, null);
          // Unknown users: nothing happens, nothing is created.
          await storage.users.setPasswordHash(bob, 'x');
          await storage.users.upgradeGuest(bob, 'x');
          assert.equal(await storage.users.getUser(bob), undefined);
        }));
    });

    describe('sessions and devices', () => {
      it('creates a device with its first session and keeps it for the next, revoking its earlier token', () =>
        withStorage(backend, async (storage) => {
          await createUser(storage, alice, session(alice, 'DEV', 'first', 1000));
          assert.deepEqual(await storage.devices.getDevice(alice, 'DEV'), {
            userId: alice,
            deviceId: 'DEV',
            displayName: 'DEV name',
            lastSeenTs: 1000,
            lastSeenIp: '10.0.0.1',
            lastSeenUserAgent: null,
          });
          const revoked = await storage.tokens.createSession({
            ...session(alice, 'DEV', 'second', 2000),
            initialDisplayName: 'ignored',
            ip: '10.0.0.2',
          });
          assert.deepEqual(revoked, ['first']);
          assert.deepEqual(await storage.devices.getDevice(alice, 'DEV'), {
            userId: alice,
            deviceId: 'DEV',
            displayName: 'DEV name',
            lastSeenTs: 2000,
            lastSeenIp: '10.0.0.2',
            lastSeenUserAgent: null,
          });
          assert.equal(await storage.tokens.lookup('first'), undefined);
          assert.equal((await storage.tokens.lookup('second'))?.deviceId, 'DEV');
          // Another device's session revokes nothing of this one.
          assert.deepEqual(
            await storage.tokens.createSession(session(alice, 'OTHER', 'third')),
            [],
          );
          assert.equal((await storage.tokens.lookup('second'))?.deviceId, 'DEV');
          assert.equal(await storage.tokens.lookup('unknown'), undefined);
        }));

      it('lists devices by device ID in code point order', () =>
        withStorage(backend, async (storage) => {
          const ids = ['b', 'B', 'a', 'Z', '_x', 'é'];
          await createUser(storage, alice, ...ids.map((id, i) => session(alice, id, `t${i}`)));
          await createUser(storage, bob, session(bob, 'BOBDEV', 'tb'));
          const listed = (await storage.devices.listDevices(alice)).map((d) => d.deviceId);
          assert.deepEqual(listed, ['B', 'Z', '_x', 'a', 'b', 'é']);
          assert.deepEqual(await storage.devices.listDevices('@nobody:localhost'), []);
          assert.equal(await storage.devices.getDevice(alice, 'BOBDEV'), undefined);
        }));

      it('renames a device, false for an unknown one', () =>
        withStorage(backend, async (storage) => {
          await createUser(storage, alice, session(alice, 'DEV', 't'));
          assert.equal(await storage.devices.setDisplayName(alice, 'DEV', 'Laptop'), true);
          assert.equal((await storage.devices.getDevice(alice, 'DEV'))?.displayName, 'Laptop');
          assert.equal(await storage.devices.setDisplayName(alice, 'DEV', null), true);
          assert.equal((await storage.devices.getDevice(alice, 'DEV'))?.displayName, null);
          assert.equal(await storage.devices.setDisplayName(alice, 'NOPE', 'x'), false);
          assert.equal(await storage.devices.setDisplayName(bob, 'DEV', 'x'), false);
        }));

      it('records last seen times, IPs and user agents, the last entry of a device winning, unknown devices ignored', () =>
        withStorage(backend, async (storage) => {
          await createUser(storage, alice, session(alice, 'D1', 't1'), session(alice, 'D2', 't2'));
          assert.equal((await storage.devices.getDevice(alice, 'D1'))?.lastSeenUserAgent, null);
          await storage.devices.recordLastSeen([]);
          await storage.devices.recordLastSeen([
            { userId: alice, deviceId: 'D1', ts: 5000, ip: '1.1.1.1', userAgent: 'Old/1' },
            { userId: alice, deviceId: 'D2', ts: 6000, ip: '2.2.2.2', userAgent: null },
            { userId: alice, deviceId: 'D1', ts: 7000, ip: '3.3.3.3', userAgent: 'Element/2' },
            { userId: alice, deviceId: 'GONE', ts: 8000, ip: '4.4.4.4', userAgent: 'x' },
          ]);
          const seen = (await storage.devices.listDevices(alice)).map((d) => [
            d.deviceId,
            d.lastSeenTs,
            d.lastSeenIp,
            d.lastSeenUserAgent,
          ]);
          assert.deepEqual(seen, [
            ['D1', 7000, '3.3.3.3', 'Element/2'],
            ['D2', 6000, '2.2.2.2', null],
          ]);
          assert.equal(await storage.devices.getDevice(alice, 'GONE'), undefined);
        }));

      it('deletes devices with their tokens, keys, to-device messages and pushers, recording device list changes', () =>
        withStorage(backend, async (storage, reopen) => {
          await createUser(
            storage,
            alice,
            session(alice, 'D1', 't1'),
            session(alice, 'D2', 't2'),
            session(alice, 'D3', 't3'),
          );
          await createUser(storage, bob, session(bob, 'BOBDEV', 'tb'));
          for (const device of ['D1', 'D2', 'D3']) await giveDeviceData(storage, alice, device);
          await storage.pushers.put(pusher(alice, 'D1', 'key1'), false);
          await storage.pushers.put(pusher(alice, 'D3', 'key3'), false);
          const before = await storage.deviceLists.maxPosition();

          const revoked = await storage.devices.deleteDevices(alice, ['D3', 'UNKNOWN', 'D1', 'D1']);
          assert.deepEqual(revoked, ['t3', 't1']);
          assert.deepEqual(
            (await storage.devices.listDevices(alice)).map((d) => d.deviceId),
            ['D2'],
          );
          assert.equal(await storage.tokens.lookup('t1'), undefined);
          assert.equal(await storage.tokens.lookup('t3'), undefined);
          assert.equal((await storage.tokens.lookup('t2'))?.deviceId, 'D2');
          assert.deepEqual(await deviceDataOf(storage, alice, 'D1'), {
            keys: 0,
            oneTimeKeys: 0,
            messages: 0,
          });
          assert.deepEqual(await deviceDataOf(storage, alice, 'D3'), {
            keys: 0,
            oneTimeKeys: 0,
            messages: 0,
          });
          assert.deepEqual(await deviceDataOf(storage, alice, 'D2'), {
            keys: 1,
            oneTimeKeys: 1,
            messages: 1,
          });
          assert.deepEqual(
            (await storage.pushers.list(alice)).map((p) => p.pushkey),
            [],
          );
          const after = await storage.deviceLists.maxPosition();
          assert.ok(after >= before + 2, `two device list changes after ${before}, got ${after}`);
          assert.equal(await storage.deviceLists.latestChangeOf(alice), after);
          assert.deepEqual(await storage.deviceLists.changedUsers(alice, before, after), [alice]);

          storage = await reopen();
          assert.deepEqual(
            (await storage.devices.listDevices(alice)).map((d) => d.deviceId),
            ['D2'],
          );
          assert.equal(await storage.deviceLists.maxPosition(), after);
          // Nothing left to delete: nothing revoked, no change recorded.
          assert.deepEqual(await storage.devices.deleteDevices(alice, ['D1']), []);
          assert.deepEqual(await storage.devices.deleteDevices(alice, []), []);
          assert.equal(await storage.deviceLists.latestChangeOf(alice), after);
        }));

      it('deletes every device but the one kept, or all of them', () =>
        withStorage(backend, async (storage) => {
          await createUser(
            storage,
            alice,
            session(alice, 'D2', 't2'),
            session(alice, 'D1', 't1'),
            session(alice, 'D3', 't3'),
          );
          await createUser(storage, bob, session(bob, 'D1', 'tb'));
          await storage.pushers.put(pusher(alice, 'D2', 'key2'), false);
          await storage.pushers.put(pusher(alice, null, 'unowned'), false);
          assert.deepEqual(await storage.devices.deleteOtherDevices(alice, 'D2'), ['t1', 't3']);
          assert.deepEqual(
            (await storage.devices.listDevices(alice)).map((d) => d.deviceId),
            ['D2'],
          );
          assert.deepEqual(await storage.devices.deleteOtherDevices(alice, 'D2'), []);
          assert.deepEqual(await storage.devices.deleteOtherDevices(alice, null), ['t2']);
          assert.deepEqual(await storage.devices.listDevices(alice), []);
          // A pusher set without a device stays; the device's went with it.
          assert.deepEqual(
            (await storage.pushers.list(alice)).map((p) => p.pushkey),
            ['unowned'],
          );
          assert.equal((await storage.tokens.lookup('tb'))?.userId, bob);
        }));

      it('deletes a device once when deletions race, and none that a racing session creates', () =>
        withStorage(backend, async (storage) => {
          await createUser(storage, alice, session(alice, 'D1', 't1'), session(alice, 'D2', 't2'));
          const results = await Promise.all([
            storage.devices.deleteDevices(alice, ['D1', 'D2']),
            storage.devices.deleteDevices(alice, ['D2', 'D1']),
            storage.devices.deleteOtherDevices(alice, null),
            storage.tokens.createSession(session(alice, 'D3', 't3')),
          ]);
          const revoked = results.slice(0, 3).flat().sort();
          assert.deepEqual(
            revoked.filter((hash) => hash !== 't3'),
            ['t1', 't2'],
          );
          const left = (await storage.devices.listDevices(alice)).map((d) => d.deviceId);
          // D3 went only if a deletion ran after its creation, and then its token with it.
          assert.deepEqual(left, revoked.includes('t3') ? [] : ['D3']);
          // Each deleted device's change is recorded and readable (positions a deletion
          // took but did not need may stay gaps in the stream).
          const position = await storage.deviceLists.maxPosition();
          const latest = await storage.deviceLists.latestChangeOf(alice);
          assert.ok(latest !== undefined && latest <= position);
          assert.deepEqual(await storage.deviceLists.changedUsers(alice, 0, position), [alice]);
        }));
    });

    describe('deactivation', () => {
      it('marks the user deactivated, removes devices and tokens, queues the leaves', () =>
        withStorage(backend, async (storage, reopen) => {
          await createUser(storage, alice, session(alice, 'D2', 't2'), session(alice, 'D1', 't1'));
          await createUser(storage, bob, session(bob, 'BOBDEV', 'tb'));
          await giveDeviceData(storage, alice, 'D1');
          const before = await storage.deviceLists.maxPosition();
          assert.deepEqual(await storage.users.deactivate(alice), ['t1', 't2']);
          assert.equal((await storage.users.getUser(alice))?.deactivated, true);
          assert.deepEqual(await storage.devices.listDevices(alice), []);
          assert.equal(await storage.tokens.lookup('t1'), undefined);
          assert.deepEqual(await deviceDataOf(storage, alice, 'D1'), {
            keys: 0,
            oneTimeKeys: 0,
            messages: 0,
          });
          assert.ok((await storage.deviceLists.latestChangeOf(alice))! > before);
          // A session created afterwards does not authenticate a deactivated user.
          await storage.tokens.createSession(session(alice, 'LATE', 'late'));
          assert.equal(await storage.tokens.lookup('late'), undefined);

          await storage.users.deactivate(bob);
          assert.deepEqual(await storage.users.deactivate(bob), []);
          storage = await reopen();
          assert.deepEqual(await storage.users.pendingDeactivationLeaves(), [alice, bob]);
          await storage.users.finishDeactivationLeaves(alice);
          assert.deepEqual(await storage.users.pendingDeactivationLeaves(), [bob]);
          await storage.users.finishDeactivationLeaves('@unknown:localhost');
          assert.deepEqual(await storage.users.pendingDeactivationLeaves(), [bob]);
          assert.equal((await storage.users.getUser(alice))?.deactivated, true);
        }));

      it('lists pending leaves in code point order', () =>
        withStorage(backend, async (storage) => {
          const users = ['@b:localhost', '@B:localhost', '@a:localhost', '@_:localhost'];
          for (const user of users) {
            await createUser(storage, user);
            await storage.users.deactivate(user);
          }
          assert.deepEqual(await storage.users.pendingDeactivationLeaves(), [
            '@B:localhost',
            '@_:localhost',
            '@a:localhost',
            '@b:localhost',
          ]);
        }));
    });

    describe('login tokens', () => {
      it('consumes a token once, until it expires', () =>
        withStorage(backend, async (storage, reopen) => {
          await storage.loginTokens.add('n1', alice, 2000);
          await storage.loginTokens.add('n2', bob, 2000);
          await storage.loginTokens.add('n3', bob, 1000);
          storage = await reopen();
          assert.equal(await storage.loginTokens.consume('n1', 2000), alice);
          assert.equal(await storage.loginTokens.consume('n1', 2000), undefined);
          assert.equal(await storage.loginTokens.consume('unknown', 0), undefined);
          assert.equal(await storage.loginTokens.consume('n3', 1001), undefined);
          // Expired and purged: not there even for a consumer that is earlier.
          assert.equal(await storage.loginTokens.consume('n3', 0), undefined);
          assert.equal(await storage.loginTokens.consume('n2', 1500), bob);
        }));

      it('gives a token to exactly one of concurrent consumers', () =>
        withStorage(backend, async (storage) => {
          await storage.loginTokens.add('nonce', alice, 10_000);
          const results = await Promise.all(
            Array.from({ length: 8 }, () => storage.loginTokens.consume('nonce', 1)),
          );
          assert.deepEqual(
            results.filter((r) => r !== undefined),
            [alice],
          );
        }));
    });

    describe('UIA sessions', () => {
      const uia = {
        sessionId: 'S1',
        userId: alice,
        operation: 'POST /account/password',
        flows: [['m.login.password'], ['m.login.sso', 'm.login.dummy']],
        completed: [],
        expiresTs: 5000,
      };

      it('stores a session until it expires, with its completed stages', () =>
        withStorage(backend, async (storage, reopen) => {
          await storage.uia.create(uia);
          await storage.uia.create({ ...uia, sessionId: 'S2', userId: null, completed: ['x'] });
          assert.deepEqual(await storage.uia.get('S1', 5000), uia);
          assert.equal(await storage.uia.get('S1', 5001), undefined);
          await storage.uia.setCompleted('S1', ['m.login.sso']);
          await storage.uia.setCompleted('UNKNOWN', ['m.login.sso']);
          storage = await reopen();
          assert.deepEqual(await storage.uia.get('S1', 0), { ...uia, completed: ['m.login.sso'] });
          assert.deepEqual(await storage.uia.get('S2', 0), {
            ...uia,
            sessionId: 'S2',
            userId: null,
            completed: ['x'],
          });
          assert.equal(await storage.uia.get('UNKNOWN', 0), undefined);
          await storage.uia.delete('S2');
          assert.equal(await storage.uia.get('S2', 0), undefined);
        }));

      it('purges only expired sessions', () =>
        withStorage(backend, async (storage) => {
          await storage.uia.create(uia);
          await storage.uia.create({ ...uia, sessionId: 'LATER', expiresTs: 9000 });
          await storage.uia.purgeExpired(5000);
          assert.ok(await storage.uia.get('S1', 0));
          await storage.uia.purgeExpired(5001);
          assert.equal(await storage.uia.get('S1', 0), undefined);
          assert.ok(await storage.uia.get('LATER', 0));
        }));
    });

    describe('user list and admin flag (Admin API)', () => {
      const query = (over: Partial<UserListQuery> = {}): UserListQuery => ({
        from: 0,
        limit: 100,
        guests: true,
        deactivated: false,
        orderBy: 'name',
        direction: 'f',
        ...over,
      });
      const ids = async (storage: Storage, over: Partial<UserListQuery> = {}) =>
        (await storage.users.listUsers(query(over))).users.map((u) => u.userId);

      /** alice (admin, "Alice A", avatar), bob ("zed"), @7 (guest, no profile), carol (deactivated). */
      async function seed(storage: Storage) {
        const add = (userId: string, now: number, over: Partial<NewUser> = {}) =>
          storage.users.createUser({
            userId,
            passwordHash: null,
            isGuest: false,
            isAdmin: false,
            now,
            ...over,
          });
        await add(alice, 30, { isAdmin: true, displayName: 'Alice A' });
        await storage.profiles.setProfile(alice, {
          displayName: 'Alice A',
          avatarUrl: 'mxc://localhost/a',
        });
        await add(bob, 10, { displayName: 'zed' });
        await add('@7:localhost', 20, { isGuest: true });
        await add('@carol:localhost', 40, { displayName: 'Carol' });
        await storage.users.deactivate('@carol:localhost');
      }

      it('lists users with their profiles; deactivated ones too, or only them, when asked', () =>
        withStorage(backend, async (storage) => {
          await seed(storage);
          const page = await storage.users.listUsers(query());
          assert.equal(page.total, 3);
          assert.deepEqual(page.users, [
            {
              userId: '@7:localhost',
              isGuest: true,
              isAdmin: false,
              deactivated: false,
              createdTs: 20,
              displayName: null,
              avatarUrl: null,
              locked: false,
              suspended: false,
              shadowBanned: false,
              userType: null,
            },
            {
              userId: alice,
              isGuest: false,
              isAdmin: true,
              deactivated: false,
              createdTs: 30,
              displayName: 'Alice A',
              avatarUrl: 'mxc://localhost/a',
              locked: false,
              suspended: false,
              shadowBanned: false,
              userType: null,
            },
            {
              userId: bob,
              isGuest: false,
              isAdmin: false,
              deactivated: false,
              createdTs: 10,
              displayName: 'zed',
              avatarUrl: null,
              locked: false,
              suspended: false,
              shadowBanned: false,
              userType: null,
            },
          ]);
          const all = await storage.users.listUsers(query({ deactivated: undefined }));
          assert.equal(all.total, 4);
          assert.deepEqual(
            all.users.map((u) => [u.userId, u.deactivated]),
            [
              ['@7:localhost', false],
              [alice, false],
              [bob, false],
              ['@carol:localhost', true],
            ],
          );
          const onlyDeactivated = await storage.users.listUsers(query({ deactivated: true }));
          assert.equal(onlyDeactivated.total, 1);
          assert.deepEqual(
            onlyDeactivated.users.map((u) => u.userId),
            ['@carol:localhost'],
          );
        }));

      it('filters by user ID, by localpart or display name, guests and admins', () =>
        withStorage(backend, async (storage) => {
          await seed(storage);
          assert.deepEqual(await ids(storage, { userIdContains: 'LI' }), [alice]);
          // The server name is part of the user ID, not of the localpart.
          assert.equal((await ids(storage, { userIdContains: 'localhost' })).length, 3);
          assert.deepEqual(await ids(storage, { nameContains: 'localhost' }), []);
          assert.deepEqual(await ids(storage, { nameContains: 'ZE' }), [bob]);
          assert.deepEqual(await ids(storage, { nameContains: 'CE A' }), [alice]);
          assert.deepEqual(await ids(storage, { nameContains: 'caro', deactivated: true }), [
            '@carol:localhost',
          ]);
          assert.deepEqual(await ids(storage, { guests: false }), [alice, bob]);
          assert.deepEqual(await ids(storage, { admins: true }), [alice]);
          assert.deepEqual(await ids(storage, { admins: false }), ['@7:localhost', bob]);
          // LIKE wildcards are plain characters.
          assert.deepEqual(await ids(storage, { userIdContains: '%' }), []);
          assert.deepEqual(await ids(storage, { nameContains: '_' }), []);
        }));

      it('orders by each column both ways, ties by user ID, missing values last', () =>
        withStorage(backend, async (storage) => {
          await seed(storage);
          const seven = '@7:localhost';
          const order = (orderBy: UserListQuery['orderBy'], direction: 'f' | 'b' = 'f') =>
            ids(storage, { orderBy, direction });
          assert.deepEqual(await order('name', 'b'), [bob, alice, seven]);
          // Bytewise: "Alice A" < "zed"; the guest has no name.
          assert.deepEqual(await order('displayname'), [alice, bob, seven]);
          assert.deepEqual(await order('displayname', 'b'), [seven, bob, alice]);
          assert.deepEqual(await order('avatar_url'), [alice, seven, bob]);
          assert.deepEqual(await order('creation_ts'), [bob, seven, alice]);
          assert.deepEqual(await order('creation_ts', 'b'), [alice, seven, bob]);
          assert.deepEqual(await order('admin'), [seven, bob, alice]);
          assert.deepEqual(await order('admin', 'b'), [alice, seven, bob]);
          assert.deepEqual(await order('is_guest', 'b'), [seven, alice, bob]);
          assert.deepEqual(await order('deactivated'), [seven, alice, bob]);
        }));

      it('pages with from and limit; the total counts every match', () =>
        withStorage(backend, async (storage) => {
          await seed(storage);
          const first = await storage.users.listUsers(query({ limit: 2, deactivated: undefined }));
          assert.deepEqual(
            first.users.map((u) => u.userId),
            ['@7:localhost', alice],
          );
          assert.equal(first.total, 4);
          const second = await storage.users.listUsers(
            query({ from: 2, limit: 2, deactivated: undefined }),
          );
          assert.deepEqual(
            second.users.map((u) => u.userId),
            [bob, '@carol:localhost'],
          );
          const beyond = await storage.users.listUsers(query({ from: 10 }));
          assert.deepEqual(beyond, { users: [], total: 3 });
          assert.deepEqual(await ids(storage, { limit: 0 }), []);
        }));

      it('sets and clears the admin flag; false for an unknown user', () =>
        withStorage(backend, async (storage, reopen) => {
          await seed(storage);
          assert.equal(await storage.users.setAdmin(bob, true), true);
          assert.equal((await storage.users.getUser(bob))?.isAdmin, true);
          assert.equal(await storage.users.setAdmin(alice, false), true);
          assert.equal(await storage.users.setAdmin('@nobody:localhost', true), false);
          storage = await reopen();
          assert.equal((await storage.users.getUser(alice))?.isAdmin, false);
          assert.deepEqual(await ids(storage, { admins: true }), [bob]);
        }));

      it('reactivates a deactivated user, whose tokens stay revoked; false for an unknown user', () =>
        withStorage(backend, async (storage, reopen) => {
          await seed(storage);
          const carol = '@carol:localhost';
          assert.equal((await storage.users.getUser(carol))?.deactivated, true);
          assert.equal(await storage.users.reactivate(carol), true);
          assert.equal(await storage.users.reactivate('@nobody:localhost'), false);
          storage = await reopen();
          assert.equal((await storage.users.getUser(carol))?.deactivated, false);
          assert.deepEqual(await storage.devices.listDevices(carol), []);
          assert.ok((await ids(storage, {})).includes(carol));
        }));
    });
  });
}
