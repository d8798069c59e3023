/**
 * matrix-js-sdk@37.5.0 with its own sync loop: one client sets its display
 * name, sends a typing notification and a read receipt; the other client's
 * SDK shows the new name, the typing user and the receipt on the right event.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Session } from '../support/client.js';
import { messageArrives, sdkSuite, until } from '../support/sdk.js';

describe('matrix-js-sdk: profiles, typing and receipts', { timeout: 60_000 }, () => {
  const suite = sdkSuite();
  const { clients } = suite;
  const [alice, bob] = suite.users('sdkalice', 'sdkbob');
  const startedClient = (session: Session) => clients.started(session);

  it('the other client shows the new name, the typing user and the receipt', async () => {
    const roomId = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.join(bob, roomId);
    const aliceClient = await startedClient(alice);
    const bobClient = await startedClient(bob);
    const bobRoom = () => bobClient.getRoom(roomId);
    await until(() => bobRoom() !== null, 'bob has the room');

    const atAlice = messageArrives(aliceClient, roomId, 'read me');
    await bobClient.sendTextMessage(roomId, 'read me');
    const message = await atAlice;

    // The receipt first: the SDK reads a user's own later events (the new member event) as read.
    await aliceClient.sendReadReceipt(message);
    await until(
      () => bobRoom()?.getEventReadUpTo(alice.user_id) === message.getId(),
      'bob sees alice’s receipt on the message',
    );
    const readers = bobRoom()!.getUsersReadUpTo(message);
    assert.ok(readers.includes(alice.user_id), `readers: ${readers}`);

    await aliceClient.setDisplayName('Alice Renamed');
    await until(
      () => bobRoom()?.getMember(alice.user_id)?.name === 'Alice Renamed',
      'bob sees the new display name',
    );

    await aliceClient.sendTyping(roomId, true, 20_000);
    await until(
      () => bobRoom()?.getMember(alice.user_id)?.typing === true,
      'bob sees alice typing',
    );
  });
});
