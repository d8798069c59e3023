/**
 * matrix-js-sdk@37.5.0 against a real Weft, in rooms: one client creates a
 * named room with a topic and invites a second; the second joins; both read
 * the room's state through the SDK and see the same thing; one sends a
 * message and the other fetches it by its event ID.
 *
 * Weft has no /sync yet, so no client is started (`startClient` is never
 * called): every call below is one of the SDK's plain request methods.
 * `joinRoom` works without sync: it POSTs /join/{roomId} and builds an empty
 * local Room; `sendEvent`/`sendMessage` work without a Room object too (the
 * room is looked up in the client's store, and a missing one is allowed).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventType, MatrixError, MsgType } from 'matrix-js-sdk';
import type { RoomMessageEventContent } from 'matrix-js-sdk/lib/types.js';
import { type Session } from '../support/fixture.js';
import { sdkSuite } from '../support/sdk.js';

interface StateEvent {
  type: string;
  state_key?: string;
  sender: string;
  event_id: string;
  room_id: string;
  content: Record<string, unknown>;
}

/** The room's state as a plain, comparable map: "type|state_key" → content. */
function stateMap(events: StateEvent[]): Map<string, Record<string, unknown>> {
  return new Map(events.map((e) => [`${e.type}|${e.state_key ?? ''}`, e.content]));
}

/** The members chunk as a sorted list of [user, membership]. */
function memberships(chunk: StateEvent[]): [string, unknown][] {
  return chunk
    .map((e): [string, unknown] => [String(e.state_key), e.content.membership])
    .sort(([a], [b]) => a.localeCompare(b));
}

const isMatrixError = (status: number, errcode: string) => (err: unknown) =>
  err instanceof MatrixError && err.httpStatus === status && err.errcode === errcode;

