/**
 * matrix-js-sdk@37.5.0 with thread support on, against a real Weft: one client
 * posts a thread reply; the other client's SDK places it in the thread
 * (`room.getThread(rootId)`) with the right reply count. The SDK turns on
 * server-side threads itself, from /versions listing v1.4.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FeatureSupport, MsgType } from 'matrix-js-sdk';
import { CLIENT_V3, type Session } from '../support/client.js';
import { messageArrives, sdkSuite, withTimeout } from '../support/sdk.js';

describe('matrix-js-sdk threads', { timeout: 60_000 }, () => {
  const suite = sdkSuite();
  const { clients, api } = suite;
  const [alice, bob] = suite.users('sdkalice', 'sdkbob');
  const startedClient = (session: Session) =>
    clients.started(session, { initialSyncLimit: 10, threadSupport: true });

  it('places a thread reply from another client in its thread, with the reply count', async () => {
    const roomId = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.join(bob, roomId);
    const rootId = await suite.send(alice, roomId, 'thread root');
    // One reply before the clients start: it reaches them through the bundled aggregation.
    const earlier = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/early`,
      {
        msgtype: 'm.text',
        body: 'early reply',
        'm.relates_to': { rel_type: 'm.thread', event_id: rootId },
      },
      { token: alice.access_token },
    );
    assert.equal(earlier.status, 200);

    const aliceClient = await startedClient(alice);
    const bobClient = await startedClient(bob);
    // From /versions alone: stable threads, the threads list and forward pagination.
    assert.deepEqual(await bobClient.doesServerSupportThread(), {
      threads: FeatureSupport.Stable,
      list: FeatureSupport.Stable,
      fwdPagination: FeatureSupport.Stable,
    });
    const arrives = messageArrives(bobClient, roomId, 'in the thread');
    await aliceClient.sendMessage(roomId, rootId, {
      msgtype: MsgType.Text,
      body: 'in the thread',
    });
    const reply = await withTimeout(arrives, 10_000, 'bob receives the reply');
    assert.equal(reply.threadRootId, rootId);

    const thread = bobClient.getRoom(roomId)?.getThread(rootId);
    assert.ok(thread, 'bob’s SDK knows the thread');
    // The SDK counts a live reply on top of a root it may have just refetched with the
    // reply already counted, and corrects itself on its next refetch: wait until it settles.
    await withTimeout(
      (async () => {
        while (thread.length !== 2) await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      5_000,
      `the thread has both replies (length ${thread.length})`,
    );
    assert.equal(thread.length, 2);
    assert.equal(thread.replyToEvent?.getContent().body, 'in the thread');
  });
});
