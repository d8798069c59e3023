/**
 * GET /v1/room_summary/{roomIdOrAlias} over HTTP: who sees which room (joined,
 * invited, knockable, restricted through an allowed room, public, world
 * readable), the fields the spec adds to the hierarchy's summary, the
 * unauthenticated and guest answers, the unstable paths, and the one 404 every
 * hidden or unknown room gets.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { type ApiResponse, CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';

type Body = Record<string, unknown>;

const SUMMARY = '/_matrix/client/v1/room_summary';
const SPEC_SUMMARY = `${SUMMARY}/{roomIdOrAlias}`;
const UNSTABLE = '/_matrix/client/unstable/im.nheko.summary';

describe('room summary', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob, carol] = suite.users('alice', 'bob', 'carol');
  const room: Record<string, string> = {};
  const state = (type: string, content: Body) => ({ type, state_key: '', content });

  const get = (idOrAlias: string, who?: Session): Promise<ApiResponse<Body>> =>
    api.get(`${SUMMARY}/${encodeURIComponent(idOrAlias)}`, { token: who?.access_token });
  const summaryOf = async (idOrAlias: string, who?: Session): Promise<Body> =>
    expectSpec(await get(idOrAlias, who), 'GET', SPEC_SUMMARY);

  before(async () => {
    room.private = await suite.createRoom(alice, {
      name: 'Private',
      topic: 'Secret plans',
      initial_state: [state('m.room.encryption', { algorithm: 'm.megolm.v1.aes-sha2' })],
    });
    room.invited = await suite.createRoom(alice, { name: 'Invited' });
    await suite.invite(alice, room.invited, bob.user_id);
    room.public = await suite.createRoom(alice, {
      name: 'Public',
      preset: 'public_chat',
      room_alias_name: 'summary-public',
    });
    await suite.join(carol, room.public);
    room.knock = await suite.createRoom(alice, {
      name: 'Knock',
      initial_state: [state('m.room.join_rules', { join_rule: 'knock' })],
    });
    room.restricted = await suite.createRoom(alice, {
      name: 'Restricted',
      initial_state: [
        state('m.room.join_rules', {
          join_rule: 'restricted',
          allow: [{ type: 'm.room_membership', room_id: room.public }],
        }),
      ],
    });
    room.readable = await suite.createRoom(alice, {
      name: 'Readable',
      initial_state: [state('m.room.history_visibility', { history_visibility: 'world_readable' })],
    });
  });

  it("describes a joined room with its version, encryption and the caller's membership", async () => {
    const summary = await summaryOf(room.private!, alice);
    assert.equal(summary.room_id, room.private);
    assert.equal(summary.name, 'Private');
    assert.equal(summary.topic, 'Secret plans');
    assert.equal(summary.num_joined_members, 1);
    assert.equal(summary.membership, 'join');
    assert.equal(summary.room_version, '12');
    assert.equal(summary.encryption, 'm.megolm.v1.aes-sha2');
    assert.equal(summary.world_readable, false);
    assert.equal(summary.join_rule, 'invite');
    assert.equal(summary.allowed_room_ids, undefined);
  });

  it('shows invited, knockable and public rooms, by ID or alias', async () => {
    assert.equal((await summaryOf(room.invited!, bob)).membership, 'invite');
    const knock = await summaryOf(room.knock!, bob);
    assert.equal(knock.join_rule, 'knock');
    assert.equal(knock.membership, 'leave');
    const byAlias = await summaryOf(`#summary-public:${suite.server.config.server_name}`, bob);
    assert.equal(byAlias.room_id, room.public);
    assert.equal(byAlias.canonical_alias, `#summary-public:${suite.server.config.server_name}`);
    assert.equal(byAlias.num_joined_members, 2);
    assert.equal(byAlias.membership, 'leave');
    assert.equal(byAlias.encryption, undefined);
  });

  it('shows a restricted room to members of an allowed room only', async () => {
    const summary = await summaryOf(room.restricted!, carol);
    assert.deepEqual(summary.allowed_room_ids, [room.public]);
    assert.equal(summary.join_rule, 'restricted');
    expectError(await get(room.restricted!, bob), 404, 'M_NOT_FOUND');
  });

  it('shows a world-readable room to anyone, tokens or not', async () => {
    assert.equal((await summaryOf(room.readable!, bob)).world_readable, true);
    const anonymous = await summaryOf(room.readable!);
    assert.equal(anonymous.membership, undefined, 'no membership without a token');
  });

  it('answers every hidden or unknown room with the same 404', async () => {
    const hidden = [
      await get(room.private!, bob),
      await get(room.private!),
      await get(room.invited!, carol),
      await get(room.restricted!),
      await get('!unknown:localhost', bob),
      await get(`#nothing-here:${suite.server.config.server_name}`, bob),
      await get('#remote:elsewhere.example', bob),
    ];
    for (const res of hidden) expectError(res, 404, 'M_NOT_FOUND');
    const bodies = new Set(hidden.map((res) => JSON.stringify(res.body)));
    assert.equal(bodies.size, 1, `one answer for all: ${[...bodies].join(' | ')}`);
  });

  it('answers unauthenticated callers and guests for public rooms; refuses a bad token', async () => {
    const anonymous = await summaryOf(room.public!);
    assert.equal(anonymous.name, 'Public');
    assert.equal(anonymous.membership, undefined);
    const guest = await api.post<{ access_token: string }>(`${CLIENT_V3}/register?kind=guest`, {});
    const forGuest = await api.get(`${SUMMARY}/${encodeURIComponent(room.public!)}`, {
      token: guest.body.access_token,
    });
    assert.equal(expectSpec(forGuest, 'GET', SPEC_SUMMARY).membership, 'leave');
    const bad = await api.get(`${SUMMARY}/${encodeURIComponent(room.public!)}`, {
      token: 'not-a-token',
    });
    expectError(bad, 401, 'M_UNKNOWN_TOKEN');
  });

  it('accepts via, and serves the unstable paths the same', async () => {
    const id = encodeURIComponent(room.public!);
    const withVia = await api.get(`${SUMMARY}/${id}?via=elsewhere.example&via=localhost`, {
      token: bob.access_token,
    });
    const stable = expectSpec(withVia, 'GET', SPEC_SUMMARY);
    for (const path of [`${UNSTABLE}/rooms/${id}/summary`, `${UNSTABLE}/summary/${id}`]) {
      const res = await api.get(path, { token: bob.access_token });
      assert.equal(res.status, 200, path);
      assert.deepEqual(res.body, stable, path);
    }
    const hidden = await api.get(`${UNSTABLE}/summary/${encodeURIComponent(room.private!)}`, {
      token: bob.access_token,
    });
    expectError(hidden, 404, 'M_NOT_FOUND');
  });

  it('refuses what is neither a room ID nor an alias', async () => {
    expectError(await get('general', bob), 400, 'M_INVALID_PARAM');
  });
});
