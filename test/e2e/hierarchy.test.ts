/**
 * The space hierarchy over HTTP: the depth-first walk of m.space.child events,
 * who sees which room, suggested_only, max_depth, pagination and its errors,
 * every answer checked against the spec's schema.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { type ApiResponse, CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { assertSpecError, expectSpec } from '../support/spec-schemas.js';

type Body = Record<string, unknown>;
interface Chunk {
  room_id: string;
  name?: string;
  topic?: string;
  room_type?: string;
  join_rule?: string;
  num_joined_members: number;
  world_readable: boolean;
  guest_can_join: boolean;
  children_state: { state_key: string; origin_server_ts: number; content: Body }[];
}
interface Hierarchy {
  rooms: Chunk[];
  next_batch?: string;
}

const CLIENT_V1 = '/_matrix/client/v1';
const SPEC_HIERARCHY = `${CLIENT_V1}/rooms/{roomId}/hierarchy`;
const REMOTE_ROOM = '!elsewhere:remote.example';

describe('space hierarchy', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob, carol] = suite.users('alice', 'bob', 'carol');
  /** The space tree alice builds: every name is a room ID. */
  const room: Record<string, string> = {};

  const create = async (name: string, body: Body) => {
    room[name] = await suite.createRoom(alice, { name, ...body });
  };
  const addChild = async (parent: string, childId: string, content: Body) => {
    const path = `${CLIENT_V3}/rooms/${room[parent]}/state/m.space.child/${childId}`;
    const res = await api.put(path, content, { token: alice.access_token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  const hierarchyOf = (who: Session, roomId: string, query = '') =>
    api.get<Hierarchy>(`${CLIENT_V1}/rooms/${roomId}/hierarchy${query}`, {
      token: who.access_token,
    });
  /** A 200 answer, valid by the spec. */
  const expectPage = (res: ApiResponse<Hierarchy>): Hierarchy =>
    expectSpec(res, 'GET', SPEC_HIERARCHY);
  const namesIn = (page: Hierarchy) =>
    page.rooms.map((r) => Object.keys(room).find((name) => room[name] === r.room_id));
  /** An error answer: the status, the spec's schema for it, the errcode. */
  const expectRefusal = (res: ApiResponse<Body | Hierarchy>, status: number, errcode: string) => {
    expectSpec(res, 'GET', SPEC_HIERARCHY, status);
    assertSpecError(res.body, errcode);
  };

  before(async () => {
    const space = { creation_content: { type: 'm.space' } };
    await create('space', { ...space, preset: 'public_chat', topic: 'Everything' });
    await create('lobby', { preset: 'public_chat', topic: 'Say hi' });
    await create('secret', { preset: 'private_chat' });
    await create('members', {
      preset: 'private_chat',
      initial_state: [
        {
          type: 'm.room.join_rules',
          content: {
            join_rule: 'restricted',
            allow: [{ type: 'm.room_membership', room_id: room.space }],
          },
        },
        { type: 'm.room.encryption', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
      ],
    });
    await create('subspace', { ...space, preset: 'public_chat' });
    await create('nested', { preset: 'public_chat' });
    await create('unlinked', { preset: 'public_chat' });
    // The space: lobby (suggested), secret, members-only, a subspace; ordered by `order`.
    await addChild('space', room.subspace!, { via: ['localhost'], order: 'd' });
    await addChild('space', room.lobby!, { via: ['localhost'], order: 'a', suggested: true });
    await addChild('space', room.secret!, { via: ['localhost'], order: 'b' });
    await addChild('space', room.members!, { via: ['localhost'], order: 'c' });
    await addChild('space', REMOTE_ROOM, { via: ['remote.example'] });
    // Without a via, the child is no part of the space.
    await addChild('space', room.unlinked!, { via: [] });
    // The subspace leads back to the space: a cycle.
    await addChild('subspace', room.nested!, { via: ['localhost'] });
    await addChild('subspace', room.space!, { via: ['localhost'] });
    await suite.join(bob, room.space!);
  });

  it('walks the space depth first, in order, showing what the requester may see', async () => {
    const page = expectPage(await hierarchyOf(bob, room.space!));
    // secret is invite-only; the remote room cannot be fetched; the cycle ends.
    assert.deepEqual(namesIn(page), ['space', 'lobby', 'members', 'subspace', 'nested']);
    assert.equal(page.next_batch, undefined);
  });

  it('describes each room with its summary and its children as stripped state', async () => {
    const [space, lobby] = expectPage(await hierarchyOf(bob, room.space!)).rooms;
    assert.equal(space!.room_type, 'm.space');
    assert.equal(space!.topic, 'Everything');
    assert.equal(space!.join_rule, 'public');
    assert.equal(space!.num_joined_members, 2);
    assert.equal(space!.world_readable, false);
    assert.equal(space!.guest_can_join, false);
    const children = space!.children_state.map((c) => c.state_key);
    // Every valid child in the spec's order (the remote one has no order: last); not `unlinked`.
    assert.deepEqual(children, [room.lobby, room.secret, room.members, room.subspace, REMOTE_ROOM]);
    assert.ok(space!.children_state.every((c) => c.origin_server_ts > 0));
    assert.deepEqual(space!.children_state[0]!.content, {
      via: ['localhost'],
      order: 'a',
      suggested: true,
    });
    assert.equal(lobby!.name, 'lobby');
    assert.equal(lobby!.topic, 'Say hi');
    assert.equal(lobby!.room_type, undefined);
    assert.deepEqual(lobby!.children_state, []);
  });

  it('adds v1.15’s room version, encryption and allowed rooms (MSC3266)', async () => {
    const rooms = expectPage(await hierarchyOf(bob, room.space!)).rooms as unknown as Body[];
    const byName = (name: string) => rooms.find((entry) => entry.room_id === room[name])!;
    assert.equal(byName('lobby').room_version, '12');
    assert.equal(byName('lobby').encryption, undefined);
    assert.equal(byName('lobby').allowed_room_ids, undefined);
    assert.equal(byName('members').encryption, 'm.megolm.v1.aes-sha2');
    assert.deepEqual(byName('members').allowed_room_ids, [room.space]);
  });

  it('shows restricted rooms only to members of an allowed room', async () => {
    const page = expectPage(await hierarchyOf(carol, room.space!));
    assert.deepEqual(namesIn(page), ['space', 'lobby', 'subspace', 'nested']);
  });

  it('shows invite-only rooms to those invited and joined', async () => {
    await suite.invite(alice, room.secret!, carol.user_id);
    assert.deepEqual(namesIn(expectPage(await hierarchyOf(carol, room.space!))), [
      'space',
      'lobby',
      'secret',
      'subspace',
      'nested',
    ]);
    assert.ok(namesIn(expectPage(await hierarchyOf(alice, room.space!))).includes('secret'));
  });

  it('keeps to suggested children with suggested_only', async () => {
    const page = expectPage(await hierarchyOf(bob, room.space!, '?suggested_only=true'));
    assert.deepEqual(namesIn(page), ['space', 'lobby']);
    assert.deepEqual(
      page.rooms[0]!.children_state.map((c) => c.state_key),
      [room.lobby],
    );
  });

  it('stops at max_depth', async () => {
    const top = expectPage(await hierarchyOf(bob, room.space!, '?max_depth=0'));
    assert.deepEqual(namesIn(top), ['space']);
    const one = expectPage(await hierarchyOf(bob, room.space!, '?max_depth=1'));
    assert.deepEqual(namesIn(one), ['space', 'lobby', 'members', 'subspace']);
  });

  it('pages with limit and next_batch', async () => {
    const seen: string[] = [];
    let from = '';
    for (let pages = 1; ; pages++) {
      const page = expectPage(await hierarchyOf(bob, room.space!, `?limit=2${from}`));
      assert.ok(page.rooms.length <= 2);
      seen.push(...page.rooms.map((r) => r.room_id));
      if (page.next_batch === undefined) {
        assert.equal(pages, 3);
        break;
      }
      from = `&from=${encodeURIComponent(page.next_batch)}`;
    }
    const whole = expectPage(await hierarchyOf(bob, room.space!));
    assert.deepEqual(
      seen,
      whole.rooms.map((r) => r.room_id),
    );
  });

  it('refuses unknown tokens and a changed suggested_only or max_depth', async () => {
    const first = expectPage(await hierarchyOf(bob, room.space!, '?limit=1&max_depth=3'));
    const from = encodeURIComponent(first.next_batch!);
    expectRefusal(
      await hierarchyOf(bob, room.space!, `?from=${from}&suggested_only=true`),
      400,
      'M_INVALID_PARAM',
    );
    expectRefusal(
      await hierarchyOf(bob, room.space!, `?from=${from}&max_depth=2`),
      400,
      'M_INVALID_PARAM',
    );
    expectRefusal(await hierarchyOf(bob, room.subspace!, `?from=${from}`), 400, 'M_INVALID_PARAM');
    expectRefusal(await hierarchyOf(bob, room.space!, '?from=nonsense'), 400, 'M_INVALID_PARAM');
    const second = expectPage(
      await hierarchyOf(bob, room.space!, `?from=${from}&max_depth=3&limit=1`),
    );
    assert.deepEqual(namesIn(second), ['lobby']);
  });

  it('refuses a bad limit or max_depth', async () => {
    for (const query of ['?limit=0', '?limit=x', '?max_depth=-1', '?suggested_only=yes']) {
      expectRefusal(await hierarchyOf(bob, room.space!, query), 400, 'M_INVALID_PARAM');
    }
  });

  it('forbids a root the requester may not see, or an unknown one', async () => {
    expectRefusal(await hierarchyOf(bob, room.secret!), 403, 'M_FORBIDDEN');
    expectRefusal(await hierarchyOf(bob, '!unknown:localhost'), 403, 'M_FORBIDDEN');
    expectRefusal(await hierarchyOf(bob, REMOTE_ROOM), 403, 'M_FORBIDDEN');
  });

  it('hides rooms from users banned there', async () => {
    const ban = await api.post(
      `${CLIENT_V3}/rooms/${room.lobby}/ban`,
      { user_id: bob.user_id },
      { token: alice.access_token },
    );
    assert.equal(ban.status, 200, JSON.stringify(ban.body));
    expectRefusal(await hierarchyOf(bob, room.lobby!), 403, 'M_FORBIDDEN');
    assert.ok(!namesIn(expectPage(await hierarchyOf(bob, room.space!))).includes('lobby'));
  });

  it('lets members of an allowed room join a restricted room, and no one else', async () => {
    const joinMembers = (who: Session) =>
      api.post(`${CLIENT_V3}/rooms/${room.members}/join`, {}, { token: who.access_token });
    const refused = await joinMembers(carol);
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assertSpecError(refused.body, 'M_FORBIDDEN');
    const joined = await joinMembers(bob);
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
    const member = await api.get(
      `${CLIENT_V3}/rooms/${room.members}/state/m.room.member/${bob.user_id}`,
      {
        token: bob.access_token,
      },
    );
    assert.equal(member.body.membership, 'join');
    assert.equal(member.body.join_authorised_via_users_server, alice.user_id);
  });

  it('answers a room that is no space with itself alone', async () => {
    const page = expectPage(await hierarchyOf(carol, room.nested!));
    assert.deepEqual(namesIn(page), ['nested']);
    assert.deepEqual(page.rooms[0]!.children_state, []);
  });

  it('needs an access token', async () => {
    const res = await api.get(`${CLIENT_V1}/rooms/${room.space}/hierarchy`);
    assert.equal(res.status, 401);
    assertSpecError(res.body, 'M_MISSING_TOKEN');
  });
});
