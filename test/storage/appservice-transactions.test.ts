/**
 * Application service delivery state on every backend: a new service's row
 * starts where it is initialised (and a second initialise keeps it), a begun
 * transaction is read back byte for byte, completing it moves the position and
 * clears it in one step (another txnId changes nothing), skipping never moves
 * back nor past a transaction in flight, and events are listed in stream order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestRoom } from '../support/stored-events.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

for (const backend of storageBackends()) {
  describe(`application service delivery (${backend.name})`, () => {
    it('keeps the position and the transaction in flight', () =>
      withStorage(backend, async (storage) => {
        const store = storage.appServiceTransactions;
        assert.equal(await store.state('bridge'), undefined);
        await store.initialise('bridge', 7);
        await store.initialise('bridge', 99);
        assert.deepEqual(await store.state('bridge'), { deliveredUpTo: 7, lastTxnNumber: 0 });

        const body = JSON.stringify({ events: [{ event_id: '$é', content: { body: 'ünï' } }] });
        await store.begin('bridge', 1, { txnId: '1', body, upTo: 12 });
        assert.deepEqual(await store.state('bridge'), {
          deliveredUpTo: 7,
          lastTxnNumber: 1,
          inFlight: { txnId: '1', body, upTo: 12 },
        });
        await store.skipTo('bridge', 20);
        assert.equal((await store.state('bridge'))!.deliveredUpTo, 7, 'not past a transaction');
        await store.complete('bridge', '2');
        assert.ok((await store.state('bridge'))!.inFlight, 'another txnId completes nothing');

        await store.complete('bridge', '1');
        assert.deepEqual(await store.state('bridge'), { deliveredUpTo: 12, lastTxnNumber: 1 });
        await store.skipTo('bridge', 30);
        await store.skipTo('bridge', 25);
        assert.equal((await store.state('bridge'))!.deliveredUpTo, 30, 'never back');
        assert.equal(await store.state('other'), undefined, 'per service');
      }));

    it('lists event IDs after a position, in stream order', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage, '!as:localhost');
        const a = await room.send({ eventId: '$a' });
        const b = await room.send({ eventId: '$b' });
        const c = await room.send({ eventId: '$c' });
        const store = storage.appServiceTransactions;
        assert.deepEqual(await store.eventIdsAfter(a.streamOrdering, c.streamOrdering, 10), [
          '$b',
          '$c',
        ]);
        assert.deepEqual(await store.eventIdsAfter(a.streamOrdering, c.streamOrdering, 1), ['$b']);
        assert.deepEqual(await store.eventIdsAfter(b.streamOrdering, b.streamOrdering, 10), []);
      }));
  });
}
