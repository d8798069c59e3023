/** /sendToDevice and the to_device part of /sync: order, idempotency, acknowledgement, backlogs. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { assertResponseMatchesSpec, assertSpecError } from '../support/spec-schemas.js';

type ToDeviceEvent = { sender: string; type: string; content: Record<string, unknown> };
interface SyncBody {
  next_batch: string;
  to_device: { events: ToDeviceEvent[] };
}

describe('to-device messages', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob] = suite.users('alice', 'bob');
  let txn = 0;

  const send = async (
    from: Session,
    messages: Record<string, Record<string, unknown>>,
    options: { type?: string; txnId?: string } = {},
  ) => {
    const type = options.type ?? 'm.test';
    const txnId = options.txnId ?? `t${++txn}`;
    const path = `${CLIENT_V3}/sendToDevice/${type}/${txnId}`;
    const res = await api.put(path, { messages }, { token: from.access_token });
    if (res.status === 200) {
      assertResponseMatchesSpec(
        'put',
        `${CLIENT_V3}/sendToDevice/{eventType}/{txnId}`,
        200,
        res.body,
      );
    }
    return res;
  };
  const sync = (who: Session, since?: string, timeout = 0) =>
    suite.sync<SyncBody>(who, { timeout: String(timeout), ...(since ? { since } : {}) });
  const numbers = (body: SyncBody) => body.to_device.events.map((e) => e.content.n);

  it('delivers in arrival order, and keeps messages until a later sync acknowledges them', async () => {
    const start = await sync(bob);
    for (let n = 1; n <= 3; n++) {
      assert.equal((await send(alice, { [bob.user_id]: { [bob.device_id]: { n } } })).status, 200);
    }
    const first = await sync(bob, start.next_batch);
    assert.deepEqual(numbers(first), [1, 2, 3]);
    assert.deepEqual(first.to_device.events[0], {
      sender: alice.user_id,
      type: 'm.test',
      content: { n: 1 },
    });
    const repeated = await sync(bob, start.next_batch);
    assert.deepEqual(numbers(repeated), [1, 2, 3], 'not acknowledged: delivered again');
    const acknowledged = await sync(bob, first.next_batch);
    assert.deepEqual(numbers(acknowledged), []);
    await send(alice, { [bob.user_id]: { [bob.device_id]: { n: 4 } } });
    assert.deepEqual(numbers(await sync(bob, first.next_batch)), [4]);
    const replay = await sync(bob, start.next_batch);
    assert.deepEqual(numbers(replay), [4], 'acknowledged messages are deleted');
  });

  it('is idempotent per sending device, event type and transaction ID', async () => {
    const start = await sync(bob);
    const message = (n: number) => ({ [bob.user_id]: { [bob.device_id]: { n } } });
    await send(alice, message(1), { txnId: 'same' });
    await send(alice, message(1), { txnId: 'same' });
    await send(alice, message(2), { txnId: 'same', type: 'm.other' });
    const aliceElsewhere = (await api.login('alice')).body;
    await send(aliceElsewhere, message(3), { txnId: 'same' });
    const got = await sync(bob, start.next_batch);
    assert.deepEqual(numbers(got), [1, 2, 3]);
    assert.deepEqual(
      got.to_device.events.map((e) => e.type),
      ['m.test', 'm.other', 'm.test'],
    );
  });

  it('sends to every device of a user with *, and drops messages to unknown devices', async () => {
    const bob2 = (await api.login('bob')).body;
    const [start1, start2] = [await sync(bob), await sync(bob2)];
    await send(alice, { [bob.user_id]: { '*': { n: 7 } } });
    await send(alice, { [bob.user_id]: { NOSUCHDEVICE: { n: 8 } }, '@ghost:localhost': { X: {} } });
    assert.deepEqual(numbers(await sync(bob, start1.next_batch)), [7]);
    assert.deepEqual(numbers(await sync(bob2, start2.next_batch)), [7]);
  });

  it('wakes a waiting sync when a message arrives', async () => {
    const start = await sync(bob);
    const waiting = sync(bob, start.next_batch, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const began = Date.now();
    await send(alice, { [bob.user_id]: { [bob.device_id]: { n: 42 } } });
    const woken = await waiting;
    assert.deepEqual(numbers(woken), [42]);
    assert.ok(Date.now() - began < 5_000, 'answered on arrival, not at the timeout');
  });

  it('spreads a backlog over syncs of at most 100, each next one answering at once, in order', async () => {
    const start = await sync(bob);
    const total = 250;
    for (let n = 1; n <= total; n++) {
      await send(alice, { [bob.user_id]: { [bob.device_id]: { n } } }, { txnId: `bl${n}` });
    }
    const seen: number[] = [];
    let since = start.next_batch;
    const sizes: number[] = [];
    while (seen.length < total) {
      const began = Date.now();
      const body = await sync(bob, since, 20_000);
      assert.ok(Date.now() - began < 5_000, 'a backlog answers at once');
      sizes.push(body.to_device.events.length);
      seen.push(...(numbers(body) as number[]));
      since = body.next_batch;
    }
    assert.deepEqual(sizes, [100, 100, 50]);
    assert.deepEqual(
      seen,
      Array.from({ length: total }, (_, i) => i + 1),
      'each once, in arrival order',
    );
    assert.deepEqual(numbers(await sync(bob, since)), []);
  });

  it('refuses a message over the size limit, and malformed bodies', async () => {
    const big = { [bob.user_id]: { [bob.device_id]: { data: 'x'.repeat(70_000) } } };
    const tooLarge = await send(alice, big);
    assert.equal(tooLarge.status, 413);
    assertSpecError(tooLarge.body, 'M_TOO_LARGE');
    const path = `${CLIENT_V3}/sendToDevice/m.test/bad1`;
    const noMessages = await api.put(path, { messages: 'x' }, { token: alice.access_token });
    assert.equal(noMessages.status, 400);
    assertSpecError(noMessages.body, 'M_BAD_JSON');
  });

  it('drops the queue of a deleted device', async () => {
    const phone = (await api.login('bob', undefined, { device_id: 'PHONE' })).body;
    await send(alice, { [bob.user_id]: { PHONE: { n: 1 } } });
    const deleted = await api.withPasswordAuth(
      'DELETE',
      `${CLIENT_V3}/devices/PHONE`,
      {},
      { token: bob.access_token, user: 'bob' },
    );
    assert.equal(deleted.status, 200);
    const again = (await api.login('bob', undefined, { device_id: 'PHONE' })).body;
    assert.notEqual(again.access_token, phone.access_token);
    assert.deepEqual(numbers(await sync(again)), [], 'the old device’s messages went with it');
  });
});