describe('matrix-js-sdk in rooms', { timeout: 30_000 }, () => {
  const { api, clients } = sdkSuite();
  const clientFor = (session: Session) => clients.create(session);

  it('creates a room, invites, joins; both see the same state; a message crosses', async () => {
    const alice = clientFor(await api.register('sdkalice'));
    const bob = clientFor(await api.register('sdkbob'));
    const aliceId = '@sdkalice:localhost';
    const bobId = '@sdkbob:localhost';

    const { room_id: roomId } = await alice.createRoom({
      name: 'SDK Lobby',
      topic: 'Made by matrix-js-sdk',
    });
    // Room version 12 (the default): "!" + the create event's reference hash, no server part.
    assert.match(roomId, /^![A-Za-z0-9_-]{43}$/);

    // Before the invite Bob is not in the room: he cannot read it, and cannot join it
    // (createRoom without a preset and private visibility is private_chat: invite only).
    await assert.rejects(bob.roomState(roomId), isMatrixError(403, 'M_FORBIDDEN'));
    await assert.rejects(bob.joinRoom(roomId), isMatrixError(403, 'M_FORBIDDEN'));

    assert.deepEqual(await alice.invite(roomId, bobId), {});
    const invited = await alice.members(roomId);
    assert.deepEqual(memberships(invited.chunk as StateEvent[]), [
      [aliceId, 'join'],
      [bobId, 'invite'],
    ]);
    // Invited is not joined: the room is not yet among Bob's joined rooms.
    assert.deepEqual((await bob.getJoinedRooms()).joined_rooms, []);

    const room = await bob.joinRoom(roomId);
    assert.equal(room.roomId, roomId);
    assert.deepEqual((await bob.getJoinedRooms()).joined_rooms, [roomId]);
    assert.deepEqual((await alice.getJoinedRooms()).joined_rooms, [roomId]);

    // Both read the whole state, and it is the same state.
    const aliceState = (await alice.roomState(roomId)) as unknown as StateEvent[];
    const bobState = (await bob.roomState(roomId)) as unknown as StateEvent[];
    assert.deepEqual(
      aliceState.map((e) => e.event_id).sort(),
      bobState.map((e) => e.event_id).sort(),
    );
    for (const event of bobState) assert.equal(event.room_id, roomId);
    const state = stateMap(bobState);
    assert.deepEqual(state.get('m.room.name|'), { name: 'SDK Lobby' });
    assert.equal(state.get('m.room.topic|')?.topic, 'Made by matrix-js-sdk');
    assert.equal(state.get(`m.room.member|${aliceId}`)?.membership, 'join');
    assert.equal(state.get(`m.room.member|${bobId}`)?.membership, 'join');
    assert.equal(state.get('m.room.join_rules|')?.join_rule, 'invite');
    assert.equal(state.get('m.room.create|')?.room_version, '12');
    const bobMember = bobState.find((e) => e.type === 'm.room.member' && e.state_key === bobId);
    assert.equal(bobMember?.sender, bobId, 'Bob joined himself');

    // Single state events, read by each.
    for (const client of [alice, bob]) {
      assert.deepEqual(await client.getStateEvent(roomId, 'm.room.name', ''), {
        name: 'SDK Lobby',
      });
      const topic = await client.getStateEvent(roomId, 'm.room.topic', '');
      assert.equal(topic.topic, 'Made by matrix-js-sdk');
      assert.deepEqual(topic['m.topic'], {
        'm.text': [{ body: 'Made by matrix-js-sdk', mimetype: 'text/plain' }],
      });
      await assert.rejects(
        client.getStateEvent(roomId, 'm.room.avatar', ''),
        isMatrixError(404, 'M_NOT_FOUND'),
      );

      const members = await client.members(roomId);
      assert.deepEqual(memberships(members.chunk as StateEvent[]), [
        [aliceId, 'join'],
        [bobId, 'join'],
      ]);
      const joined = await client.getJoinedRoomMembers(roomId);
      assert.deepEqual(Object.keys(joined.joined).sort(), [aliceId, bobId]);
    }

    // Bob sends a message through the SDK's own send path (no Room in Alice's store is needed).
    const content: RoomMessageEventContent = { msgtype: MsgType.Text, body: 'Hello from the SDK' };
    const sent = await bob.sendMessage(roomId, content, 'sdk-txn-1');
    assert.match(sent.event_id, /^\$[A-Za-z0-9_-]{43}$/);
    // A retry with the same transaction ID is the same event.
    const retried = await bob.sendMessage(roomId, content, 'sdk-txn-1');
    assert.equal(retried.event_id, sent.event_id);

    // Alice fetches it by ID.
    const fetched = await alice.fetchRoomEvent(roomId, sent.event_id);
    assert.equal(fetched.event_id, sent.event_id);
    assert.equal(fetched.room_id, roomId);
    assert.equal(fetched.sender, bobId);
    assert.equal(fetched.type, 'm.room.message');
    assert.deepEqual(fetched.content, content);
    assert.equal(typeof fetched.origin_server_ts, 'number');
    // The transaction ID is for the sender's own device only.
    assert.equal(fetched.unsigned?.transaction_id, undefined);

    // Alice answers with sendEvent; Bob reads the answer.
    const reply = await alice.sendEvent(roomId, EventType.RoomMessage, {
      msgtype: MsgType.Text,
      body: 'Hello back',
    });
    assert.match(reply.event_id, /^\$[A-Za-z0-9_-]{43}$/);
    assert.notEqual(reply.event_id, sent.event_id);
    const answer = await bob.fetchRoomEvent(roomId, reply.event_id);
    assert.equal(answer.sender, aliceId);
    assert.deepEqual(answer.content, { msgtype: 'm.text', body: 'Hello back' });

    // An event ID that does not exist is a 404 through the SDK.
    await assert.rejects(
      alice.fetchRoomEvent(roomId, '$doesnotexistdoesnotexistdoesnotexistdoesnot'),
      isMatrixError(404, 'M_NOT_FOUND'),
    );
  });

  // The spec's ClientEvent carries unsigned.transaction_id "if the client being given the
  // event is the same one which sent it"; GET /rooms/{roomId}/event/{eventId} returns a ClientEvent.
  it('gives the sending device its transaction_id back with the event, and no one else', async () => {
    const session = await api.register('sdktxn');
    const sender = clientFor(session);
    const { room_id: roomId } = await sender.createRoom({ name: 'Transactions' });
    const sent = await sender.sendEvent(
      roomId,
      EventType.RoomMessage,
      { msgtype: MsgType.Text, body: 'mine' },
      'sdk-txn-own',
    );
    const own = await sender.fetchRoomEvent(roomId, sent.event_id);
    assert.equal(own.unsigned?.transaction_id, 'sdk-txn-own');

    // The same user on another device does not get it.
    const login = await api.login('sdktxn');
    assert.equal(login.status, 200);
    const otherDevice = clientFor(login.body);
    const other = await otherDevice.fetchRoomEvent(roomId, sent.event_id);
    assert.equal(other.event_id, sent.event_id);
    assert.equal(other.unsigned?.transaction_id, undefined);
  });
});
