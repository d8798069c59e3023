/**
 * matrix-js-sdk@37.5.0 with its own sync loop against a real Weft: two clients
 * call `startClient()`, exchange messages, each sees the other's message arrive
 * through the SDK's sync, and then `scrollback` loads older history through
 * /messages.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MsgType } from 'matrix-js-sdk';
import type { Session } from '../support/client.js';
import { messageArrives, sdkSuite, withTimeout } from '../support/sdk.js';

describe('matrix-js-sdk sync loop', { timeout: 60_000 }, () => {
  const suite = sdkSuite();
  const { clients } = suite;
  const [alice, bob] = suite.users('sdkalice', 'sdkbob');
  const startedClient = (session: Session) =>
    clients.started(session, { initialSyncLimit: 5, lazyLoadMembers: true });

  it('two started clients see each other’s messages through sync, then scroll back', async () => {
    const roomId = await suite.createRoom(alice, { preset: 'public_chat', name: 'SDK sync' });
    await suite.join(bob, roomId);
    // Older history, before either client starts: scrollback must fetch it.
    for (let i = 0; i < 12; i++) await suite.send(alice, roomId, `old ${i}`);

    const aliceClient = await startedClient(alice);
    const bobClient = await startedClient(bob);
    assert.equal(bobClient.getRoom(roomId)?.name, 'SDK sync');

    const toBob = messageArrives(bobClient, roomId, 'hello bob');
    await aliceClient.sendMessage(roomId, { msgtype: MsgType.Text, body: 'hello bob' });
    const atBob = await withTimeout(toBob, 10_000, 'bob receives');
    assert.equal(atBob.getSender(), alice.user_id);

    const toAlice = messageArrives(aliceClient, roomId, 'hello alice');
    await bobClient.sendMessage(roomId, { msgtype: MsgType.Text, body: 'hello alice' });
    const atAlice = await withTimeout(toAlice, 10_000, 'alice receives');
    assert.equal(atAlice.getSender(), bob.user_id);

    const room = bobClient.getRoom(roomId)!;
    const bodiesOf = () =>
      room
        .getLiveTimeline()
        .getEvents()
        .map((e) => e.getContent().body)
        .filter((b): b is string => typeof b === 'string');
    assert.ok(!bodiesOf().includes('old 0'), 'the oldest message is not in the initial timeline');
    for (let i = 0; i < 5 && !bodiesOf().includes('old 0'); i++) {
      await bobClient.scrollback(room, 10);
    }
    const bodies = bodiesOf();
    assert.ok(bodies.includes('old 0'), `scrollback reached the oldest message: ${bodies}`);
    const expected = [
      ...Array.from({ length: 12 }, (_, i) => `old ${i}`),
      'hello bob',
      'hello alice',
    ];
    assert.deepEqual(bodies, expected, 'every message once, in order');
  });
});
