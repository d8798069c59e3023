/**
 * User moderation by server admins: the spec's lock and suspend endpoints
 * (`/_matrix/client/v1/admin/...`) and Synapse's suspend, shadow ban, rate
 * limit overrides, login as a user, memberships and pushers. Each effect is
 * checked through the client API.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { assertResponseMatchesSpec, expectError } from '../support/spec-schemas.js';

const ADMIN = '/_synapse/admin';
const CLIENT_ADMIN = '/_matrix/client/v1/admin';
const enc = encodeURIComponent;

describe('Admin API: user moderation', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [root, alice, bob, carol] = suite.users('root', 'alice', 'bob', 'carol');
  const as = (session: Session | string) => ({
    token: typeof session === 'string' ? session : session.access_token,
  });
  const whoami = (who: Session | string) => api.get(`${CLIENT_V3}/account/whoami`, as(who));
  const adminUser = async (userId: string) => {
    const res = await api.get(`${ADMIN}/v2/users/${enc(userId)}`, as(root));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const sendText = (who: Session, roomId: string, text: string) =>
    api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/${Math.random().toString(36).slice(2)}`,
      { msgtype: 'm.text', body: text },
      as(who),
    );
  const messagesOf = async (who: Session, roomId: string) => {
    const res = await api.get(`${CLIENT_V3}/rooms/${roomId}/messages?dir=b&limit=50`, as(who));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return (res.body.chunk as { event_id: string; type: string }[]).map((e) => e.event_id);
  };

  before(async () => {
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
  });

  it('refuses every moderation endpoint to non-admins (403 M_FORBIDDEN), changing nothing', async () => {
    const target = enc(bob.user_id);
    const requests: [string, string, unknown?][] = [
      ['GET', `${CLIENT_ADMIN}/lock/${target}`],
      ['PUT', `${CLIENT_ADMIN}/lock/${target}`, { locked: true }],
      ['GET', `${CLIENT_ADMIN}/suspend/${target}`],
      ['PUT', `${CLIENT_ADMIN}/suspend/${target}`, { suspended: true }],
      ['PUT', `${ADMIN}/v1/suspend/${target}`, { suspend: true }],
      ['POST', `${ADMIN}/v1/users/${target}/shadow_ban`, {}],
      ['DELETE', `${ADMIN}/v1/users/${target}/shadow_ban`, {}],
      ['GET', `${ADMIN}/v1/users/${target}/override_ratelimit`],
      ['POST', `${ADMIN}/v1/users/${target}/override_ratelimit`, {}],
      ['DELETE', `${ADMIN}/v1/users/${target}/override_ratelimit`, {}],
      ['POST', `${ADMIN}/v1/users/${target}/login`, {}],
      ['GET', `${ADMIN}/v1/users/${target}/memberships`],
      ['GET', `${ADMIN}/v1/users/${target}/pushers`],
    ];
    for (const [method, path, body] of requests) {
      expectError(await api.request(method, path, body, as(alice)), 403, 'M_FORBIDDEN');
    }
    const bobJson = await adminUser(bob.user_id);
    assert.equal(bobJson.locked, false);
    assert.equal(bobJson.suspended, false);
    assert.equal(bobJson.shadow_banned, false);
    assert.equal((await whoami(bob)).status, 200);
  });

  it('advertises m.account_moderation in /capabilities', async () => {
    const res = await api.get(`${CLIENT_V3}/capabilities`, as(alice));
    assert.equal(res.status, 200);
    const capabilities = res.body.capabilities as Record<string, unknown>;
    assert.deepEqual(capabilities['m.account_moderation'], { lock: true, suspend: true });
  });

  it('locks an account: 401 M_USER_LOCKED (soft logout) everywhere but logout, until unlocked', async () => {
    const url = `${CLIENT_ADMIN}/lock/${enc(carol.user_id)}`;
    const put = await api.put(url, { locked: true }, as(root));
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body, { locked: true });
    assertResponseMatchesSpec('put', '/_matrix/client/v1/admin/lock/{userId}', 200, put.body);
    assert.deepEqual((await api.get(url, as(root))).body, { locked: true });
    for (const res of [await whoami(carol), await api.get(`${CLIENT_V3}/sync`, as(carol))]) {
      expectError(res, 401, 'M_USER_LOCKED');
      assert.equal(res.body.soft_logout, true);
    }
    assert.equal((await adminUser(carol.user_id)).locked, true);

    // A second session of the locked user may log out; the lock stays on the others.
    const second = await api.login('carol');
    assert.equal(second.status, 200);
    const token = String(second.body.access_token);
    assert.equal((await api.post(`${CLIENT_V3}/logout`, {}, as(token))).status, 200);

    assert.deepEqual((await api.put(url, { locked: false }, as(root))).body, { locked: false });
    assert.equal((await whoami(carol)).status, 200);
    expectError(await whoami(token), 401, 'M_UNKNOWN_TOKEN');
    assert.equal((await adminUser(carol.user_id)).locked, false);
  });

  it('refuses locking or suspending oneself, another admin, unknown and remote users', async () => {
    const admin2 = await api.register('admin2');
    await suite.server.weft.storage.users.setAdmin(admin2.user_id, true);
    for (const path of ['lock', 'suspend']) {
      const field = path === 'lock' ? 'locked' : 'suspended';
      const at = (userId: string) => `${CLIENT_ADMIN}/${path}/${enc(userId)}`;
      expectError(await api.put(at(root.user_id), { [field]: true }, as(root)), 403, 'M_FORBIDDEN');
      expectError(
        await api.put(at(admin2.user_id), { [field]: true }, as(root)),
        403,
        'M_FORBIDDEN',
      );
      expectError(await api.get(at('@nobody:localhost'), as(root)), 404, 'M_NOT_FOUND');
      expectError(
        await api.put(at('@nobody:localhost'), { [field]: true }, as(root)),
        404,
        'M_NOT_FOUND',
      );
      expectError(await api.get(at('@bob:elsewhere.example'), as(root)), 400, 'M_INVALID_PARAM');
      expectError(await api.put(at(bob.user_id), {}, as(root)), 400, 'M_MISSING_PARAM');
      expectError(await api.put(at(bob.user_id), { [field]: 'yes' }, as(root)), 400, 'M_BAD_JSON');
    }
    assert.equal((await whoami(admin2.access_token)).status, 200);
    assert.equal((await whoami(root)).status, 200);
  });

  it('suspends an account: acting is 403 M_USER_SUSPENDED; reading, redacting and leaving stay allowed', async () => {
    const roomId = await suite.createRoom(alice, { preset: 'public_chat' });
    const other = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.join(bob, roomId);
    const own = await suite.send(bob, roomId, 'before');

    const put = await api.put(
      `${CLIENT_ADMIN}/suspend/${enc(bob.user_id)}`,
      { suspended: true },
      as(root),
    );
    assert.deepEqual(put.body, { suspended: true });
    const got = await api.get(`${CLIENT_ADMIN}/suspend/${enc(bob.user_id)}`, as(root));
    assert.deepEqual(got.body, { suspended: true });
    assert.equal((await adminUser(bob.user_id)).suspended, true);

    const refused: [string, string, unknown][] = [
      [
        'PUT',
        `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/s1`,
        { msgtype: 'm.text', body: 'x' },
      ],
      ['PUT', `${CLIENT_V3}/rooms/${roomId}/state/m.room.topic`, { topic: 'x' }],
      ['POST', `${CLIENT_V3}/createRoom`, {}],
      ['POST', `${CLIENT_V3}/join/${other}`, {}],
      ['POST', `${CLIENT_V3}/rooms/${roomId}/invite`, { user_id: carol.user_id }],
      ['PUT', `${CLIENT_V3}/profile/${enc(bob.user_id)}/displayname`, { displayname: 'B' }],
    ];
    for (const [method, path, body] of refused) {
      expectError(await api.request(method, path, body, as(bob)), 403, 'M_USER_SUSPENDED');
    }
    const upload = await api.request('POST', '/_matrix/media/v3/upload', undefined, {
      ...as(bob),
      rawBody: Buffer.from('hello'),
      headers: { 'content-type': 'text/plain' },
    });
    expectError(upload, 403, 'M_USER_SUSPENDED');
    assert.equal((await api.get(`${CLIENT_V3}/sync?timeout=0`, as(bob))).status, 200);
    assert.ok((await messagesOf(bob, roomId)).includes(own));
    const redact = await api.put(`${CLIENT_V3}/rooms/${roomId}/redact/${own}/r1`, {}, as(bob));
    assert.equal(redact.status, 200, JSON.stringify(redact.body));
    // Only their own: "Redacting other users' events" is on the spec's refused list, by
    // /redact and through /send alike (Bob is made a moderator so only the suspension refuses).
    const alices = await suite.send(alice, roomId, 'alice speaks');
    const levels = await api.get(
      `${CLIENT_V3}/rooms/${roomId}/state/m.room.power_levels`,
      as(alice),
    );
    const users = { ...(levels.body.users as object), [bob.user_id]: 50 };
    const raised = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/state/m.room.power_levels`,
      { ...levels.body, users },
      as(alice),
    );
    assert.equal(raised.status, 200);
    const others = await api.put(`${CLIENT_V3}/rooms/${roomId}/redact/${alices}/r2`, {}, as(bob));
    expectError(others, 403, 'M_USER_SUSPENDED');
    const viaSend = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.redaction/r3`,
      { redacts: alices },
      as(bob),
    );
    expectError(viaSend, 403, 'M_USER_SUSPENDED');
    // Nothing Bob was refused happened.
    const members = await api.get(`${CLIENT_V3}/rooms/${roomId}/joined_members`, as(alice));
    assert.deepEqual(
      Object.keys(members.body.joined as object).sort(),
      [alice.user_id, bob.user_id].sort(),
    );

    // Synapse's endpoint lifts it, answering in its own shape.
    const lifted = await api.put(
      `${ADMIN}/v1/suspend/${enc(bob.user_id)}`,
      { suspend: false },
      as(root),
    );
    assert.equal(lifted.status, 200, JSON.stringify(lifted.body));
    assert.deepEqual(lifted.body, { [`user_${bob.user_id}_suspended`]: false });
    assert.equal((await sendText(bob, roomId, 'after')).status, 200);
    await suite.leave(bob, roomId);
    expectError(
      await api.put(`${ADMIN}/v1/suspend/${enc('@nobody:localhost')}`, { suspend: true }, as(root)),
      404,
      'M_NOT_FOUND',
    );
  });

  it('shadow-bans: messages and invites are answered but never stored or sent', async () => {
    const dave = await api.register('dave');
    const erin = await api.register('erin');
    const roomId = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.join(dave, roomId);
    const ban = await api.post(`${ADMIN}/v1/users/${enc(dave.user_id)}/shadow_ban`, {}, as(root));
    assert.equal(ban.status, 200);
    assert.deepEqual(ban.body, {});
    assert.equal((await adminUser(dave.user_id)).shadow_banned, true);

    const sent = await sendText(dave, roomId, 'spam');
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    const fakeId = String(sent.body.event_id);
    assert.match(fakeId, /^\$[A-Za-z0-9_-]{43}$/);
    assert.ok(!(await messagesOf(alice, roomId)).includes(fakeId));
    expectError(
      await api.get(`${CLIENT_V3}/rooms/${roomId}/event/${fakeId}`, as(alice)),
      404,
      'M_NOT_FOUND',
    );
    const invite = await api.post(
      `${CLIENT_V3}/rooms/${roomId}/invite`,
      { user_id: erin.user_id },
      as(dave),
    );
    assert.equal(invite.status, 200, JSON.stringify(invite.body));
    const erinRooms = await api.get(`${ADMIN}/v1/users/${enc(erin.user_id)}/memberships`, as(root));
    assert.deepEqual(erinRooms.body, { memberships: {} });

    const unban = await api.request(
      'DELETE',
      `${ADMIN}/v1/users/${enc(dave.user_id)}/shadow_ban`,
      {},
      as(root),
    );
    assert.deepEqual(unban.body, {});
    const real = await sendText(dave, roomId, 'hello');
    assert.ok((await messagesOf(alice, roomId)).includes(String(real.body.event_id)));
    assert.equal((await adminUser(dave.user_id)).shadow_banned, false);
  });

  it('logs in as a user: a token of theirs on no visible device, never for oneself, expiring if asked', async () => {
    const url = `${ADMIN}/v1/users/${enc(alice.user_id)}/login`;
    const res = await api.post(url, {}, as(root));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const token = String(res.body.access_token);
    assert.equal((await whoami(token)).body.user_id, alice.user_id);
    const devices = await api.get(`${CLIENT_V3}/devices`, as(alice));
    const deviceIds = (devices.body.devices as { device_id: string }[]).map((d) => d.device_id);
    assert.ok(!deviceIds.includes(String((await whoami(token)).body.device_id)));

    expectError(
      await api.post(`${ADMIN}/v1/users/${enc(root.user_id)}/login`, {}, as(root)),
      400,
      'M_INVALID_PARAM',
    );
    expectError(
      await api.post(url, { valid_until_ms: Date.now() - 1000 }, as(root)),
      400,
      'M_INVALID_PARAM',
    );
    expectError(await api.post(url, { valid_until_ms: 'soon' }, as(root)), 400, 'M_INVALID_PARAM');
    expectError(
      await api.post(`${ADMIN}/v1/users/${enc('@nobody:localhost')}/login`, {}, as(root)),
      404,
      'M_NOT_FOUND',
    );

    const brief = await api.post(url, { valid_until_ms: Date.now() + 1500 }, as(root));
    const briefToken = String(brief.body.access_token);
    assert.equal((await whoami(briefToken)).status, 200);
    await sleep(1600);
    expectError(await whoami(briefToken), 401, 'M_UNKNOWN_TOKEN');
    assert.equal((await whoami(token)).status, 200);
  });

  it('lists a user’s memberships and pushers in Synapse’s shapes', async () => {
    const frank = await api.register('frank');
    const joined = await suite.createRoom(alice, { preset: 'public_chat' });
    const invited = await suite.createRoom(alice);
    const left = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.join(frank, joined);
    await suite.invite(alice, invited, frank.user_id);
    await suite.join(frank, left);
    await suite.leave(frank, left);
    const memberships = await api.get(
      `${ADMIN}/v1/users/${enc(frank.user_id)}/memberships`,
      as(root),
    );
    assert.deepEqual(memberships.body, {
      memberships: { [joined]: 'join', [invited]: 'invite', [left]: 'leave' },
    });

    const pushersUrl = `${ADMIN}/v1/users/${enc(frank.user_id)}/pushers`;
    assert.deepEqual((await api.get(pushersUrl, as(root))).body, { pushers: [], total: 0 });
    const pusher = {
      kind: 'http',
      app_id: 'org.example.weft',
      pushkey: 'frank-key',
      app_display_name: 'Weft tests',
      device_display_name: 'Phone',
      lang: 'en',
      data: { url: 'http://127.0.0.1:9/_matrix/push/v1/notify' },
    };
    const set = await api.post(`${CLIENT_V3}/pushers/set`, pusher, as(frank));
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual((await api.get(pushersUrl, as(root))).body, {
      pushers: [{ ...pusher, profile_tag: '' }],
      total: 1,
    });
    expectError(
      await api.get(`${ADMIN}/v1/users/${enc('@nobody:localhost')}/pushers`, as(root)),
      404,
      'M_NOT_FOUND',
    );
  });

  it('PUT v2/users stores locked and user_type, and the lock takes effect', async () => {
    const grace = await api.register('grace');
    const put = await api.put(
      `${ADMIN}/v2/users/${enc(grace.user_id)}`,
      { locked: true, user_type: 'bot' },
      as(root),
    );
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.locked, true);
    assert.equal(put.body.user_type, 'bot');
    expectError(await whoami(grace), 401, 'M_USER_LOCKED');
    const listed = await api.get(`${ADMIN}/v2/users?name=grace`, as(root));
    const users = listed.body.users as {
      name: string;
      locked: boolean;
      user_type: string | null;
    }[];
    assert.deepEqual(
      users.map((u) => [u.name, u.locked, u.user_type]),
      [[grace.user_id, true, 'bot']],
    );
    const unlock = await api.put(
      `${ADMIN}/v2/users/${enc(grace.user_id)}`,
      { locked: false, user_type: null },
      as(root),
    );
    assert.equal(unlock.body.locked, false);
    assert.equal(unlock.body.user_type, null);
    assert.equal((await whoami(grace)).status, 200);
  });

  it('stores, answers and deletes rate limit overrides', async () => {
    const url = `${ADMIN}/v1/users/${enc(carol.user_id)}/override_ratelimit`;
    assert.deepEqual((await api.get(url, as(root))).body, {});
    const set = await api.post(url, { messages_per_second: 10, burst_count: 20 }, as(root));
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual(set.body, { messages_per_second: 10, burst_count: 20 });
    assert.deepEqual((await api.get(url, as(root))).body, {
      messages_per_second: 10,
      burst_count: 20,
    });
    assert.deepEqual((await api.post(url, {}, as(root))).body, {
      messages_per_second: 0,
      burst_count: 0,
    });
    for (const body of [{ messages_per_second: -1 }, { burst_count: 'x' }, { burst_count: 1.5 }]) {
      expectError(await api.post(url, body, as(root)), 400, 'M_INVALID_PARAM');
    }
    assert.deepEqual((await api.request('DELETE', url, {}, as(root))).body, {});
    assert.deepEqual((await api.get(url, as(root))).body, {});
    const nobody = `${ADMIN}/v1/users/${enc('@nobody:localhost')}/override_ratelimit`;
    expectError(await api.get(nobody, as(root)), 404, 'M_NOT_FOUND');
  });
});

describe('Admin API: message rate limit overrides', () => {
  const generous = { per_second: 100, burst_count: 1000 };
  const suite = serverSuite({
    rate_limits: {
      enabled: true,
      registration_per_ip: generous,
      login_per_ip: generous,
      messages_per_user: { per_second: 0.001, burst_count: 2 },
    },
  });
  const { api } = suite;
  const [root, alice, bob] = suite.users('root', 'alice', 'bob');
  const as = (session: Session) => ({ token: session.access_token });
  let roomId = '';
  const send = (who: Session) =>
    api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/${Math.random().toString(36).slice(2)}`,
      { msgtype: 'm.text', body: 'hi' },
      as(who),
    );
  const override = (who: Session) => `${ADMIN}/v1/users/${enc(who.user_id)}/override_ratelimit`;

  before(async () => {
    await suite.server.weft.storage.users.setAdmin(root.user_id, true);
    roomId = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.join(bob, roomId);
  });

  it('limits messages by the server rule unless an override lifts or changes it', async () => {
    // Alice created the room (member events are not counted): two messages, then 429.
    assert.equal((await send(alice)).status, 200);
    assert.equal((await send(alice)).status, 200);
    expectError(await send(alice), 429, 'M_LIMIT_EXCEEDED');

    assert.equal(
      (await api.post(override(bob), { messages_per_second: 0, burst_count: 0 }, as(root))).status,
      200,
    );
    for (let i = 0; i < 5; i++) assert.equal((await send(bob)).status, 200);

    // Lifted for Alice at once (the override is not cached stale).
    assert.equal((await api.post(override(alice), {}, as(root))).status, 200);
    assert.equal((await send(alice)).status, 200);

    // Bob back on the server's rule: his bucket (untouched while lifted) allows two.
    assert.equal((await api.request('DELETE', override(bob), {}, as(root))).status, 200);
    assert.equal((await send(bob)).status, 200);
    assert.equal((await send(bob)).status, 200);
    expectError(await send(bob), 429, 'M_LIMIT_EXCEEDED');

    // A rule of his own, refilling at once.
    await api.post(override(bob), { messages_per_second: 1000, burst_count: 4 }, as(root));
    assert.equal((await send(bob)).status, 200);
  });
});
