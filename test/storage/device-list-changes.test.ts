/**
 * Contract tests of device list changes per device on every backend: which
 * device each write's change is about (key upload, signatures, renaming,
 * deletion) or none (cross-signing keys, another server's user), read back in
 * stream order; the latest device change a /user/devices answer gives as its
 * stream_id; /sync's per-user reads unchanged; and the federation sender's
 * chains of device list EDUs per destination, kept across a restart.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Storage } from '../../src/storage/storage.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';
import { createDevices } from '../support/e2ee-storage-fixtures.js';

const ALICE = '@alice:test';
const BOB = '@bob:test';

const deviceKeysJson = (userId: string, deviceId: string, version = 1) =>
  JSON.stringify({ user_id: userId, device_id: deviceId, keys: { version } });

async function uploadDeviceKeys(storage: Storage, userId: string, deviceId: string, version = 1) {
  const result = await storage.e2eeKeys.uploadKeys({
    userId,
    deviceId,
    deviceKeysJson: deviceKeysJson(userId, deviceId, version),
    oneTimeKeys: [],
    fallbackKeys: [],
  });
  assert.ok(result.ok && result.deviceListPosition !== undefined);
  return result.deviceListPosition;
}

/** The changes after `after`, without their positions (checked increasing). */
async function changesSince(storage: Storage, after: number) {
  const upTo = await storage.deviceLists.maxPosition();
  const changes = await storage.deviceLists.changesAfter(after, upTo, 100);
  const positions = changes.map((change) => change.position);
  assert.deepEqual(
    positions,
    [...positions].sort((a, b) => a - b),
  );
  assert.ok(positions.every((position) => position > after && position <= upTo));
  return changes.map(({ position: _position, ...rest }) => rest);
}

