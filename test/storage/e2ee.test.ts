/**
 * Contract tests of the E2EE key and device list stores on every backend:
 * device keys, one-time and fallback keys and their claims, cross-signing keys,
 * signatures, the deviceLists stream and who shares a room with whom.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DeviceKeyUpload, KeyWithId, Storage } from '../../src/storage/storage.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';
import { OTK, Rooms, createDevices, keyWithId } from '../support/e2ee-storage-fixtures.js';

const ALICE = '@alice:test';
const BOB = '@bob:test';
const CAROL = '@carol:test';

const deviceKeysJson = (userId: string, deviceId: string, version = 1) =>
  JSON.stringify({ user_id: userId, device_id: deviceId, keys: { version } });

function upload(
  storage: Storage,
  deviceId: string,
  parts: Partial<Omit<DeviceKeyUpload, 'userId' | 'deviceId'>>,
  userId = BOB,
) {
  return storage.e2eeKeys.uploadKeys({
    userId,
    deviceId,
    oneTimeKeys: [],
    fallbackKeys: [],
    ...parts,
  });
}

const claimOf = (deviceId: string, algorithm = OTK, userId = BOB) => ({
  userId,
  deviceId,
  algorithm,
});

async function claimIds(storage: Storage, ...claims: ReturnType<typeof claimOf>[]) {
  return (await storage.e2eeKeys.claimKeys(claims)).map((key) => `${key.deviceId}:${key.keyId}`);
}

for (const backend of storageBackends()) {
  describe(`e2ee keys on ${backend.name}`, () => {
    it('stores device keys and lists those of existing devices', () =>
      withStorage(backend, async (storage, reopen) => {
        await createDevices(storage, BOB, 'PHONE', 'LAPTOP');
        for (const deviceId of ['PHONE', 'LAPTOP', 'GONE']) {
          const result = await upload(storage, deviceId, {
            deviceKeysJson: deviceKeysJson(BOB, deviceId),
          });
          assert.equal(result.ok, true);
        }
        assert.deepEqual(await storage.e2eeKeys.deviceKeys(BOB, []), [
          {
            userId: BOB,
            deviceId: 'LAPTOP',
            keyJson: deviceKeysJson(BOB, 'LAPTOP'),
            displayName: 'LAPTOP name',
          },
          {
            userId: BOB,
            deviceId: 'PHONE',
            keyJson: deviceKeysJson(BOB, 'PHONE'),
            displayName: 'PHONE name',
          },
        ]);
        // Named devices in the order asked, a name given twice twice; no row, no keys.
        const named = await storage.e2eeKeys.deviceKeys(BOB, ['PHONE', 'GONE', 'LAPTOP', 'PHONE']);
        assert.deepEqual(
          named.map((k) => k.deviceId),
          ['PHONE', 'LAPTOP', 'PHONE'],
        );
        assert.deepEqual(await storage.e2eeKeys.deviceKeys(ALICE, []), []);
        const replaced = await upload(storage, 'PHONE', {
          deviceKeysJson: deviceKeysJson(BOB, 'PHONE', 2),
        });
        assert.equal(replaced.ok, true);
        storage = await reopen();
        const [phone] = await storage.e2eeKeys.deviceKeys(BOB, ['PHONE']);
        assert.equal(phone?.keyJson, deviceKeysJson(BOB, 'PHONE', 2));
      }));

    it('records a device list change only for changed device keys', () =>
      withStorage(backend, async (storage) => {
        await createDevices(storage, BOB, 'PHONE');
        const first = await upload(storage, 'PHONE', {
          deviceKeysJson: deviceKeysJson(BOB, 'PHONE'),
        });
        assert.ok(first.ok && first.deviceListPosition !== undefined);
        assert.equal(await storage.deviceLists.latestChangeOf(BOB), first.deviceListPosition);
        assert.equal(await storage.deviceLists.maxPosition(), first.deviceListPosition);
        const keysOnly = await upload(storage, 'PHONE', { oneTimeKeys: [keyWithId('a')] });
        assert.deepEqual(keysOnly, { ok: true });
        const second = await upload(storage, 'PHONE', {
          deviceKeysJson: deviceKeysJson(BOB, 'PHONE', 2),
        });
        assert.ok(second.ok && second.deviceListPosition! > first.deviceListPosition);
        assert.equal(await storage.deviceLists.latestChangeOf(BOB), second.deviceListPosition);
      }));

    it('counts one-time keys and hands out the oldest first, each once', () =>
      withStorage(backend, async (storage, reopen) => {
        await createDevices(storage, BOB, 'PHONE', 'LAPTOP');
        assert.deepEqual(await storage.e2eeKeys.oneTimeKeyCounts(BOB, 'PHONE'), {});
        await upload(storage, 'PHONE', {
          oneTimeKeys: [keyWithId('c'), keyWithId('a'), keyWithId('x', 'other')],
        });
        // The same keys again, with one more: the identical ones are skipped.
        await upload(storage, 'PHONE', { oneTimeKeys: [keyWithId('a'), keyWithId('b')] });
        assert.deepEqual(await storage.e2eeKeys.oneTimeKeyCounts(BOB, 'PHONE'), {
          [OTK]: 3,
          other: 1,
        });
        assert.deepEqual(await storage.e2eeKeys.oneTimeKeyCounts(BOB, 'LAPTOP'), {});
        storage = await reopen();
        const [first] = await storage.e2eeKeys.claimKeys([claimOf('PHONE')]);
        assert.deepEqual(first, {
          userId: BOB,
          deviceId: 'PHONE',
          algorithm: OTK,
          keyId: 'c',
          keyJson: keyWithId('c').keyJson,
        });
        // In the order of the claims, a device claimed twice getting two keys; none for LAPTOP.
        assert.deepEqual(
          await claimIds(
            storage,
            claimOf('PHONE'),
            claimOf('LAPTOP'),
            claimOf('PHONE', 'other'),
            claimOf('PHONE'),
          ),
          ['PHONE:a', 'PHONE:x', 'PHONE:b'],
        );
        assert.deepEqual(await storage.e2eeKeys.oneTimeKeyCounts(BOB, 'PHONE'), {});
        assert.deepEqual(await claimIds(storage, claimOf('PHONE')), []);
        // A claimed key's ID may be uploaded again, with any content.
        await upload(storage, 'PHONE', { oneTimeKeys: [{ ...keyWithId('a'), keyJson: '"new"' }] });
        const [again] = await storage.e2eeKeys.claimKeys([claimOf('PHONE')]);
        assert.equal(again?.keyJson, '"new"');
      }));

    it('stores nothing of an upload with a conflicting one-time key', () =>
      withStorage(backend, async (storage) => {
        await createDevices(storage, BOB, 'PHONE');
        await upload(storage, 'PHONE', { oneTimeKeys: [keyWithId('a'), keyWithId('b')] });
        assert.deepEqual(await storage.e2eeKeys.oneTimeKeyCounts(BOB, 'PHONE'), { [OTK]: 2 });
        const before = await storage.deviceLists.maxPosition();
        const result = await upload(storage, 'PHONE', {
          deviceKeysJson: deviceKeysJson(BOB, 'PHONE'),
          oneTimeKeys: [
            keyWithId('c'),
            { ...keyWithId('b'), keyJson: '"other"' },
            { ...keyWithId('a'), keyJson: '"other"' },
          ],
          fallbackKeys: [keyWithId('f')],
        });
        assert.deepEqual(result, { ok: false, conflictingKeyId: `${OTK}:b` });
        assert.deepEqual(await storage.e2eeKeys.oneTimeKeyCounts(BOB, 'PHONE'), { [OTK]: 2 });
        assert.deepEqual(await storage.e2eeKeys.unusedFallbackKeyTypes(BOB, 'PHONE'), []);
        assert.deepEqual(await storage.e2eeKeys.deviceKeys(BOB, ['PHONE']), []);
        assert.equal(await storage.deviceLists.latestChangeOf(BOB), undefined);
        // (A backend may leave the position it took unused: a gap, no change.)
        const now = await storage.deviceLists.maxPosition();
        assert.deepEqual(await storage.deviceLists.changedUsers(BOB, before, now), []);
        // The same ID twice in one upload with different content conflicts too.
        const twice = await upload(storage, 'PHONE', {
          oneTimeKeys: [keyWithId('d'), { ...keyWithId('d'), keyJson: '"other"' }],
        });
        assert.deepEqual(twice, { ok: false, conflictingKeyId: `${OTK}:d` });
        assert.deepEqual(await storage.e2eeKeys.oneTimeKeyCounts(BOB, 'PHONE'), { [OTK]: 2 });
      }));

    it('gives the fallback key once the one-time keys are gone, and keeps it', () =>
      withStorage(backend, async (storage, reopen) => {
        await createDevices(storage, BOB, 'PHONE');
        assert.deepEqual(await storage.e2eeKeys.unusedFallbackKeyTypes(BOB, 'PHONE'), []);
        await upload(storage, 'PHONE', {
          oneTimeKeys: [keyWithId('o1')],
          fallbackKeys: [keyWithId('f1'), keyWithId('z', 'other')],
        });
        assert.deepEqual(await storage.e2eeKeys.unusedFallbackKeyTypes(BOB, 'PHONE'), [
          'other',
          OTK,
        ]);
        assert.deepEqual(await claimIds(storage, claimOf('PHONE')), ['PHONE:o1']);
        assert.deepEqual(await storage.e2eeKeys.unusedFallbackKeyTypes(BOB, 'PHONE'), [
          'other',
          OTK,
        ]);
        assert.deepEqual(await claimIds(storage, claimOf('PHONE'), claimOf('PHONE')), [
          'PHONE:f1',
          'PHONE:f1',
        ]);
        assert.deepEqual(await storage.e2eeKeys.unusedFallbackKeyTypes(BOB, 'PHONE'), ['other']);
        storage = await reopen();
        assert.deepEqual(await storage.e2eeKeys.unusedFallbackKeyTypes(BOB, 'PHONE'), ['other']);
        // The same key uploaded again stays used; a new one starts unused.
        await upload(storage, 'PHONE', { fallbackKeys: [keyWithId('f1')] });
        assert.deepEqual(await storage.e2eeKeys.unusedFallbackKeyTypes(BOB, 'PHONE'), ['other']);
        await upload(storage, 'PHONE', { fallbackKeys: [keyWithId('f2')] });
        assert.deepEqual(await storage.e2eeKeys.unusedFallbackKeyTypes(BOB, 'PHONE'), [
          'other',
          OTK,
        ]);
        assert.deepEqual(await claimIds(storage, claimOf('PHONE')), ['PHONE:f2']);
      }));

    it('never hands the same one-time key to two concurrent claims', () =>
      withStorage(backend, async (storage) => {
        await createDevices(storage, BOB, 'PHONE', 'LAPTOP');
        const keys = Array.from({ length: 12 }, (_, i) => keyWithId(`k${i}`));
        await upload(storage, 'PHONE', { oneTimeKeys: keys, fallbackKeys: [keyWithId('fb')] });
        await upload(storage, 'LAPTOP', { oneTimeKeys: keys });
        // Claims of both devices in either order, so they also cross on the devices.
        const claims = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            storage.e2eeKeys.claimKeys(
              i % 2 === 0
                ? [claimOf('PHONE'), claimOf('LAPTOP')]
                : [claimOf('LAPTOP'), claimOf('PHONE')],
            ),
          ),
        );
        const phone = claims.flat().filter((k) => k.deviceId === 'PHONE');
        const laptop = claims.flat().filter((k) => k.deviceId === 'LAPTOP');
        const oneTime = phone.filter((k) => k.keyId !== 'fb').map((k) => k.keyId);
        assert.equal(oneTime.length, 12);
        assert.equal(new Set(oneTime).size, 12, 'each one-time key claimed once');
        assert.equal(phone.filter((k) => k.keyId === 'fb').length, 8);
        assert.equal(laptop.length, 12);
        assert.equal(new Set(laptop.map((k) => k.keyId)).size, 12);
        assert.deepEqual(await storage.e2eeKeys.oneTimeKeyCounts(BOB, 'PHONE'), {});
        assert.deepEqual(await storage.e2eeKeys.oneTimeKeyCounts(BOB, 'LAPTOP'), {});
      }));

    it('keeps no stale key count from reads that overlap claims and uploads', () =>
      withStorage(backend, async (storage, reopen) => {
        const devices = Array.from({ length: 12 }, (_, i) => `D${i}`);
        await createDevices(storage, BOB, ...devices);
        const countsOf = async (s: Storage, deviceId: string) => ({
          oneTimeKeys: await s.e2eeKeys.oneTimeKeyCounts(BOB, deviceId),
          fallback: await s.e2eeKeys.unusedFallbackKeyTypes(BOB, deviceId),
        });
        const remembered = new Map<string, Awaited<ReturnType<typeof countsOf>>>();
        for (const [i, deviceId] of devices.entries()) {
          await upload(storage, deviceId, {
            oneTimeKeys: i % 2 === 0 ? [keyWithId('k')] : [],
            fallbackKeys: [keyWithId('fb')],
          });
          // A write of the device while its counts are read (and remembered) around it.
          const write =
            i % 3 === 2
              ? upload(storage, deviceId, { oneTimeKeys: [keyWithId('new')] })
              : storage.e2eeKeys.claimKeys([claimOf(deviceId)]);
          await Promise.all([countsOf(storage, deviceId), write, countsOf(storage, deviceId)]);
          remembered.set(deviceId, await countsOf(storage, deviceId));
        }
        // Reopened, the store remembers nothing: it reads the database.
        storage = await reopen();
        for (const deviceId of devices) {
          assert.deepEqual(remembered.get(deviceId), await countsOf(storage, deviceId), deviceId);
        }
      }));

    it('stores exactly one of concurrent uploads of a key ID with different content', () =>
      withStorage(backend, async (storage) => {
        await createDevices(storage, BOB, 'PHONE');
        const variants = Array.from({ length: 8 }, (_, i): KeyWithId => ({
          ...keyWithId('same'),
          keyJson: JSON.stringify({ variant: i }),
        }));
        const results = await Promise.all(
          variants.map((variant, i) =>
            upload(storage, 'PHONE', { oneTimeKeys: [keyWithId(`own${i}`), variant] }),
          ),
        );
        const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
        assert.equal(winners.length, 1);
        for (const result of results) {
          if (!result.ok) assert.equal(result.conflictingKeyId, `${OTK}:same`);
        }
        // Only the winner's keys: its own key and its variant.
        assert.deepEqual(await storage.e2eeKeys.oneTimeKeyCounts(BOB, 'PHONE'), { [OTK]: 2 });
        const claimed = await storage.e2eeKeys.claimKeys([claimOf('PHONE'), claimOf('PHONE')]);
        assert.deepEqual(
          claimed.map((k) => k.keyJson),
          [keyWithId(`own${winners[0]}`).keyJson, variants[winners[0]!]!.keyJson],
        );
      }));

    it('keeps every key of concurrent uploads to one device', () =>
      withStorage(backend, async (storage) => {
        await createDevices(storage, BOB, 'PHONE');
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            upload(storage, 'PHONE', {
              oneTimeKeys: [keyWithId(`a${i}`), keyWithId(`b${i}`), keyWithId('shared')],
            }),
          ),
        );
        assert.ok(results.every((r) => r.ok));
        assert.deepEqual(await storage.e2eeKeys.oneTimeKeyCounts(BOB, 'PHONE'), { [OTK]: 21 });
      }));

    it('stores and replaces cross-signing keys, each change a device list position', () =>
      withStorage(backend, async (storage, reopen) => {
        assert.deepEqual(await storage.e2eeKeys.crossSigningKeys(BOB), {});
        const first = await storage.e2eeKeys.setCrossSigningKeys(BOB, {
          master: '{"m":1}',
          self_signing: '{"s":1}',
        });
        assert.equal(await storage.deviceLists.latestChangeOf(BOB), first);
        const second = await storage.e2eeKeys.setCrossSigningKeys(BOB, { master: '{"m":2}' });
        assert.ok(second > first);
        storage = await reopen();
        assert.deepEqual(await storage.e2eeKeys.crossSigningKeys(BOB), {
          master: '{"m":2}',
          self_signing: '{"s":1}',
        });
        assert.deepEqual(await storage.e2eeKeys.crossSigningKeys(ALICE), {});
        assert.equal(await storage.deviceLists.maxPosition(), second);
      }));

    it('stores signatures, replacing one by the same signer and key', () =>
      withStorage(backend, async (storage, reopen) => {
        assert.equal(await storage.e2eeKeys.addSignatures([]), undefined);
        const signature = (targetKeyId: string, signingKeyId: string, value: string) => ({
          targetUserId: BOB,
          targetKeyId,
          signerUserId: ALICE,
          signingKeyId,
          signature: value,
        });
        const onCarol = { ...signature('CDEV', 'ed25519:A', 'c'), targetUserId: CAROL };
        const last = await storage.e2eeKeys.addSignatures([
          signature('PHONE', 'ed25519:B', 's1'),
          onCarol,
          signature('LAPTOP', 'ed25519:A', 's2'),
          signature('PHONE', 'ed25519:A', 's3'),
        ]);
        // One change per target user, in their order: Bob's first, Carol's the last.
        const carolChange = await storage.deviceLists.latestChangeOf(CAROL);
        const bobChange = await storage.deviceLists.latestChangeOf(BOB);
        assert.equal(last, carolChange);
        assert.ok(bobChange !== undefined && bobChange < carolChange!);
        await storage.e2eeKeys.addSignatures([signature('PHONE', 'ed25519:B', 'new')]);
        storage = await reopen();
        assert.deepEqual(await storage.e2eeKeys.signaturesOn(BOB), [
          signature('LAPTOP', 'ed25519:A', 's2'),
          signature('PHONE', 'ed25519:A', 's3'),
          signature('PHONE', 'ed25519:B', 'new'),
        ]);
        assert.deepEqual(await storage.e2eeKeys.signaturesOn(CAROL), [onCarol]);
        assert.deepEqual(await storage.e2eeKeys.signaturesOn(ALICE), []);
      }));

    it('forgets the keys of a deleted device, and of one created again under its ID', () =>
      withStorage(backend, async (storage) => {
        await createDevices(storage, BOB, 'PHONE', 'LAPTOP');
        await upload(storage, 'PHONE', {
          deviceKeysJson: deviceKeysJson(BOB, 'PHONE'),
          oneTimeKeys: [keyWithId('a')],
          fallbackKeys: [keyWithId('f')],
        });
        await storage.e2eeKeys.addSignatures([
          {
            targetUserId: BOB,
            targetKeyId: 'PHONE',
            signerUserId: BOB,
            signingKeyId: 'ed25519:ssk',
            signature: 'sig',
          },
        ]);
        // Read (and remembered) before the deletion.
        assert.deepEqual(await storage.e2eeKeys.oneTimeKeyCounts(BOB, 'PHONE'), { [OTK]: 1 });
        assert.deepEqual(await storage.e2eeKeys.unusedFallbackKeyTypes(BOB, 'PHONE'), [OTK]);
        const before = await storage.deviceLists.maxPosition();
        await storage.devices.deleteDevices(BOB, ['PHONE']);
        assert.ok((await storage.deviceLists.latestChangeOf(BOB))! > before);
        assert.deepEqual(await storage.e2eeKeys.oneTimeKeyCounts(BOB, 'PHONE'), {});
        assert.deepEqual(await storage.e2eeKeys.unusedFallbackKeyTypes(BOB, 'PHONE'), []);
        assert.deepEqual(await storage.e2eeKeys.signaturesOn(BOB), []);
        await createDevices(storage, BOB, 'PHONE');
        assert.deepEqual(await storage.e2eeKeys.deviceKeys(BOB, ['PHONE']), []);
        assert.deepEqual(await claimIds(storage, claimOf('PHONE')), []);
        await upload(storage, 'PHONE', { oneTimeKeys: [keyWithId('b'), keyWithId('c')] });
        assert.deepEqual(await storage.e2eeKeys.oneTimeKeyCounts(BOB, 'PHONE'), { [OTK]: 2 });
      }));
  });

  describe(`device lists on ${backend.name}`, () => {
    it('gives each change a new position, readable once recorded', () =>
      withStorage(backend, async (storage, reopen) => {
        assert.equal(await storage.deviceLists.maxPosition(), 0);
        assert.equal(await storage.deviceLists.latestChangeOf(BOB), undefined);
        const first = await storage.deviceLists.recordChange(BOB);
        const second = await storage.deviceLists.recordChange(ALICE);
        assert.ok(first > 0 && second > first);
        assert.equal(await storage.deviceLists.maxPosition(), second);
        assert.equal(await storage.deviceLists.latestChangeOf(BOB), first);
        storage = await reopen();
        assert.equal(await storage.deviceLists.maxPosition(), second);
        assert.equal(await storage.deviceLists.latestChangeOf(ALICE), second);
        assert.ok((await storage.deviceLists.recordChange(BOB)) > second);
      }));

    it('gives concurrent changes distinct positions, all readable', () =>
      withStorage(backend, async (storage) => {
        const users = Array.from({ length: 16 }, (_, i) => `@u${i}:test`);
        const positions = await Promise.all(users.map((u) => storage.deviceLists.recordChange(u)));
        assert.equal(new Set(positions).size, users.length);
        const max = Math.max(...positions);
        assert.equal(await storage.deviceLists.maxPosition(), max);
        for (const [i, userId] of users.entries()) {
          assert.deepEqual(await storage.deviceLists.changedUsers(userId, 0, max), [userId]);
          assert.equal(await storage.deviceLists.latestChangeOf(userId), positions[i]);
        }
      }));

    it('tells a viewer of their own changes and those of users joined with them', () =>
      withStorage(backend, async (storage) => {
        const rooms = new Rooms(storage);
        await rooms.create('!shared:test', ALICE);
        await rooms.setMembership('!shared:test', ALICE, 'join');
        await rooms.setMembership('!shared:test', BOB, 'join');
        await rooms.setMembership('!shared:test', CAROL, 'invite');
        await rooms.create('!other:test', CAROL);
        await rooms.setMembership('!other:test', CAROL, 'join');
        const start = await storage.deviceLists.maxPosition();
        const bob = await storage.deviceLists.recordChange(BOB);
        await storage.deviceLists.recordChange(CAROL);
        await storage.deviceLists.recordChange(BOB);
        const alice = await storage.deviceLists.recordChange(ALICE);
        const end = await storage.deviceLists.maxPosition();
        // Sorted and once each; an invite shares nothing.
        assert.deepEqual(await storage.deviceLists.changedUsers(ALICE, start, end), [ALICE, BOB]);
        assert.deepEqual(await storage.deviceLists.changedUsers(CAROL, start, end), [CAROL]);
        // (after, upTo]: the lower bound excluded, the upper one included.
        assert.deepEqual(await storage.deviceLists.changedUsers(ALICE, bob, alice - 1), [BOB]);
        assert.deepEqual(await storage.deviceLists.changedUsers(ALICE, bob, bob), []);
        assert.deepEqual(await storage.deviceLists.changedUsers(ALICE, end, start), []);
      }));

    it('finds who shares a room now, by current joins', () =>
      withStorage(backend, async (storage) => {
        const rooms = new Rooms(storage);
        await rooms.create('!a:test', ALICE);
        await rooms.setMembership('!a:test', ALICE, 'join');
        await rooms.setMembership('!a:test', CAROL, 'join');
        await rooms.setMembership('!a:test', BOB, 'join');
        await rooms.create('!b:test', ALICE);
        await rooms.setMembership('!b:test', ALICE, 'join');
        await rooms.setMembership('!b:test', BOB, 'join');
        await rooms.setMembership('!b:test', CAROL, 'invite');
        const sorted = (users: string[]) => [...users].sort();
        assert.deepEqual(sorted(await storage.deviceLists.usersSharingRoomWith(BOB)), [
          ALICE,
          BOB,
          CAROL,
        ]);
        assert.deepEqual(await storage.deviceLists.joinedMembers('!a:test'), [ALICE, BOB, CAROL]);
        assert.deepEqual(await storage.deviceLists.joinedMembers('!b:test'), [ALICE, BOB]);
        assert.deepEqual(await storage.deviceLists.joinedMembers('!none:test'), []);
        await rooms.setMembership('!a:test', CAROL, 'leave');
        assert.deepEqual(sorted(await storage.deviceLists.usersSharingRoomWith(BOB)), [ALICE, BOB]);
        assert.deepEqual(await storage.deviceLists.usersSharingRoomWith('@nobody:test'), []);
        // In the order given, a user given twice twice.
        assert.deepEqual(
          await storage.deviceLists.usersSharingNoRoom(BOB, [CAROL, ALICE, '@x:test', CAROL]),
          [CAROL, '@x:test', CAROL],
        );
        assert.deepEqual(await storage.deviceLists.usersSharingNoRoom(BOB, []), []);
      }));

    it('reads member events by position, in the rooms asked or of the user', () =>
      withStorage(backend, async (storage) => {
        const rooms = new Rooms(storage);
        await rooms.create('!a:test', ALICE);
        await rooms.create('!b:test', BOB);
        const start = await storage.rooms.maxStreamOrdering();
        const aliceJoin = await rooms.setMembership('!a:test', ALICE, 'join');
        const bobJoin = await rooms.setMembership('!b:test', BOB, 'join');
        await rooms.message('!a:test', ALICE);
        const bobInA = await rooms.setMembership('!a:test', BOB, 'join');
        const aliceLeave = await rooms.setMembership('!a:test', ALICE, 'leave');
        const end = await storage.rooms.maxStreamOrdering();
        const change = (roomId: string, userId: string, membership: string, at: number) => ({
          roomId,
          userId,
          membership,
          streamOrdering: at,
        });
        assert.deepEqual(await storage.deviceLists.memberChanges(['!a:test'], start, end), [
          change('!a:test', ALICE, 'join', aliceJoin),
          change('!a:test', BOB, 'join', bobInA),
          change('!a:test', ALICE, 'leave', aliceLeave),
        ]);
        assert.deepEqual(
          await storage.deviceLists.memberChanges(['!b:test', '!a:test'], aliceJoin, bobInA),
          [change('!b:test', BOB, 'join', bobJoin), change('!a:test', BOB, 'join', bobInA)],
        );
        assert.deepEqual(await storage.deviceLists.memberChanges([], start, end), []);
        assert.deepEqual(await storage.deviceLists.memberChanges(['!a:test'], end, end), []);
        assert.deepEqual(await storage.deviceLists.ownMemberChanges(BOB, start, end), [
          change('!b:test', BOB, 'join', bobJoin),
          change('!a:test', BOB, 'join', bobInA),
        ]);
        assert.deepEqual(await storage.deviceLists.ownMemberChanges(ALICE, aliceJoin, end), [
          change('!a:test', ALICE, 'leave', aliceLeave),
        ]);
        assert.deepEqual(await storage.deviceLists.ownMemberChanges(CAROL, start, end), []);
      }));
  });
}
