/**
 * Contract tests of the to-device store on every backend: queues per device,
 * the sender's transaction making an enqueue idempotent, acknowledgement, the
 * toDevice stream's positions; and the answers about empty queues (which the
 * stores keep in memory) checked against later reads after every kind of write.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Storage, ToDeviceRecipient } from '../../src/storage/storage.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';
import { createDevices } from '../support/e2ee-storage-fixtures.js';

const ALICE = '@alice:test';
const BOB = '@bob:test';
const PHONE: ToDeviceRecipient = { userId: BOB, deviceId: 'PHONE' };
const LAPTOP: ToDeviceRecipient = { userId: BOB, deviceId: 'LAPTOP' };

const senderTransaction = (txnId: string, endpoint = 'sendToDevice/m.test', deviceId = 'A') => ({
  userId: ALICE,
  deviceId,
  endpoint,
  txnId,
});

/** Sends one message to each recipient in one transaction; its last position. */
async function send(storage: Storage, txnId: string, ...recipients: ToDeviceRecipient[]) {
  const done = await storage.toDevice.enqueue(
    senderTransaction(txnId),
    recipients.map((recipient) => ({ recipient, messageJson: JSON.stringify({ txnId }) })),
  );
  assert.ok(done, `transaction ${txnId} is new`);
  return done.lastPosition;
}

async function positions(
  storage: Storage,
  device: ToDeviceRecipient,
  after: number,
  upTo: number,
  limit = 100,
) {
  return (await storage.toDevice.pending(device, after, upTo, limit)).map((m) => m.position);
}

/** One /sync's to-device reads, as the to-device service makes them. */
async function syncOnce(storage: Storage, device: ToDeviceRecipient, since: number) {
  const upTo = await storage.toDevice.maxPosition();
  if (since > 0) await storage.toDevice.acknowledge(device, since);
  return positions(storage, device, since, upTo);
}

