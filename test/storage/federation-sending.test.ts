/**
 * The federation sender's tables on every backend: stream marks (initialised
 * once, moved only forward, with the rows they cover), per-destination PDU
 * queues (stream order, a repeat kept once), durable EDUs (insertion order),
 * removal of exactly the acknowledged rows, backoff, and the stream reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestRoom } from '../support/stored-events.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

for (const backend of storageBackends()) {
  describe(`federation sending store (${backend.name})`, () => {
    it('initialises a mark once and moves it only forward, with the PDUs', () =>
      withStorage(backend, async (storage) => {
        const store = storage.federationSending;
        assert.equal(await store.position('events'), undefined);
        await store.initialisePosition('events', 5);
        await store.initialisePosition('events', 50);
        assert.equal(await store.position('events'), 5);
        await store.enqueuePdus(
          [
            { destination: 'b.test', streamOrdering: 9, eventId: '$9' },
            { destination: 'a.test', streamOrdering: 7, eventId: '$7' },
            { destination: 'b.test', streamOrdering: 7, eventId: '$7' },
          ],
          9,
        );
        assert.equal(await store.position('events'), 9);
        // A repeat after a crash: the row is kept once; the mark never goes back.
        await store.enqueuePdus([{ destination: 'b.test', streamOrdering: 7, eventId: '$7' }], 8);
        assert.equal(await store.position('events'), 9);
        assert.deepEqual(await store.pendingPdus('b.test', 10), [
          { destination: 'b.test', streamOrdering: 7, eventId: '$7' },
          { destination: 'b.test', streamOrdering: 9, eventId: '$9' },
        ]);
        assert.equal((await store.pendingPdus('b.test', 1)).length, 1);
        assert.equal(await store.pduBacklog('b.test'), 2);
        assert.equal(await store.position('deviceLists'), undefined, 'marks are per stream');
      }));

    it('keeps EDUs in order per destination and removes only what was sent', () =>
      withStorage(backend, async (storage) => {
        const store = storage.federationSending;
        await store.enqueueEdus([
          { destination: 'a.test', eduType: 'm.direct_to_device', contentJson: '{"n":1}' },
          { destination: 'b.test', eduType: 'm.direct_to_device', contentJson: '{"n":2}' },
          { destination: 'a.test', eduType: 'm.device_list_update', contentJson: '{"é":3}' },
        ]);
        await store.enqueueEdus([], { stream: 'deviceLists', upTo: 4 });
        assert.equal(await store.position('deviceLists'), 4);
        await store.enqueuePdus([{ destination: 'c.test', streamOrdering: 1, eventId: '$1' }], 1);
        assert.deepEqual((await store.destinationsWithQueues()).sort(), [
          'a.test',
          'b.test',
          'c.test',
        ]);
        const edus = await store.pendingEdus('a.test', 10);
        assert.deepEqual(
          edus.map((edu) => [edu.eduType, edu.contentJson]),
          [
            ['m.direct_to_device', '{"n":1}'],
            ['m.device_list_update', '{"é":3}'],
          ],
        );
        assert.ok(edus[0]!.id < edus[1]!.id);
        await store.removeSent('a.test', [], [edus[0]!.id]);
        assert.deepEqual(
          (await store.pendingEdus('a.test', 10)).map((edu) => edu.id),
          [edus[1]!.id],
        );
        // Another destination's row with that ID is not touched.
        const [other] = await store.pendingEdus('b.test', 10);
        await store.removeSent('a.test', [1], [other!.id]);
        assert.equal((await store.pendingEdus('b.test', 10)).length, 1);
        assert.equal((await store.pendingPdus('c.test', 10)).length, 1);
        await store.removeSent('c.test', [1], []);
        assert.deepEqual(await store.pendingPdus('c.test', 10), []);
      }));

    it('keeps a destination’s backoff until cleared', () =>
      withStorage(backend, async (storage) => {
        const store = storage.federationSending;
        assert.equal(await store.retry('a.test'), undefined);
        await store.setRetry('a.test', { failures: 1, retryAtTs: 1000 });
        await store.setRetry('a.test', { failures: 2, retryAtTs: 3000 });
        assert.deepEqual(await store.retry('a.test'), { failures: 2, retryAtTs: 3000 });
        await store.setRetry('a.test', undefined);
        assert.equal(await store.retry('a.test'), undefined);
      }));

    it('catching up, keeps only each room’s newest PDUs of one destination', () =>
      withStorage(backend, async (storage) => {
        const store = storage.federationSending;
        const busy = await TestRoom.create(storage, '!busy:localhost');
        const quiet = await TestRoom.create(storage, '!quiet:localhost');
        const queue = async (room: TestRoom, eventId: string) => {
          const sent = await room.send({ eventId });
          for (const destination of ['a.test', 'b.test']) {
            await store.enqueuePdus(
              [{ destination, streamOrdering: sent.streamOrdering, eventId }],
              0,
            );
          }
        };
        for (let i = 0; i < 5; i++) await queue(busy, `$busy${i}`);
        await queue(quiet, '$quiet0');
        await queue(busy, '$busy5');
        assert.equal(await store.dropOlderPdusPerRoom('b.test', 2), 4);
        const kept = (await store.pendingPdus('b.test', 100)).map((pdu) => pdu.eventId);
        assert.deepEqual(kept, ['$busy4', '$quiet0', '$busy5']);
        assert.equal(await store.pduBacklog('a.test'), 7, 'other destinations keep theirs');
        assert.equal(await store.dropOlderPdusPerRoom('b.test', 2), 0);
      }));

    it('reads the event stream after a position', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage, '!fed:localhost');
        const a = await room.send({ eventId: '$a' });
        await room.send({ eventId: '$b' });
        const c = await room.send({ eventId: '$c' });
        const store = storage.federationSending;
        assert.deepEqual(await store.eventIdsAfter(a.streamOrdering, c.streamOrdering, 10), [
          '$b',
          '$c',
        ]);
      }));
  });
}
