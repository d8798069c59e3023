/**
 * The pure rules of outgoing device list updates: a page of the deviceLists
 * stream grouped per user and device, one m.device_list_update per changed
 * device chained by `prev_id` per destination, chains ended for servers that
 * miss an update; and which changes a batch of signatures makes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  groupDeviceListChanges,
  planDeviceListUpdates,
  type DeviceListUpdate,
} from '../../src/federation/sending-rules.js';
import { signatureSubjects } from '../../src/storage/common/device-list-rows.js';
import type { JsonObject } from '../../src/events/pdu.js';

const ALICE = '@alice:here';
const BOB = '@bob:here';

const update = (deviceId: string, streamId: number, keys?: JsonObject): DeviceListUpdate => ({
  userId: ALICE,
  deviceId,
  streamId,
  device: keys ? { keys } : {},
});

describe('grouping device list changes', () => {
  it('gives each user their devices at their latest position, and whether cross-signing changed', () => {
    const grouped = groupDeviceListChanges([
      { position: 3, userId: ALICE, deviceId: 'PHONE' },
      { position: 4, userId: BOB },
      { position: 5, userId: ALICE, deviceId: 'LAPTOP' },
      { position: 6, userId: ALICE, deviceId: 'PHONE' },
      { position: 7, userId: BOB, deviceId: 'TABLET' },
    ]);
    assert.deepEqual(grouped, [
      {
        userId: ALICE,
        devices: [
          { deviceId: 'LAPTOP', streamId: 5 },
          { deviceId: 'PHONE', streamId: 6 },
        ],
        crossSigning: false,
      },
      { userId: BOB, devices: [{ deviceId: 'TABLET', streamId: 7 }], crossSigning: true },
    ]);
    assert.deepEqual(groupDeviceListChanges([]), []);
  });
});

describe('planning device list updates', () => {
  it('sends one EDU per device, the first naming the head, each next the one before', () => {
    const plan = planDeviceListUpdates(
      [update('LAPTOP', 5, { device_id: 'LAPTOP' }), update('PHONE', 6)],
      new Set(['one.test', 'two.test']),
      new Map([['one.test', 2]]),
    );
    assert.deepEqual(plan.edus.get('one.test'), [
      {
        edu_type: 'm.device_list_update',
        content: {
          user_id: ALICE,
          device_id: 'LAPTOP',
          stream_id: 5,
          prev_id: [2],
          keys: { device_id: 'LAPTOP' },
        },
      },
      {
        edu_type: 'm.device_list_update',
        content: { user_id: ALICE, device_id: 'PHONE', stream_id: 6, prev_id: [5] },
      },
    ]);
    // No chain to two.test yet: its first EDU names nothing, so it fetches the whole list.
    assert.deepEqual(
      plan.edus.get('two.test')!.map((edu) => edu.content.prev_id),
      [[], [5]],
    );
    assert.deepEqual(plan.heads, [
      { userId: ALICE, destination: 'one.test', streamId: 6 },
      { userId: ALICE, destination: 'two.test', streamId: 6 },
    ]);
    assert.deepEqual(plan.broken, []);
  });

  it('says a deleted device is deleted, without keys', () => {
    const plan = planDeviceListUpdates(
      [{ userId: ALICE, deviceId: 'GONE', streamId: 9 }],
      new Set(['one.test']),
      new Map([['one.test', 8]]),
    );
    assert.deepEqual(plan.edus.get('one.test')![0]!.content, {
      user_id: ALICE,
      device_id: 'GONE',
      stream_id: 9,
      prev_id: [8],
      deleted: true,
    });
  });

  it('ends the chains of servers the updates do not go to', () => {
    const plan = planDeviceListUpdates(
      [update('PHONE', 10)],
      new Set(['one.test']),
      new Map([
        ['one.test', 4],
        ['left.test', 4],
      ]),
    );
    assert.deepEqual([...plan.edus.keys()], ['one.test']);
    assert.deepEqual(plan.broken, [{ userId: ALICE, destination: 'left.test' }]);
    assert.deepEqual(plan.heads, [{ userId: ALICE, destination: 'one.test', streamId: 10 }]);
  });

  it('ends every chain when no server shares a room with the user, and plans nothing without updates', () => {
    const alone = planDeviceListUpdates([update('PHONE', 10)], new Set(), new Map([['x.test', 3]]));
    assert.equal(alone.edus.size, 0);
    assert.deepEqual(alone.heads, []);
    assert.deepEqual(alone.broken, [{ userId: ALICE, destination: 'x.test' }]);
    const none = planDeviceListUpdates([], new Set(['x.test']), new Map([['x.test', 3]]));
    assert.deepEqual(none, { edus: new Map(), heads: [], broken: [] });
  });
});

describe('the device list changes of signatures', () => {
  it('are per signed device, then once for cross-signing keys, users in the order named', () => {
    const devices = new Set(['@b:x PHONE', '@b:x LAPTOP', '@c:x DEV']);
    const subjects = signatureSubjects(
      [
        { targetUserId: '@b:x', targetKeyId: 'PHONE' },
        { targetUserId: '@c:x', targetKeyId: 'masterKeyBase64' },
        { targetUserId: '@b:x', targetKeyId: 'selfSigningBase64' },
        { targetUserId: '@b:x', targetKeyId: 'LAPTOP' },
        { targetUserId: '@b:x', targetKeyId: 'PHONE' },
        { targetUserId: '@b:x', targetKeyId: 'masterBase64' },
        { targetUserId: '@c:x', targetKeyId: 'DEV' },
      ],
      (userId, keyId) => devices.has(`${userId} ${keyId}`),
    );
    assert.deepEqual(subjects, [
      { userId: '@b:x', deviceId: 'PHONE' },
      { userId: '@b:x', deviceId: 'LAPTOP' },
      { userId: '@b:x', deviceId: null },
      { userId: '@c:x', deviceId: 'DEV' },
      { userId: '@c:x', deviceId: null },
    ]);
  });
});