for (const backend of storageBackends()) {
  describe(`to-device on ${backend.name}`, () => {
    it('queues messages per device at growing positions', () =>
      withStorage(backend, async (storage, reopen) => {
        assert.equal(await storage.toDevice.maxPosition(), 0);
        const done = await storage.toDevice.enqueue(senderTransaction('t1'), [
          { recipient: LAPTOP, messageJson: '{"n":1}' },
          { recipient: PHONE, messageJson: '{"n":2}' },
          { recipient: PHONE, messageJson: '{"n":3}' },
        ]);
        assert.ok(done);
        const last = done.lastPosition;
        assert.equal(await storage.toDevice.maxPosition(), last);
        assert.deepEqual(await storage.toDevice.pending(PHONE, 0, last, 10), [
          { position: last - 1, messageJson: '{"n":2}' },
          { position: last, messageJson: '{"n":3}' },
        ]);
        assert.deepEqual(await storage.toDevice.pending(LAPTOP, 0, last, 10), [
          { position: last - 2, messageJson: '{"n":1}' },
        ]);
        // (after, upTo], at most `limit`, oldest first.
        assert.deepEqual(await positions(storage, PHONE, 0, last, 1), [last - 1]);
        assert.deepEqual(await positions(storage, PHONE, last - 1, last), [last]);
        assert.deepEqual(await positions(storage, PHONE, 0, last - 1), [last - 1]);
        assert.deepEqual(await positions(storage, PHONE, 0, last, 0), []);
        assert.deepEqual(await positions(storage, { userId: ALICE, deviceId: 'A' }, 0, last), []);
        storage = await reopen();
        assert.equal(await storage.toDevice.maxPosition(), last);
        assert.deepEqual(await positions(storage, PHONE, 0, last), [last - 1, last]);
        const after = await send(storage, 't2', PHONE);
        assert.ok(after > last);
        assert.deepEqual(await positions(storage, PHONE, 0, after), [last - 1, last, after]);
      }));

    it('deletes what a device acknowledged, and only that', () =>
      withStorage(backend, async (storage) => {
        const first = await send(storage, 't1', PHONE, LAPTOP);
        const second = await send(storage, 't2', PHONE);
        await storage.toDevice.acknowledge(PHONE, first);
        assert.deepEqual(await positions(storage, PHONE, 0, second), [second]);
        assert.deepEqual(await positions(storage, LAPTOP, 0, second), [first]);
        await storage.toDevice.acknowledge(PHONE, second + 10);
        assert.deepEqual(await positions(storage, PHONE, 0, second), []);
        // Positions never go back, though the messages are gone.
        assert.equal(await storage.toDevice.maxPosition(), second);
      }));

    it('queues a transaction once: a retry, even concurrent, queues nothing', () =>
      withStorage(backend, async (storage, reopen) => {
        const message = { recipient: PHONE, messageJson: '{}' };
        const results = await Promise.all(
          Array.from({ length: 8 }, () =>
            storage.toDevice.enqueue(senderTransaction('same'), [message]),
          ),
        );
        const done = results.filter((r) => r !== undefined);
        assert.equal(done.length, 1);
        storage = await reopen();
        assert.equal(
          await storage.toDevice.enqueue(senderTransaction('same'), [message]),
          undefined,
        );
        const upTo = await storage.toDevice.maxPosition();
        assert.deepEqual(await positions(storage, PHONE, 0, upTo), [done[0]!.lastPosition]);
        // The same txnId from another endpoint or device is another transaction.
        assert.ok(
          await storage.toDevice.enqueue(senderTransaction('same', 'sendToDevice/other'), [
            message,
          ]),
        );
        assert.ok(
          await storage.toDevice.enqueue(senderTransaction('same', undefined, 'B'), [message]),
        );
        // A transaction without messages is recorded too.
        assert.deepEqual(await storage.toDevice.enqueue(senderTransaction('empty'), []), {
          lastPosition: 0,
        });
        assert.equal(await storage.toDevice.enqueue(senderTransaction('empty'), []), undefined);
      }));

    it('gives concurrent sends distinct positions, all delivered in order', () =>
      withStorage(backend, async (storage) => {
        const lasts = await Promise.all(
          Array.from({ length: 20 }, (_, i) => send(storage, `t${i}`, PHONE, LAPTOP)),
        );
        const max = await storage.toDevice.maxPosition();
        assert.equal(max, Math.max(...lasts));
        const phone = await positions(storage, PHONE, 0, max);
        const laptop = await positions(storage, LAPTOP, 0, max);
        assert.equal(new Set([...phone, ...laptop]).size, 40);
        // Each send's two positions in its recipients' order: PHONE's, then LAPTOP's (its last).
        assert.deepEqual(
          laptop,
          [...lasts].sort((a, b) => a - b),
        );
        assert.deepEqual(
          phone,
          laptop.map((p) => p - 1),
        );
      }));

    it('sees a message sent to a queue found empty', () =>
      withStorage(backend, async (storage) => {
        assert.deepEqual(await syncOnce(storage, PHONE, 0), []);
        assert.deepEqual(await syncOnce(storage, PHONE, 0), []);
        const first = await send(storage, 't1', PHONE);
        assert.deepEqual(await syncOnce(storage, PHONE, 0), [first]);
        assert.deepEqual(await syncOnce(storage, PHONE, first), []);
        assert.deepEqual(await syncOnce(storage, PHONE, first), []);
        const second = await send(storage, 't2', LAPTOP, PHONE);
        assert.deepEqual(await syncOnce(storage, PHONE, first), [second]);
        assert.deepEqual(await syncOnce(storage, LAPTOP, 0), [second - 1]);
        // A message sent between a sync's acknowledge and its read.
        await storage.toDevice.acknowledge(PHONE, second);
        const third = await send(storage, 't3', PHONE);
        assert.deepEqual(await positions(storage, PHONE, second, second), []);
        assert.deepEqual(await syncOnce(storage, PHONE, second), [third]);
      }));

    it('is not fooled by messages outside the range it found empty', () =>
      withStorage(backend, async (storage) => {
        const first = await send(storage, 't1', PHONE);
        const second = await send(storage, 't2', PHONE);
        // Above the range: a sync whose bound was taken before `second`.
        assert.deepEqual(await positions(storage, PHONE, first, first), []);
        assert.deepEqual(await positions(storage, PHONE, first, second), [second]);
        // Below it: an older acknowledge left `second` in place.
        await storage.toDevice.acknowledge(PHONE, first);
        assert.deepEqual(await positions(storage, PHONE, second, second), []);
        assert.deepEqual(await positions(storage, PHONE, first, second), [second]);
        // A backlog delivered in parts.
        const third = await send(storage, 't3', PHONE);
        assert.deepEqual(await positions(storage, PHONE, first, third, 1), [second]);
        assert.deepEqual(await positions(storage, PHONE, second, third), [third]);
        // An acknowledge past the newest position, then a message below it.
        await storage.toDevice.acknowledge(PHONE, third + 100);
        const fourth = await send(storage, 't4', PHONE);
        assert.deepEqual(await positions(storage, PHONE, third + 100, third + 100), []);
        assert.deepEqual(await positions(storage, PHONE, 0, fourth), [fourth]);
      }));

    it('loses no message sent while syncs of the device run', () =>
      withStorage(backend, async (storage) => {
        let since = 0;
        const delivered: number[] = [];
        const sent: number[] = [];
        for (let round = 0; round < 6; round++) {
          // Syncs and sends in flight together: a sync may find the queue empty meanwhile.
          const [batches, lasts] = await Promise.all([
            Promise.all([syncOnce(storage, PHONE, since), syncOnce(storage, PHONE, since)]),
            Promise.all(
              Array.from({ length: 4 }, (_, i) => send(storage, `r${round}-${i}`, PHONE)),
            ),
          ]);
          const batch = batches[0].length >= batches[1].length ? batches[0] : batches[1];
          delivered.push(...batch);
          since = batch.at(-1) ?? since;
          sent.push(...lasts);
        }
        for (;;) {
          const batch = await syncOnce(storage, PHONE, since);
          if (batch.length === 0) break;
          delivered.push(...batch);
          since = batch.at(-1)!;
        }
        assert.deepEqual(
          [...new Set(delivered)].sort((a, b) => a - b),
          [...sent].sort((a, b) => a - b),
        );
      }));

    it('answers only what is stored, with bounds past the stream while sends are in flight', () =>
      withStorage(backend, async (storage, reopen) => {
        // No sync does this (its bounds are the stream's); the store copes anyway.
        const FUTURE = 1_000_000;
        const devices = Array.from({ length: 6 }, (_, i) => ({ userId: BOB, deviceId: `D${i}` }));
        const answered = new Map<string, number[]>();
        for (const [i, device] of devices.entries()) {
          const sending = send(storage, `t${i}`, device);
          await Promise.all([
            storage.toDevice.acknowledge(device, FUTURE),
            positions(storage, device, 0, FUTURE),
          ]);
          await sending;
          const max = await storage.toDevice.maxPosition();
          // Whatever these found, a later read must agree with the database.
          await positions(storage, device, max, max);
          answered.set(device.deviceId, await positions(storage, device, 0, max));
        }
        // Reopened, the store knows nothing of the queues: it reads the database.
        storage = await reopen();
        const max = await storage.toDevice.maxPosition();
        for (const device of devices) {
          assert.deepEqual(
            await positions(storage, device, 0, max),
            answered.get(device.deviceId),
            device.deviceId,
          );
        }
      }));

    it('drops the queue of a deleted device', () =>
      withStorage(backend, async (storage) => {
        await createDevices(storage, BOB, 'PHONE', 'LAPTOP');
        const last = await send(storage, 't1', PHONE, LAPTOP);
        await storage.devices.deleteDevices(BOB, ['PHONE']);
        assert.deepEqual(await positions(storage, PHONE, 0, last), []);
        assert.deepEqual(await positions(storage, LAPTOP, 0, last), [last]);
      }));
  });
}
