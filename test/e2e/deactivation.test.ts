/**
 * Deactivation leaves every room (as Synapse): joined rooms are left, pending
 * invites rejected and knocks withdrawn, by real leave events the members see;
 * queued with the deactivation, so a crash before the leaves is resumed at start.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openStorage } from '../../src/storage/open-storage.js';
import {
  Api,
  CLIENT_V3,
  serverSuite,
  type Session,
  type SyncEvent,
  withServer,
} from '../support/fixture.js';
import { assertResponseMatchesSpec } from '../support/spec-schemas.js';

interface MembersBody {
  chunk: SyncEvent[];
}

/** The user's membership in the room as another member's GET /members shows it. */
async function membershipIn(api: Api, viewer: Session, roomId: string, userId: string) {
  const res = await api.get<MembersBody>(`${CLIENT_V3}/rooms/${roomId}/members`, {
    token: viewer.access_token,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assertResponseMatchesSpec('get', `${CLIENT_V3}/rooms/{roomId}/members`, 200, res.body);
  return res.body.chunk.find((e) => e.state_key === userId)?.content.membership;
}

/** Waits (the leaves run in the background) until every room shows the user's membership. */
async function waitForMembership(
  api: Api,
  viewer: Session,
  roomIds: string[],
  userId: string,
  membership: string,
) {
  for (const roomId of roomIds) {
    for (let i = 0; i < 250; i++) {
      if ((await membershipIn(api, viewer, roomId, userId)) === membership) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(await membershipIn(api, viewer, roomId, userId), membership, roomId);
  }
}

describe('account deactivation leaves rooms', () => {
  const suite = serverSuite();
  const { api } = suite;

  const deactivate = async (who: Session, username: string) => {
    const res = await api.withPasswordAuth(
      'POST',
      `${CLIENT_V3}/account/deactivate`,
      {},
      {
        token: who.access_token,
        user: username,
      },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };

  it('leaves joined rooms, rejects invites and withdraws knocks, as events members see', async () => {
    const [alice, bob, zoe] = [
      await api.register('alice'),
      await api.register('bob'),
      await api.register('zoe'),
    ];
    const aliceRoom = await suite.createRoom(alice, { preset: 'public_chat' });
    const bobRoom = await suite.createRoom(bob, { preset: 'public_chat' });
    const invitedTo = await suite.createRoom(alice);
    const knockRoom = await suite.createRoom(alice, {
      initial_state: [
        { type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } },
      ],
    });
    await suite.join(zoe, aliceRoom);
    await suite.join(zoe, bobRoom);
    await suite.join(bob, aliceRoom);
    await suite.invite(alice, invitedTo, zoe.user_id);
    const knock = await api.post(
      `${CLIENT_V3}/knock/${knockRoom}`,
      {},
      { token: zoe.access_token },
    );
    assert.equal(knock.status, 200, JSON.stringify(knock.body));
    assert.equal(await membershipIn(api, alice, invitedTo, zoe.user_id), 'invite');
    assert.equal(await membershipIn(api, alice, knockRoom, zoe.user_id), 'knock');
    const [aliceStart, bobStart] = [await suite.sync(alice), await suite.sync(bob)];

    await deactivate(zoe, 'zoe');
    const whoami = await api.get(`${CLIENT_V3}/account/whoami`, { token: zoe.access_token });
    assert.equal(whoami.status, 401, 'the token is dead');
    assert.equal(whoami.body.errcode, 'M_UNKNOWN_TOKEN');

    await waitForMembership(api, alice, [aliceRoom, invitedTo, knockRoom], zoe.user_id, 'leave');
    await waitForMembership(api, bob, [bobRoom, aliceRoom], zoe.user_id, 'leave');
    // Real leave events, sent by Zoe herself, in the other members' incremental syncs.
    const leavesSeen = async (who: Session, since: string, roomIds: string[]) => {
      const next = await suite.sync(who, { since });
      for (const roomId of roomIds) {
        const leaves = (next.rooms.join[roomId]?.timeline.events ?? []).filter(
          (e) => e.type === 'm.room.member' && e.state_key === zoe.user_id,
        );
        assert.equal(leaves.length, 1, `one member event of Zoe in ${roomId}`);
        assert.equal(leaves[0]!.content.membership, 'leave');
        assert.equal(leaves[0]!.sender, zoe.user_id);
      }
      // Sharing no room with Zoe any more, their clients drop her devices.
      const lists = (next as { device_lists?: { left: string[] } }).device_lists;
      assert.deepEqual(lists?.left, [zoe.user_id]);
    };
    await leavesSeen(alice, aliceStart.next_batch, [aliceRoom, invitedTo, knockRoom]);
    await leavesSeen(bob, bobStart.next_batch, [bobRoom, aliceRoom]);
    const joined = await api.get<{ joined: Record<string, unknown> }>(
      `${CLIENT_V3}/rooms/${aliceRoom}/joined_members`,
      { token: alice.access_token },
    );
    assert.deepEqual(Object.keys(joined.body.joined).sort(), [alice.user_id, bob.user_id].sort());
  });

  it('leaves at start the rooms a crash kept it from leaving', async () => {
    await withServer(async (own) => {
      const [carol, yann] = [await own.register('carol'), await own.register('yann')];
      const rooms = [
        await own.createRoom(carol, { preset: 'public_chat' }),
        await own.createRoom(carol, { preset: 'public_chat' }),
      ];
      for (const roomId of rooms) await own.join(yann, roomId);
      await own.server.stop();
      // The deactivation committed with its queue row, and the server died before any leave.
      const storage = await openStorage(own.server.config, 'tool');
      await storage.users.deactivate(yann.user_id);
      await storage.close();
      await own.server.start();
      const login = await own.api.login('carol');
      assert.equal(login.status, 200);
      await waitForMembership(own.api, login.body, rooms, yann.user_id, 'leave');
      assert.equal((await own.api.login('yann')).body.errcode, 'M_USER_DEACTIVATED');
    });
  });
});
