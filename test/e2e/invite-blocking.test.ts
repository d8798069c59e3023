/**
 * Invite blocking (v1.18's invite permission module): a user whose
 * `m.invite_permission_config` says `block` is refused as an invitee by
 * /invite and by PUT /state, left out of createRoom's invites (the room is
 * still made), and sees no stored invite in /sync until they stop blocking.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError } from '../support/spec-schemas.js';

const CONFIG = 'm.invite_permission_config';

describe('invite blocking', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob, carol, dave] = suite.users('alice', 'bob', 'carol', 'dave');
  const as = (who: Session) => ({ token: who.access_token });

  const setBlocking = async (who: Session, content: Record<string, unknown>) => {
    const path = `${CLIENT_V3}/user/${encodeURIComponent(who.user_id)}/account_data/${CONFIG}`;
    assert.equal((await api.put(path, content, as(who))).status, 200);
  };
  const membershipOf = async (roomId: string, userId: string) => {
    const path = `${CLIENT_V3}/rooms/${roomId}/state/m.room.member/${encodeURIComponent(userId)}`;
    const res = await api.get(path, as(alice));
    return res.status === 200 ? res.body.membership : undefined;
  };
  const invitedRooms = async (who: Session) =>
    Object.keys(((await suite.sync(who)).rooms as { invite: Record<string, unknown> }).invite);

  it('refuses /invite and a member state event naming a blocking user', async () => {
    await setBlocking(bob, { default_action: 'block' });
    const roomId = await suite.createRoom(alice);
    const invite = await api.post(
      `${CLIENT_V3}/rooms/${roomId}/invite`,
      { user_id: bob.user_id },
      as(alice),
    );
    expectError(invite, 403, 'M_INVITE_BLOCKED');
    const state = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/state/m.room.member/${encodeURIComponent(bob.user_id)}`,
      { membership: 'invite' },
      as(alice),
    );
    expectError(state, 403, 'M_INVITE_BLOCKED');
    assert.equal(await membershipOf(roomId, bob.user_id), undefined);
    // Others are invited as ever.
    await suite.invite(alice, roomId, carol.user_id);
    assert.equal(await membershipOf(roomId, carol.user_id), 'invite');
  });

  it('makes the room of a createRoom but leaves the blocking invitee out', async () => {
    const roomId = await suite.createRoom(alice, { invite: [bob.user_id, carol.user_id] });
    assert.equal(await membershipOf(roomId, bob.user_id), undefined);
    assert.equal(await membershipOf(roomId, carol.user_id), 'invite');
  });

  it('hides an invite stored before the blocking, and serves it again after', async () => {
    const roomId = await suite.createRoom(alice);
    await suite.invite(alice, roomId, dave.user_id);
    assert.ok((await invitedRooms(dave)).includes(roomId));
    await setBlocking(dave, { default_action: 'block' });
    assert.ok(!(await invitedRooms(dave)).includes(roomId));
    // Any other value means invites as normal ("the same event without default_action").
    await setBlocking(dave, {});
    assert.ok((await invitedRooms(dave)).includes(roomId));
  });
});
