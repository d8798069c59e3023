/**
 * Joining, inviting, leaving and knocking over federation between two real
 * Weft servers (a.test and b.test), each with its own database, speaking
 * plain HTTP to each other through `federation.hosts`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JsonObject, Pdu } from '../../src/events/pdu.js';
import { eventIdFor } from '../../src/events/hashing.js';
import { roomVersion } from '../../src/events/room-versions.js';
import { sealEvent } from '../../src/events/signing.js';
import {
  assertResponseMatchesSpec,
  CLIENT_V3,
  type Session,
  type SyncBody,
} from '../support/fixture.js';
import {
  syncUntil,
  type FederatingSide,
  startFederatingPair,
  closeFederatingPair,
} from '../support/federation-pair.js';

type Rooms = { leave?: Record<string, unknown>; knock?: Record<string, unknown> };

async function register(s: FederatingSide, name: string): Promise<Session> {
  return s.api.register(name);
}

async function memberOf(s: FederatingSide, who: Session, roomId: string, userId: string) {
  const res = await s.api.get(
    `${CLIENT_V3}/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(userId)}`,
    { token: who.access_token },
  );
  return res.status === 200 ? res.body.membership : undefined;
}

describe('federation joins', { timeout: 120_000 }, () => {
  let a: FederatingSide;
  let b: FederatingSide;
  let alice: Session;
  let bob: Session;

  before(async () => {
    [a, b] = await startFederatingPair();
    alice = await register(a, 'alice');
    bob = await register(b, 'bob');
  });

  after(async () => {
    await closeFederatingPair([a, b]);
  });

  it('lets a remote user join a public room by ID, and shows it on both sides', async () => {
    const roomId = await a.helpers.createRoom(alice, { preset: 'public_chat', name: 'Lobby' });
    await a.helpers.send(alice, roomId, 'before bob');
    const join = await b.api.post(
      `${CLIENT_V3}/join/${encodeURIComponent(roomId)}?server_name=a.test`,
      {},
      { token: bob.access_token },
    );
    assert.equal(join.status, 200, JSON.stringify(join.body));
    assert.equal(join.body.room_id, roomId);
    assert.equal(await memberOf(a, alice, roomId, bob.user_id), 'join');
    assert.equal(await memberOf(b, bob, roomId, alice.user_id), 'join');
    const body = await syncUntil(b, bob, (s) => s.rooms?.join?.[roomId] !== undefined);
    const section = body.rooms!.join![roomId]!;
    const events = [...(section.state?.events ?? []), ...(section.timeline?.events ?? [])];
    assert.ok(events.some((e) => e.type === 'm.room.name' && e.content?.name === 'Lobby'));
    assert.ok(events.some((e) => e.type === 'm.room.member' && e.state_key === bob.user_id));
    // The joined room is usable locally: bob's message is stored and served back on B.
    const sent = await b.helpers.send(bob, roomId, 'hello from b');
    assert.match(sent, /^\$/);
  });

  it('carries messages both ways once joined', async () => {
    const roomId = await a.helpers.createRoom(alice, { preset: 'public_chat' });
    const join = await b.api.post(
      `${CLIENT_V3}/join/${encodeURIComponent(roomId)}?via=a.test`,
      {},
      { token: bob.access_token },
    );
    assert.equal(join.status, 200, JSON.stringify(join.body));
    const bodies = (section: SyncBody) =>
      (section.rooms?.join?.[roomId]?.timeline?.events ?? []).map((e) => e.content?.body);
    await b.helpers.send(bob, roomId, 'b to a');
    await syncUntil(a, alice, (s) => bodies(s).includes('b to a'));
    await a.helpers.send(alice, roomId, 'a to b');
    await syncUntil(b, bob, (s) => bodies(s).includes('a to b'));
  });

  it('joins by a remote alias', async () => {
    const roomId = await a.helpers.createRoom(alice, {
      preset: 'public_chat',
      room_alias_name: 'aliased',
    });
    const join = await b.api.post(
      `${CLIENT_V3}/join/${encodeURIComponent('#aliased:a.test')}`,
      {},
      { token: bob.access_token },
    );
    assert.equal(join.status, 200, JSON.stringify(join.body));
    assert.equal(join.body.room_id, roomId);
    assert.equal(await memberOf(a, alice, roomId, bob.user_id), 'join');
  });

  it('refuses a join to an invite-only room with M_FORBIDDEN', async () => {
    const roomId = await a.helpers.createRoom(alice, { preset: 'private_chat' });
    const join = await b.api.post(
      `${CLIENT_V3}/join/${encodeURIComponent(roomId)}?via=a.test`,
      {},
      { token: bob.access_token },
    );
    assert.equal(join.status, 403, JSON.stringify(join.body));
    assert.equal(join.body.errcode, 'M_FORBIDDEN');
  });

  it('invites a remote user, who sees the invite and accepts it', async () => {
    const roomId = await a.helpers.createRoom(alice, { preset: 'private_chat', name: 'Secret' });
    await a.helpers.invite(alice, roomId, bob.user_id);
    assert.equal(await memberOf(a, alice, roomId, bob.user_id), 'invite');
    const body = await syncUntil(b, bob, (s) => s.rooms?.invite?.[roomId] !== undefined);
    const state = (body.rooms!.invite![roomId] as { invite_state: { events: { type: string }[] } })
      .invite_state.events;
    assert.ok(state.some((e) => e.type === 'm.room.name'));
    assert.ok(state.some((e) => e.type === 'm.room.create'));
    await b.helpers.join(bob, roomId);
    assert.equal(await memberOf(a, alice, roomId, bob.user_id), 'join');
    await syncUntil(b, bob, (s) => s.rooms?.join?.[roomId] !== undefined);
  });

  it('rejects a remote invite through the inviting server', async () => {
    const roomId = await a.helpers.createRoom(alice, { preset: 'private_chat' });
    await a.helpers.invite(alice, roomId, bob.user_id);
    const invited = await syncUntil(b, bob, (s) => s.rooms?.invite?.[roomId] !== undefined);
    await b.helpers.leave(bob, roomId);
    assert.equal(await memberOf(a, alice, roomId, bob.user_id), 'leave');
    const since = { since: invited.next_batch, timeout: '0' };
    const left = (s: SyncBody) => (s.rooms as Rooms | undefined)?.leave?.[roomId] !== undefined;
    const body = await syncUntil(b, bob, left, since);
    assert.equal(body.rooms?.invite?.[roomId], undefined);
  });

  it('refuses an invite the invitee blocks, with M_INVITE_BLOCKED', async () => {
    const carol = await register(b, 'carol');
    const put = await b.api.put(
      `${CLIENT_V3}/user/${encodeURIComponent(carol.user_id)}/account_data/m.invite_permission_config`,
      { default_action: 'block' },
      { token: carol.access_token },
    );
    assert.equal(put.status, 200);
    const roomId = await a.helpers.createRoom(alice, { preset: 'private_chat' });
    const res = await a.api.post(
      `${CLIENT_V3}/rooms/${encodeURIComponent(roomId)}/invite`,
      { user_id: carol.user_id },
      { token: alice.access_token },
    );
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.errcode, 'M_INVITE_BLOCKED');
    assert.equal(await memberOf(a, alice, roomId, carol.user_id), undefined);
  });

  it('knocks on a remote room and is let in', async () => {
    const roomId = await a.helpers.createRoom(alice, { preset: 'private_chat' });
    const rules = await a.api.put(
      `${CLIENT_V3}/rooms/${encodeURIComponent(roomId)}/state/m.room.join_rules/`,
      { join_rule: 'knock' },
      { token: alice.access_token },
    );
    assert.equal(rules.status, 200);
    const knock = await b.api.post(
      `${CLIENT_V3}/knock/${encodeURIComponent(roomId)}?via=a.test`,
      { reason: 'let me in' },
      { token: bob.access_token },
    );
    assert.equal(knock.status, 200, JSON.stringify(knock.body));
    assert.equal(await memberOf(a, alice, roomId, bob.user_id), 'knock');
    await syncUntil(b, bob, (s) => (s.rooms as Rooms | undefined)?.knock?.[roomId] !== undefined);
    await a.helpers.invite(alice, roomId, bob.user_id);
    await b.helpers.join(bob, roomId);
    assert.equal(await memberOf(a, alice, roomId, bob.user_id), 'join');
  });

  it('leaves a joined remote room', async () => {
    const roomId = await a.helpers.createRoom(alice, { preset: 'public_chat' });
    await b.api.post(
      `${CLIENT_V3}/join/${encodeURIComponent(roomId)}?via=a.test`,
      {},
      {
        token: bob.access_token,
      },
    );
    assert.equal(await memberOf(b, bob, roomId, bob.user_id), 'join');
    await b.helpers.leave(bob, roomId);
    assert.equal(await memberOf(b, bob, roomId, bob.user_id), 'leave');
    // The leave is a local event of B's copy of the room: the outbound queue takes it to A.
    for (let i = 0; i < 50 && (await memberOf(a, alice, roomId, bob.user_id)) !== 'leave'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(await memberOf(a, alice, roomId, bob.user_id), 'leave');
  });

  it('joins a restricted room through membership of an allowed room', async () => {
    const space = await a.helpers.createRoom(alice, { preset: 'public_chat' });
    const roomId = await a.helpers.createRoom(alice, {
      preset: 'private_chat',
      initial_state: [
        {
          type: 'm.room.join_rules',
          state_key: '',
          content: {
            join_rule: 'restricted',
            allow: [{ type: 'm.room_membership', room_id: space }],
          },
        },
      ],
    });
    const early = await b.api.post(
      `${CLIENT_V3}/join/${encodeURIComponent(roomId)}?via=a.test`,
      {},
      { token: bob.access_token },
    );
    assert.equal(early.status, 403, JSON.stringify(early.body));
    await b.api.post(
      `${CLIENT_V3}/join/${encodeURIComponent(space)}?via=a.test`,
      {},
      {
        token: bob.access_token,
      },
    );
    const join = await b.api.post(
      `${CLIENT_V3}/join/${encodeURIComponent(roomId)}?via=a.test`,
      {},
      { token: bob.access_token },
    );
    assert.equal(join.status, 200, JSON.stringify(join.body));
    assert.equal(await memberOf(a, alice, roomId, bob.user_id), 'join');
  });

  it('serves make_join and v2 send_join as the spec shapes them', async () => {
    const roomId = await a.helpers.createRoom(alice, { preset: 'public_chat' });
    const dave = '@dave:b.test';
    const path = (p: string) => `/_matrix/federation/${p}/${encodeURIComponent(roomId)}`;
    const made = await b.server.weft.federation.request({
      destination: 'a.test',
      method: 'GET',
      path: `${path('v1/make_join')}/${encodeURIComponent(dave)}?ver=10&ver=11&ver=12`,
    });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const template = '/_matrix/federation/v1/make_join/{roomId}/{userId}';
    assertResponseMatchesSpec('GET', template, 200, made.body);
    const { event, room_version: versionId } = made.body as { event: Pdu; room_version: string };
    const version = roomVersion(versionId);
    const sealed = sealEvent(
      { ...event, origin_server_ts: Date.now(), hashes: { sha256: '' }, signatures: {} },
      'b.test',
      b.server.weft.keys.signingKey,
      version,
    );
    const eventId = eventIdFor(sealed.pdu, version);
    const sent = await b.server.weft.federation.request({
      destination: 'a.test',
      method: 'PUT',
      path: `${path('v2/send_join')}/${encodeURIComponent(eventId)}`,
      body: sealed.pdu as unknown as JsonObject,
    });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assertResponseMatchesSpec(
      'PUT',
      '/_matrix/federation/v2/send_join/{roomId}/{eventId}',
      200,
      sent.body,
    );
    const answer = sent.body as { state: Pdu[]; auth_chain: Pdu[]; servers_in_room: string[] };
    assert.ok(answer.state.some((e) => e.type === 'm.room.create'));
    assert.ok(answer.state.some((e) => e.state_key === alice.user_id));
    assert.deepEqual(answer.servers_in_room.sort(), ['a.test', 'b.test']);
    assert.equal(await memberOf(a, alice, roomId, dave), 'join');
    // The same join again is answered, not stored twice; a tampered copy is refused.
    const again = await b.server.weft.federation.request({
      destination: 'a.test',
      method: 'PUT',
      path: `${path('v2/send_join')}/${encodeURIComponent(eventId)}`,
      body: sealed.pdu as unknown as JsonObject,
    });
    assert.equal(again.status, 200);
    const tampered = { ...sealed.pdu, content: { membership: 'join', displayname: 'x' } };
    const refused = await b.server.weft.federation.request({
      destination: 'a.test',
      method: 'PUT',
      path: `${path('v2/send_join')}/${encodeURIComponent(eventId)}`,
      body: tampered as unknown as JsonObject,
    });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
  });

  it('refuses make_join for a user of another server than the origin', async () => {
    const roomId = await a.helpers.createRoom(alice, { preset: 'public_chat' });
    const res = await b.server.weft.federation.request({
      destination: 'a.test',
      method: 'GET',
      path: `/_matrix/federation/v1/make_join/${encodeURIComponent(roomId)}/${encodeURIComponent('@eve:a.test')}?ver=12`,
    });
    assert.equal(res.status, 403);
    assert.equal((res.body as { errcode: string }).errcode, 'M_FORBIDDEN');
  });

  it('answers make_join with M_INCOMPATIBLE_ROOM_VERSION for unsupported versions', async () => {
    const roomId = await a.helpers.createRoom(alice, { preset: 'public_chat' });
    const res = await b.server.weft.federation.request({
      destination: 'a.test',
      method: 'GET',
      path: `/_matrix/federation/v1/make_join/${encodeURIComponent(roomId)}/${encodeURIComponent(bob.user_id)}?ver=1`,
    });
    assert.equal(res.status, 400);
    const body = res.body as { errcode: string; room_version: string };
    assert.equal(body.errcode, 'M_INCOMPATIBLE_ROOM_VERSION');
    assert.match(body.room_version, /^1[0-2]$/);
  });
});