for (const backend of storageBackends()) {
  describe(`device list changes per device on ${backend.name}`, () => {
    it('records which device each write changed, or none for cross-signing keys', () =>
      withStorage(backend, async (storage, reopen) => {
        await createDevices(storage, BOB, 'PHONE', 'LAPTOP');
        const start = await storage.deviceLists.maxPosition();
        await uploadDeviceKeys(storage, BOB, 'PHONE');
        await uploadDeviceKeys(storage, BOB, 'LAPTOP');
        await storage.e2eeKeys.setCrossSigningKeys(BOB, { master: '{"m":1}' });
        // A signature on a device changes that device; one on a cross-signing key, none.
        const signature = (targetKeyId: string) => ({
          targetUserId: BOB,
          targetKeyId,
          signerUserId: BOB,
          signingKeyId: 'ed25519:ssk',
          signature: `on ${targetKeyId}`,
        });
        await storage.e2eeKeys.addSignatures([
          signature('LAPTOP'),
          signature('masterPublicKey'),
          signature('PHONE'),
        ]);
        assert.equal(await storage.devices.setDisplayName(BOB, 'PHONE', 'new name'), true);
        await storage.devices.deleteDevices(BOB, ['LAPTOP']);
        await storage.deviceLists.recordChange(ALICE);
        await storage.deviceLists.recordChange(ALICE, 'REMOTE');
        const expected = [
          { userId: BOB, deviceId: 'PHONE' },
          { userId: BOB, deviceId: 'LAPTOP' },
          { userId: BOB },
          { userId: BOB, deviceId: 'LAPTOP' },
          { userId: BOB, deviceId: 'PHONE' },
          { userId: BOB },
          { userId: BOB, deviceId: 'PHONE' },
          { userId: BOB, deviceId: 'LAPTOP' },
          { userId: ALICE },
          { userId: ALICE, deviceId: 'REMOTE' },
        ];
        assert.deepEqual(await changesSince(storage, start), expected);
        storage = await reopen();
        assert.deepEqual(await changesSince(storage, start), expected);
      }));

    it('records a rename only when the name changes, and not for an unknown device', () =>
      withStorage(backend, async (storage) => {
        await createDevices(storage, BOB, 'PHONE');
        const start = await storage.deviceLists.maxPosition();
        assert.equal(await storage.devices.setDisplayName(BOB, 'PHONE', 'PHONE name'), true);
        assert.equal(await storage.devices.setDisplayName(BOB, 'NONE', 'x'), false);
        assert.deepEqual(await changesSince(storage, start), []);
        assert.equal(await storage.devices.setDisplayName(BOB, 'PHONE', null), true);
        assert.equal(await storage.devices.setDisplayName(BOB, 'PHONE', null), true);
        assert.equal(await storage.devices.setDisplayName(BOB, 'PHONE', 'again'), true);
        assert.equal((await storage.devices.getDevice(BOB, 'PHONE'))?.displayName, 'again');
        assert.deepEqual(await changesSince(storage, start), [
          { userId: BOB, deviceId: 'PHONE' },
          { userId: BOB, deviceId: 'PHONE' },
        ]);
        // /sync and /keys/changes still see the user changed, at the latest position.
        const upTo = await storage.deviceLists.maxPosition();
        assert.deepEqual(await storage.deviceLists.changedUsers(BOB, start, upTo), [BOB]);
        assert.equal(await storage.deviceLists.latestChangeOf(BOB), upTo);
      }));

    it('reads changes in pages, in stream order', () =>
      withStorage(backend, async (storage) => {
        await createDevices(storage, BOB, 'A', 'B', 'C');
        const positions: number[] = [];
        for (const deviceId of ['A', 'B', 'C']) {
          positions.push(await uploadDeviceKeys(storage, BOB, deviceId));
        }
        const [a, b, c] = positions as [number, number, number];
        assert.deepEqual(await storage.deviceLists.changesAfter(a - 1, c, 2), [
          { position: a, userId: BOB, deviceId: 'A' },
          { position: b, userId: BOB, deviceId: 'B' },
        ]);
        assert.deepEqual(await storage.deviceLists.changesAfter(b, c, 2), [
          { position: c, userId: BOB, deviceId: 'C' },
        ]);
        assert.deepEqual(await storage.deviceLists.changesAfter(a, b, 10), [
          { position: b, userId: BOB, deviceId: 'B' },
        ]);
        assert.deepEqual(await storage.deviceLists.changesAfter(c, c, 10), []);
      }));

    it('knows the latest change of a device apart from the latest change of any kind', () =>
      withStorage(backend, async (storage) => {
        await createDevices(storage, BOB, 'PHONE');
        assert.equal(await storage.deviceLists.latestDeviceChangeOf(BOB), undefined);
        await storage.e2eeKeys.setCrossSigningKeys(BOB, { master: '{"m":1}' });
        assert.equal(await storage.deviceLists.latestDeviceChangeOf(BOB), undefined);
        const device = await uploadDeviceKeys(storage, BOB, 'PHONE');
        const crossSigning = await storage.e2eeKeys.setCrossSigningKeys(BOB, {
          master: '{"m":2}',
        });
        assert.ok(crossSigning > device);
        assert.equal(await storage.deviceLists.latestDeviceChangeOf(BOB), device);
        assert.equal(await storage.deviceLists.latestChangeOf(BOB), crossSigning);
        assert.equal(await storage.deviceLists.latestDeviceChangeOf(ALICE), undefined);
      }));

    it("keeps the sender's chains per user and destination, moved, ended and reopened", () =>
      withStorage(backend, async (storage, reopen) => {
        const lists = () => storage.deviceLists;
        assert.deepEqual(await lists().outboundHeads([ALICE, BOB]), []);
        assert.deepEqual(await lists().outboundHeads([]), []);
        await lists().setOutboundHeads([]);
        await lists().breakOutboundChains([]);
        await lists().setOutboundHeads([
          { userId: ALICE, destination: 'one.test', streamId: 3 },
          { userId: ALICE, destination: 'two.test', streamId: 3 },
          { userId: BOB, destination: 'one.test', streamId: 4 },
        ]);
        await lists().setOutboundHeads([{ userId: ALICE, destination: 'one.test', streamId: 7 }]);
        await lists().breakOutboundChains([
          { userId: ALICE, destination: 'two.test' },
          { userId: BOB, destination: 'never.test' },
        ]);
        storage = await reopen();
        const sorted = async (userIds: string[]) =>
          (await lists().outboundHeads(userIds)).sort((x, y) =>
            `${x.userId} ${x.destination}` < `${y.userId} ${y.destination}` ? -1 : 1,
          );
        assert.deepEqual(await sorted([ALICE, BOB]), [
          { userId: ALICE, destination: 'one.test', streamId: 7 },
          { userId: BOB, destination: 'one.test', streamId: 4 },
        ]);
        assert.deepEqual(await sorted([BOB]), [
          { userId: BOB, destination: 'one.test', streamId: 4 },
        ]);
        // A chain ended and begun again.
        await lists().setOutboundHeads([{ userId: ALICE, destination: 'two.test', streamId: 9 }]);
        assert.deepEqual(await sorted([ALICE]), [
          { userId: ALICE, destination: 'one.test', streamId: 7 },
          { userId: ALICE, destination: 'two.test', streamId: 9 },
        ]);
      }));
  });
}
