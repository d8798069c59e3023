/**
 * Synapse's Admin API, second slice: shared-secret registration (no token, an
 * HMAC over a single-use nonce) and the room reads (list, one room, members,
 * state), server admins only. Synapse-only, so the answers are checked by hand.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, withServer, type Session } from '../support/fixture.js';
import { expectError } from '../support/spec-schemas.js';
import type { AdminRoomJson } from '../../src/admin/admin-room-rules.js';

const ADMIN = '/_synapse/admin';
const REGISTER = `${ADMIN}/v1/register`;
const SECRET = 'a shared secret for tests';
const enc = encodeURIComponent;

/** The MAC as Synapse's docs give it, written out here rather than taken from src/. */
function mac(nonce: string, username: string, password: string, admin: boolean, secret = SECRET) {
  return createHmac('sha1', secret)
    .update(`${nonce}\x00${username}\x00${password}\x00${admin ? 'admin' : 'notadmin'}`)
    .digest('hex');
}

type RoomJson = AdminRoomJson;
interface RoomList {
  rooms: RoomJson[];
  offset: number;
  total_rooms: number;
  next_batch?: number;
  prev_batch?: number;
}

describe('Admin API: shared-secret registration', () => {
  const suite = serverSuite({ registration_shared_secret: SECRET });
  const { api } = suite;
  const [taken] = suite.users('taken');

  const nonce = async () => {
    const res = await api.get<{ nonce: string }>(REGISTER);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(typeof res.body.nonce, 'string');
    return res.body.nonce;
  };

  it('hands out a different nonce every time', async () => {
    assert.notEqual(await nonce(), await nonce());
  });

  it('registers an admin whose password logs in, and uses every nonce once', async () => {
    const n = await nonce();
    const body = {
      nonce: n,
      username: 'operator',
      displayname: 'The Operator',
      password: 'operator password',
      admin: true,
      mac: mac(n, 'operator', 'operator password', true),
    };
    // A wrong MAC (here: signed as not admin) is refused, and uses the nonce up.
    const wrong = await api.post(REGISTER, {
      ...body,
      mac: mac(n, 'operator', 'operator password', false),
    });
    expectError(wrong, 403, 'M_FORBIDDEN');
    assert.equal(wrong.body.error, 'HMAC incorrect');
    const reused = await api.post(REGISTER, body);
    expectError(reused, 400, 'M_UNKNOWN');
    assert.equal(reused.body.error, 'unrecognised nonce');
    const unknown = await api.post(REGISTER, { ...body, nonce: 'never-issued' });
    expectError(unknown, 400, 'M_UNKNOWN');

    const fresh = await nonce();
    const ok = await api.post<Session & { home_server: string }>(REGISTER, {
      ...body,
      nonce: fresh,
      mac: mac(fresh, 'operator', 'operator password', true),
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const userId = '@operator:localhost';
    assert.equal(ok.body.user_id, userId);
    assert.equal(ok.body.home_server, 'localhost');
    assert.equal(typeof ok.body.access_token, 'string');
    assert.equal(typeof ok.body.device_id, 'string');
    // The same request again: its nonce is gone.
    const again = await api.post(REGISTER, {
      ...body,
      nonce: fresh,
      mac: mac(fresh, 'operator', 'operator password', true),
    });
    expectError(again, 400, 'M_UNKNOWN');

    // The token works, the account is an admin, the display name was set.
    const token = { token: ok.body.access_token };
    const whoami = await api.get(`${CLIENT_V3}/account/whoami`, token);
    assert.equal(whoami.body.user_id, userId);
    assert.equal((await api.get(`${ADMIN}/v1/rooms`, token)).status, 200);
    const profile = await api.get(`${CLIENT_V3}/profile/${enc(userId)}/displayname`);
    assert.equal(profile.body.displayname, 'The Operator');

    const login = await api.post(`${CLIENT_V3}/login`, {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: 'operator' },
      password: 'operator password',
    });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.equal(login.body.user_id, userId);
  });

  it('registers plain users, and refuses taken usernames and missing fields', async () => {
    const n = await nonce();
    const plain = await api.post<Session>(REGISTER, {
      nonce: n,
      username: 'plain',
      password: 'plain password',
      mac: mac(n, 'plain', 'plain password', false),
    });
    assert.equal(plain.status, 200, JSON.stringify(plain.body));
    const asPlain = await api.get(`${ADMIN}/v1/rooms`, { token: plain.body.access_token });
    expectError(asPlain, 403, 'M_FORBIDDEN');

    const localpart = taken.user_id.slice(1).split(':')[0]!;
    const t = await nonce();
    const inUse = await api.post(REGISTER, {
      nonce: t,
      username: localpart,
      password: 'some password',
      mac: mac(t, localpart, 'some password', false),
    });
    expectError(inUse, 400, 'M_USER_IN_USE');

    const m = await nonce();
    expectError(
      await api.post(REGISTER, { nonce: m, username: 'x', password: 'y' }),
      400,
      'M_MISSING_PARAM',
    );
  });

  it('is off without a secret', async () => {
    await withServer(async (fixture) => {
      const res = await fixture.api.get(REGISTER);
      expectError(res, 400, 'M_UNKNOWN');
      assert.equal(res.body.error, 'Shared secret registration is not enabled');
      const post = await fixture.api.post(REGISTER, {
        nonce: 'n',
        username: 'u',
        password: 'p',
        mac: mac('n', 'u', 'p', false),
      });
      expectError(post, 400, 'M_UNKNOWN');
    });
  });
});

describe('Admin API: rooms', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [root, alice, bob] = suite.users('root', 'alice', 'bob');
  const as = (session: Session) => ({ token: session.access_token });
  let alpha: string;
  let beta: string;
  let unnamed: string;

  const list = async (query: string, session: Session = root) => {
    const res = await api.get<RoomList>(`${ADMIN}/v1/rooms${query}`, as(session));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const ids = async (query: string) => (await list(query)).rooms.map((r) => r.room_id);

  before(async () => {
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
    alpha = await suite.createRoom(alice, {
      name: 'Alpha',
      preset: 'public_chat',
      room_alias_name: 'alpha',
      visibility: 'public',
      topic: 'The first room',
    });
    await suite.join(bob, alpha);
    beta = await suite.createRoom(alice, {
      name: 'beta',
      initial_state: [
        {
          type: 'm.room.encryption',
          state_key: '',
          content: { algorithm: 'm.megolm.v1.aes-sha2' },
        },
      ],
    });
    unnamed = await suite.createRoom(root, { creation_content: { 'm.federate': false } });
  });

  it('refuses users who are not server admins', async () => {
    for (const path of [
      '/v1/rooms',
      `/v1/rooms/${enc(alpha)}`,
      `/v1/rooms/${enc(alpha)}/members`,
      `/v1/rooms/${enc(alpha)}/state`,
    ]) {
      expectError(await api.get(`${ADMIN}${path}`, as(alice)), 403, 'M_FORBIDDEN');
      expectError(await api.get(`${ADMIN}${path}`), 401, 'M_MISSING_TOKEN');
    }
  });

  it('lists rooms with the fields Synapse gives', async () => {
    const body = await list('');
    assert.equal(body.total_rooms, 3);
    assert.equal(body.offset, 0);
    assert.equal(body.next_batch, undefined);
    assert.equal(body.prev_batch, undefined);
    const byId = new Map(body.rooms.map((r) => [r.room_id, r]));
    const a = byId.get(alpha)!;
    assert.deepEqual(a, {
      room_id: alpha,
      name: 'Alpha',
      canonical_alias: '#alpha:localhost',
      joined_members: 2,
      joined_local_members: 2,
      version: a.version,
      creator: alice.user_id,
      encryption: null,
      federatable: true,
      public: true,
      join_rules: 'public',
      guest_access: a.guest_access,
      history_visibility: 'shared',
      state_events: a.state_events,
      room_type: null,
    });
    assert.equal(typeof a.version, 'string');
    // create, two members, power levels, join rules, history visibility, name, topic, alias (guest access maybe).
    assert.ok(a.state_events >= 8, String(a.state_events));
    const b = byId.get(beta)!;
    assert.equal(b.encryption, 'm.megolm.v1.aes-sha2');
    assert.equal(b.public, false);
    assert.equal(b.join_rules, 'invite');
    assert.equal(b.joined_members, 1);
    const c = byId.get(unnamed)!;
    assert.equal(c.name, null);
    assert.equal(c.canonical_alias, null);
    assert.equal(c.federatable, false);
    assert.equal(c.creator, root.user_id);
  });

  it('orders by name, members, state events, creator and version, both ways', async () => {
    // By name (the default): nameless rooms last going forward.
    assert.deepEqual(await ids(''), [alpha, beta, unnamed]);
    assert.deepEqual(await ids('?order_by=name&dir=b'), [unnamed, beta, alpha]);
    // Counts go largest first, as Synapse.
    assert.equal((await ids('?order_by=joined_members'))[0], alpha);
    assert.equal((await ids('?order_by=joined_members&dir=b'))[2], alpha);
    const byState = (await list('?order_by=state_events')).rooms.map((r) => r.state_events);
    assert.deepEqual(
      byState,
      [...byState].sort((x, y) => y - x),
    );
    const byCreator = (await list('?order_by=creator')).rooms.map((r) => r.creator);
    assert.deepEqual(byCreator, [...byCreator].sort());
    assert.equal((await list('?order_by=version')).total_rooms, 3);
    // Synapse's deprecated names of name and joined_members.
    assert.deepEqual(await ids('?order_by=alphabetical'), await ids(''));
    assert.equal((await ids('?order_by=size'))[0], alpha);
    for (const bad of [
      '?order_by=topic',
      '?order_by=constructor',
      '?dir=up',
      '?from=-1',
      '?limit=many',
    ]) {
      expectError(await api.get(`${ADMIN}/v1/rooms${bad}`, as(root)), 400, 'M_INVALID_PARAM');
    }
  });

  it('pages with from and limit, with next_batch and prev_batch', async () => {
    const first = await list('?limit=1');
    assert.deepEqual(
      first.rooms.map((r) => r.room_id),
      [alpha],
    );
    assert.equal(first.total_rooms, 3);
    assert.equal(first.next_batch, 1);
    assert.equal(first.prev_batch, undefined);
    const second = await list('?limit=1&from=1');
    assert.deepEqual(
      second.rooms.map((r) => r.room_id),
      [beta],
    );
    assert.equal(second.offset, 1);
    assert.equal(second.next_batch, 2);
    assert.equal(second.prev_batch, 0);
    const last = await list('?limit=2&from=2');
    assert.deepEqual(
      last.rooms.map((r) => r.room_id),
      [unnamed],
    );
    assert.equal(last.next_batch, undefined);
    assert.equal(last.prev_batch, 0);
    const past = await list('?from=10');
    assert.deepEqual(past.rooms, []);
    assert.equal(past.total_rooms, 3);
  });

  it('searches names, aliases and room IDs', async () => {
    assert.deepEqual(await ids('?search_term=alp'), [alpha]);
    assert.deepEqual(await ids('?search_term=BETA'), [beta]);
    assert.deepEqual(await ids(`?search_term=${enc('#alpha')}`), [alpha]);
    assert.deepEqual(await ids(`?search_term=${enc(unnamed)}`), [unnamed]);
    const none = await list('?search_term=nothing-like-this');
    assert.deepEqual(none, { rooms: [], offset: 0, total_rooms: 0 });
  });

  it('gives one room, its members and its state', async () => {
    const res = await api.get<RoomJson & Record<string, unknown>>(
      `${ADMIN}/v1/rooms/${enc(alpha)}`,
      as(root),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.room_id, alpha);
    assert.equal(res.body.name, 'Alpha');
    assert.equal(res.body.topic, 'The first room');
    assert.equal(res.body.avatar, null);
    assert.equal(res.body.forgotten, false);
    // alice and bob, one device each.
    assert.equal(res.body.joined_local_devices, 2);
    assert.equal(res.body.joined_members, 2);

    const members = await api.get(`${ADMIN}/v1/rooms/${enc(alpha)}/members`, as(root));
    assert.equal(members.status, 200);
    assert.deepEqual(members.body, { members: [alice.user_id, bob.user_id].sort(), total: 2 });

    const state = await api.get<{
      state: {
        type: string;
        state_key: string;
        content: Record<string, unknown>;
        event_id: string;
      }[];
    }>(`${ADMIN}/v1/rooms/${enc(alpha)}/state`, as(root));
    assert.equal(state.status, 200);
    const name = state.body.state.find((e) => e.type === 'm.room.name');
    assert.deepEqual(name?.content, { name: 'Alpha' });
    assert.equal(name?.state_key, '');
    assert.equal(state.body.state.filter((e) => e.type === 'm.room.member').length, 2);
    assert.equal(state.body.state.length, res.body.state_events);

    for (const path of ['', '/members', '/state']) {
      const missing = await api.get(`${ADMIN}/v1/rooms/${enc('!nope:localhost')}${path}`, as(root));
      expectError(missing, 404, 'M_NOT_FOUND');
      assert.equal(missing.body.error, 'Room not found');
    }
  });
});
