/**
 * Other servers' EDUs received (federation/edu-receiver.ts) on every backend,
 * with the real stores, notifier, typing service and device lists: a server
 * speaks only for its own users in rooms they are joined to; receipts,
 * presence, to-device messages (once per message_id) and device list changes
 * are stored for local readers; bad EDUs are ignored without an error.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { DeviceLists } from '../../src/e2ee/device-lists.js';
import { TypingService } from '../../src/ephemeral/typing-service.js';
import { EduReceiver } from '../../src/federation/edu-receiver.js';
import type { ServerEvents } from '../../src/domain/server-events.js';
import type { Storage } from '../../src/storage/storage.js';
import { Notifier } from '../../src/sync/notifier.js';
import { EventBus } from '../../src/util/event-bus.js';
import { TestRoom } from '../support/stored-events.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const REMOTE = 'remote.test';
const BOB = `@bob:${REMOTE}`;
const ALICE = '@alice:localhost';

async function setUp(storage: Storage) {
  await storage.users.createUser(
    { userId: ALICE, passwordHash: null, isGuest: false, isAdmin: false, now: 0 },
    { userId: ALICE, deviceId: 'ADEV', initialDisplayName: null, tokenHash: 'h', ip: null, now: 0 },
  );
  const room = await TestRoom.create(storage, '!edu:localhost', ALICE);
  await room.send({
    eventId: '$alice',
    type: 'm.room.member',
    stateKey: ALICE,
    sender: ALICE,
    content: { membership: 'join' },
  });
  await room.send({
    eventId: '$bob',
    type: 'm.room.member',
    stateKey: BOB,
    sender: BOB,
    content: { membership: 'join' },
  });
  const message = await room.send({ eventId: '$msg', sender: ALICE });
  const notifier = new Notifier();
  const typing = new TypingService(storage, notifier, new EventBus<ServerEvents>(() => {}));
  const receiver = new EduReceiver({
    serverName: 'localhost',
    storage,
    notifier,
    typing,
    deviceLists: new DeviceLists(storage.deviceLists, notifier),
    presenceEnabled: true,
    logger: pino({ level: 'silent' }),
  });
  return { room, message, notifier, typing, receiver };
}

for (const backend of storageBackends()) {
  describe(`federation EDUs received (${backend.name})`, () => {
    it('takes typing and receipts only from the user’s server, for joined users', () =>
      withStorage(backend, async (storage) => {
        const { room, message, typing, receiver } = await setUp(storage);
        await receiver.receive(REMOTE, [
          { edu_type: 'm.typing', content: { room_id: room.roomId, user_id: BOB, typing: true } },
          {
            edu_type: 'm.typing',
            content: { room_id: room.roomId, user_id: '@eve:elsewhere', typing: true },
          },
        ]);
        await receiver.receive('elsewhere', [
          { edu_type: 'm.typing', content: { room_id: room.roomId, user_id: BOB, typing: true } },
        ]);
        assert.deepEqual(typing.typists(room.roomId), [BOB]);
        await receiver.receive(REMOTE, [
          { edu_type: 'm.typing', content: { room_id: room.roomId, user_id: BOB, typing: false } },
        ]);
        assert.deepEqual(typing.typists(room.roomId), []);

        await receiver.receive(REMOTE, [
          {
            edu_type: 'm.receipt',
            content: {
              [room.roomId]: { 'm.read': { [BOB]: { event_ids: ['$msg'], data: { ts: 42 } } } },
            },
          },
          {
            edu_type: 'm.receipt',
            content: {
              [room.roomId]: { 'm.read': { [BOB]: { event_ids: ['$unknown'], data: {} } } },
            },
          },
        ]);
        const receipts = await storage.receipts.ofRooms([room.roomId]);
        assert.deepEqual(
          receipts.map((r) => [r.userId, r.eventId, r.receiptType, r.ts]),
          [[BOB, message.eventId, 'm.read', 42]],
        );
        typing.close();
      }));

    it('stores presence of users sharing a room, and delivers to-device messages once', () =>
      withStorage(backend, async (storage) => {
        const { receiver, typing } = await setUp(storage);
        await receiver.receive(REMOTE, [
          {
            edu_type: 'm.presence',
            content: { push: [{ user_id: BOB, presence: 'online', last_active_ago: 5 }] },
          },
          {
            edu_type: 'm.presence',
            content: { push: [{ user_id: `@stranger:${REMOTE}`, presence: 'online' }] },
          },
        ]);
        assert.equal((await storage.presence.get(BOB))?.state, 'online');
        assert.equal(await storage.presence.get(`@stranger:${REMOTE}`), undefined);

        const toDevice = {
          edu_type: 'm.direct_to_device',
          content: {
            sender: BOB,
            type: 'm.room_key_request',
            message_id: 'm-1',
            messages: { [ALICE]: { '*': { hello: 1 } } },
          },
        };
        await receiver.receive(REMOTE, [toDevice]);
        await receiver.receive(REMOTE, [toDevice]);
        const pending = await storage.toDevice.pending(
          { userId: ALICE, deviceId: 'ADEV' },
          0,
          await storage.toDevice.maxPosition(),
          10,
        );
        assert.deepEqual(
          pending.map((m) => JSON.parse(m.messageJson)),
          [{ sender: BOB, type: 'm.room_key_request', content: { hello: 1 } }],
        );
        typing.close();
      }));

    it('marks a remote user’s device list changed; ignores bad EDUs', () =>
      withStorage(backend, async (storage) => {
        const { receiver, typing } = await setUp(storage);
        const before = await storage.deviceLists.maxPosition();
        await receiver.receive(REMOTE, [
          null,
          'junk',
          { edu_type: 'm.unknown', content: {} },
          { edu_type: 'm.typing', content: [] },
          {
            edu_type: 'm.device_list_update',
            content: { user_id: '@eve:elsewhere', device_id: 'X', stream_id: 1 },
          },
          {
            edu_type: 'm.device_list_update',
            content: { user_id: BOB, device_id: 'X', stream_id: 1 },
          },
        ]);
        const changed = await storage.deviceLists.changedUsers(
          ALICE,
          before,
          await storage.deviceLists.maxPosition(),
        );
        assert.deepEqual(changed, [BOB]);
        typing.close();
      }));
  });
}
