/**
 * To-device crash safety: a message delivered by a sync whose response the
 * client never acknowledged survives a SIGKILL of the server, and is delivered
 * again to the repeated sync; acknowledged ones are not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, type Session } from '../support/client.js';
import { restartableServer } from '../support/process.js';

type SyncBody = { next_batch: string; to_device: { events: { content: { n: number } }[] } };

describe('to-device messages across SIGKILL', { timeout: 60_000 }, () => {
  const { start, api } = restartableServer();

  it('keeps delivered but unacknowledged messages', async () => {
    const first = await start();
    const alice = await api.register('alice');
    const bob = await api.register('bob');
    const sync = async (who: Session, since?: string) => {
      const query = since ? `&since=${since}` : '';
      const res = await api.get(`${CLIENT_V3}/sync?timeout=0${query}`, { token: who.access_token });
      assert.equal(res.status, 200);
      return res.body as unknown as SyncBody;
    };
    const send = async (n: number) => {
      const res = await api.put(
        `${CLIENT_V3}/sendToDevice/m.test/t${n}`,
        { messages: { [bob.user_id]: { [bob.device_id]: { n } } } },
        { token: alice.access_token },
      );
      assert.equal(res.status, 200);
    };
    const start0 = await sync(bob);
    await send(1);
    const delivered = await sync(bob, start0.next_batch);
    assert.deepEqual(
      delivered.to_device.events.map((e) => e.content.n),
      [1],
    );
    await send(2);
    // The client "crashes" with the response of `delivered`; the server is killed too.
    await first.kill();

    await start();
    const again = await sync(bob, start0.next_batch);
    assert.deepEqual(
      again.to_device.events.map((e) => e.content.n),
      [1, 2],
      'nothing lost',
    );
    const acknowledged = await sync(bob, again.next_batch);
    assert.deepEqual(acknowledged.to_device.events, []);
  });
});
