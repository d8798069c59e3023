/**
 * matrix-js-sdk@37.5.0's own simplified sliding sync (its SlidingSync and
 * SlidingSyncSdk, what Element Web's sliding sync uses) against a real Weft:
 * the client starts on the room list, knows each room's name and members,
 * gets the newest messages, sees a live one arrive, and the list counts a room
 * it is invited to.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MsgType } from 'matrix-js-sdk';
import { SlidingSync, type MSC3575List } from 'matrix-js-sdk/lib/sliding-sync.js';
import { ROOM_LIST_REQUIRED_STATE } from '../support/element-x.js';
import { messageArrives, sdkSuite, until, withTimeout } from '../support/sdk.js';

describe('matrix-js-sdk with simplified sliding sync', { timeout: 60_000 }, () => {
  const suite = sdkSuite();
  const { clients } = suite;
  const [alice, bob] = suite.users('ssalice', 'ssbob');

  it('starts on the room list, then sees a live message and a new invite', async () => {
    const roomId = await suite.createRoom(alice, { preset: 'public_chat', name: 'Sliding' });
    await suite.join(bob, roomId);
    for (let i = 0; i < 3; i++) await suite.send(alice, roomId, `before ${i}`);

    const allRooms: MSC3575List = {
      ranges: [[0, 19]],
      required_state: ROOM_LIST_REQUIRED_STATE,
      timeline_limit: 10,
    };
    const client = clients.create(bob);
    const sliding = new SlidingSync(
      suite.server.url,
      new Map([['all_rooms', allRooms]]),
      { required_state: [['*', '*']], timeline_limit: 20 },
      client,
      5_000,
    );
    await client.startClient({ slidingSync: sliding });
    await until(() => client.getRoom(roomId)?.name === 'Sliding', 'the room from the list');
    const room = client.getRoom(roomId)!;
    const bodies = () =>
      room
        .getLiveTimeline()
        .getEvents()
        .map((event) => event.getContent().body);
    await until(() => bodies().includes('before 2'), 'the newest messages');
    assert.deepEqual(
      room
        .getJoinedMembers()
        .map((member) => member.userId)
        .sort(),
      [alice.user_id, bob.user_id].sort(),
    );
    assert.equal(sliding.getListData('all_rooms')?.joinedCount, 1);

    const live = messageArrives(client, roomId, 'live one');
    await suite.api.put(
      `/_matrix/client/v3/rooms/${roomId}/send/m.room.message/live-1`,
      { msgtype: MsgType.Text, body: 'live one' },
      { token: alice.access_token },
    );
    const arrived = await withTimeout(live, 10_000, 'the live message');
    assert.equal(arrived.getSender(), alice.user_id);

    const other = await suite.createRoom(alice, { name: 'Invite' });
    await suite.invite(alice, other, bob.user_id);
    await until(() => sliding.getListData('all_rooms')?.joinedCount === 2, 'the invite counted');
    await until(() => client.getRoom(other)?.getMyMembership() === 'invite', 'the invite');
  });
});
