/**
 * Synapse's Admin API, user writes (server admins only): create or modify an
 * account, deactivate (and erase), reset a password, a user's devices and
 * joined rooms. Each effect is checked through the client API.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError } from '../support/spec-schemas.js';

const ADMIN = '/_synapse/admin';
const enc = encodeURIComponent;

interface DeviceJson {
  user_id: string;
  device_id: string;
  display_name: string | null;
  last_seen_ip: string | null;
  last_seen_ts: number | null;
  last_seen_user_agent: string | null;
}

describe('Admin API: user writes', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [root, alice] = suite.users('root', 'alice');
  const as = (session: Session) => ({ token: session.access_token });
  const user = (localpart: string) => `@${localpart}:localhost`;
  const whoami = (token: string) => api.get(`${CLIENT_V3}/account/whoami`, { token });
  const expectLoggedOut = async (token: string) =>
    expectError(await whoami(token), 401, 'M_UNKNOWN_TOKEN');
  const putUser = (userId: string, body: unknown) =>
    api.put(`${ADMIN}/v2/users/${enc(userId)}`, body, as(root));

  before(async () => {
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
  });

  it('refuses every write to non-admins (403 M_FORBIDDEN), changing nothing', async () => {
    const target = enc(alice.user_id);
    const requests: [string, string, unknown?][] = [
      ['PUT', `/v2/users/${enc(user('someone'))}`, { password: 'pw-someone-1' }],
      ['POST', `/v1/deactivate/${target}`, {}],
      ['POST', `/v1/reset_password/${target}`, { new_password: 'stolen-pw-1' }],
      ['GET', `/v2/users/${target}/devices`],
      ['POST', `/v2/users/${target}/devices`, { device_id: 'INTRUDER' }],
      ['GET', `/v2/users/${target}/devices/${alice.device_id}`],
      ['PUT', `/v2/users/${target}/devices/${alice.device_id}`, { display_name: 'x' }],
      ['DELETE', `/v2/users/${target}/devices/${alice.device_id}`, {}],
      ['POST', `/v2/users/${target}/delete_devices`, { devices: [alice.device_id] }],
      ['GET', `/v1/users/${target}/joined_rooms`],
    ];
    for (const [method, path, body] of requests) {
      expectError(await api.request(method, ADMIN + path, body, as(alice)), 403, 'M_FORBIDDEN');
    }
    assert.equal(await suite.server.weft.storage.users.getUser(user('someone')), undefined);
    assert.equal((await whoami(alice.access_token)).status, 200);
    assert.equal((await api.login('alice')).status, 200);
  });

  it('PUT v2/users creates a user (201, as GET answers) who can log in', async () => {
    const created = await putUser(user('carol'), {
      password: 'carol-pw-1',
      displayname: 'Carol C',
      avatar_url: 'mxc://localhost/carol',
      admin: true,
      user_type: null,
      locked: false,
      threepids: [],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const got = await api.get(`${ADMIN}/v2/users/${enc(user('carol'))}`, as(root));
    assert.deepEqual(created.body, got.body);
    assert.equal(created.body.displayname, 'Carol C');
    assert.equal(created.body.avatar_url, 'mxc://localhost/carol');
    assert.equal(created.body.admin, true);
    const login = await api.login('carol', 'carol-pw-1');
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const profile = await api.get(`${CLIENT_V3}/profile/${enc(user('carol'))}`);
    assert.deepEqual(profile.body, {
      displayname: 'Carol C',
      avatar_url: 'mxc://localhost/carol',
    });
    // Without a display name the localpart is one, as registration gives.
    const plain = await putUser(user('dave'), { password: 'dave-pw-1' });
    assert.equal(plain.status, 201);
    assert.equal(plain.body.displayname, 'dave');
    assert.equal(plain.body.admin, false);
  });

  it('PUT v2/users modifies (200): name, admin flag, password logging devices out unless told', async () => {
    const erin = await suite.register('erin', 'erin-pw-1');
    const changed = await putUser(erin.user_id, { displayname: 'Erin E', admin: true });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.displayname, 'Erin E');
    assert.equal(changed.body.admin, true);
    assert.equal((await whoami(erin.access_token)).status, 200);
    // Erin is an admin now: the Admin API is open to her.
    assert.equal((await api.get(`${ADMIN}/v2/users`, as(erin))).status, 200);

    const kept = await putUser(erin.user_id, { password: 'erin-pw-2', logout_devices: false });
    assert.equal(kept.status, 200);
    assert.equal((await whoami(erin.access_token)).status, 200);
    assert.equal((await api.login('erin', 'erin-pw-2')).status, 200);

    assert.equal((await putUser(erin.user_id, { password: 'erin-pw-3' })).status, 200);
    await expectLoggedOut(erin.access_token);
    expectError(await api.login('erin', 'erin-pw-2'), 403, 'M_FORBIDDEN');
    assert.equal((await api.login('erin', 'erin-pw-3')).status, 200);
  });

  it('PUT v2/users refuses bad bodies and what Weft cannot store, before changing anything', async () => {
    const target = user('alice');
    const cases: [unknown, string][] = [
      [{ admin: 'yes' }, 'M_BAD_JSON'],
      [{ deactivated: 1 }, 'M_BAD_JSON'],
      [{ logout_devices: 'no' }, 'M_BAD_JSON'],
      [{ locked: 'no' }, 'M_BAD_JSON'],
      [{ displayname: 7, admin: true }, 'M_BAD_JSON'],
      [{ password: 12 }, 'M_INVALID_PARAM'],
      [{ password: 'x'.repeat(513) }, 'M_INVALID_PARAM'],
      [{ user_type: 'robot', admin: true }, 'M_INVALID_PARAM'],
      [{ user_type: 5, admin: true }, 'M_BAD_JSON'],
      [{ threepids: [{ medium: 'email', address: 'a@example.org' }] }, 'M_INVALID_PARAM'],
      [[], 'M_BAD_JSON'],
    ];
    for (const [body, errcode] of cases) {
      expectError(await putUser(target, body), 400, errcode);
    }
    assert.equal((await suite.server.weft.storage.users.getUser(target))?.isAdmin, false);
    const remote = await putUser('@alice:elsewhere.example', { password: 'pw-remote-1' });
    expectError(remote, 400, 'M_INVALID_PARAM');
    assert.equal(remote.body.error, 'This endpoint can only be used with local users');
    expectError(await putUser('@Upper:localhost', {}), 400, 'M_INVALID_USERNAME');
    expectError(await putUser(root.user_id, { admin: false }), 400, 'M_UNKNOWN');
  });

  it('PUT v2/users deactivates (rooms left, login refused) and reactivates with a password', async () => {
    const frank = await suite.register('frank', 'frank-pw-1');
    const roomId = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.join(frank, roomId);
    const off = await putUser(frank.user_id, { deactivated: true });
    assert.equal(off.status, 200);
    assert.equal(off.body.deactivated, true);
    await expectLoggedOut(frank.access_token);
    expectError(await api.login('frank', 'frank-pw-1'), 403, 'M_USER_DEACTIVATED');
    await waitUntilLeft(frank.user_id, roomId);

    expectError(await putUser(frank.user_id, { deactivated: false }), 400, 'M_MISSING_PARAM');
    const on = await putUser(frank.user_id, { deactivated: false, password: 'frank-pw-2' });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    assert.equal(on.body.deactivated, false);
    expectError(await api.login('frank', 'frank-pw-1'), 403, 'M_FORBIDDEN');
    assert.equal((await api.login('frank', 'frank-pw-2')).status, 200);
  });

  it('v1/reset_password: the old password fails, the new works, other tokens die', async () => {
    const gina = await suite.register('gina', 'gina-pw-1');
    const reset = await api.post(
      `${ADMIN}/v1/reset_password/${enc(gina.user_id)}`,
      { new_password: 'gina-pw-2' },
      as(root),
    );
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    assert.deepEqual(reset.body, {});
    await expectLoggedOut(gina.access_token);
    expectError(await api.login('gina', 'gina-pw-1'), 403, 'M_FORBIDDEN');
    const again = await api.login('gina', 'gina-pw-2');
    assert.equal(again.status, 200);

    const keep = await api.post(
      `${ADMIN}/v1/reset_password/${enc(gina.user_id)}`,
      { new_password: 'gina-pw-3', logout_devices: false },
      as(root),
    );
    assert.equal(keep.status, 200);
    assert.equal((await whoami(again.body.access_token)).status, 200);
    assert.equal((await api.login('gina', 'gina-pw-3')).status, 200);

    const path = (userId: string) => `${ADMIN}/v1/reset_password/${enc(userId)}`;
    expectError(await api.post(path(gina.user_id), {}, as(root)), 400, 'M_MISSING_PARAM');
    const unknown = await api.post(path(user('nobody')), { new_password: 'pw-x-1' }, as(root));
    expectError(unknown, 404, 'M_NOT_FOUND');
    assert.equal(unknown.body.error, 'User not found');
  });

  it('v1/deactivate: login refused, rooms left; erase clears the name and avatar', async () => {
    const hank = await suite.register('hank', 'hank-pw-1');
    await api.put(
      `${CLIENT_V3}/profile/${enc(hank.user_id)}/avatar_url`,
      { avatar_url: 'mxc://localhost/hank' },
      as(hank),
    );
    const roomId = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.join(hank, roomId);
    const joined = await api.get(`${ADMIN}/v1/users/${enc(hank.user_id)}/joined_rooms`, as(root));
    assert.deepEqual(joined.body, { joined_rooms: [roomId], total: 1 });

    const path = (userId: string) => `${ADMIN}/v1/deactivate/${enc(userId)}`;
    expectError(await api.post(path(hank.user_id), { erase: 'yes' }, as(root)), 400, 'M_BAD_JSON');
    const res = await api.post(path(hank.user_id), { erase: true }, as(root));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { id_server_unbind_result: 'success' });
    await expectLoggedOut(hank.access_token);
    expectError(await api.login('hank', 'hank-pw-1'), 403, 'M_USER_DEACTIVATED');
    await waitUntilLeft(hank.user_id, roomId);
    const profile = await api.get(`${CLIENT_V3}/profile/${enc(hank.user_id)}`);
    assert.deepEqual(profile.body, {});
    const after = await api.get(`${ADMIN}/v1/users/${enc(hank.user_id)}/joined_rooms`, as(root));
    assert.deepEqual(after.body, { joined_rooms: [], total: 0 });

    const unknown = await api.post(path(user('nobody')), {}, as(root));
    expectError(unknown, 404, 'M_NOT_FOUND');
    assert.equal(unknown.body.error, 'User not found');
  });

  it("manages a user's devices: list, create, get, rename, delete (its token dies)", async () => {
    const ivy = await suite.register('ivy', 'ivy-pw-1');
    const second = (await api.login('ivy', 'ivy-pw-1')).body;
    const base = `${ADMIN}/v2/users/${enc(ivy.user_id)}`;
    await whoami(ivy.access_token);

    const listed = await api.get<{ devices: DeviceJson[]; total: number }>(
      `${base}/devices`,
      as(root),
    );
    assert.equal(listed.status, 200);
    assert.equal(listed.body.total, 2);
    const first = listed.body.devices.find((d) => d.device_id === ivy.device_id)!;
    assert.equal(first.user_id, ivy.user_id);
    // The test client's own User-Agent header (Node's fetch sends one).
    assert.equal(typeof first.last_seen_user_agent, 'string');
    assert.equal(typeof first.last_seen_ip, 'string');
    assert.equal(typeof first.last_seen_ts, 'number');
    assert.deepEqual(Object.keys(first).sort(), [
      'device_id',
      'display_name',
      'last_seen_ip',
      'last_seen_ts',
      'last_seen_user_agent',
      'user_id',
    ]);

    const created = await api.post(`${base}/devices`, { device_id: 'ADMINMADE' }, as(root));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // Again: nothing changes, the existing device's token stays valid.
    const existing = await api.post(`${base}/devices`, { device_id: ivy.device_id }, as(root));
    assert.equal(existing.status, 201);
    assert.equal((await whoami(ivy.access_token)).status, 200);
    expectError(await api.post(`${base}/devices`, {}, as(root)), 400, 'M_MISSING_PARAM');
    expectError(await api.post(`${base}/devices`, { device_id: 3 }, as(root)), 400, 'M_BAD_JSON');

    const renamed = await api.put(
      `${base}/devices/ADMINMADE`,
      { display_name: 'Made by root' },
      as(root),
    );
    assert.equal(renamed.status, 200);
    const one = await api.get<DeviceJson>(`${base}/devices/ADMINMADE`, as(root));
    assert.equal(one.body.display_name, 'Made by root');
    assert.equal(one.body.last_seen_ip, null);
    const own = await api.get<{ devices: { device_id: string; display_name?: string }[] }>(
      `${CLIENT_V3}/devices`,
      as(ivy),
    );
    assert.equal(
      own.body.devices.find((d) => d.device_id === 'ADMINMADE')?.display_name,
      'Made by root',
    );
    expectError(await api.get(`${base}/devices/NOSUCH`, as(root)), 404, 'M_NOT_FOUND');

    const deleted = await api.delete(`${base}/devices/${second.device_id}`, {}, as(root));
    assert.equal(deleted.status, 200);
    await expectLoggedOut(second.access_token);
    assert.equal((await whoami(ivy.access_token)).status, 200);

    const many = await api.post(
      `${base}/delete_devices`,
      { devices: [ivy.device_id, 'ADMINMADE', 'NOSUCH'] },
      as(root),
    );
    assert.equal(many.status, 200);
    await expectLoggedOut(ivy.access_token);
    const none = await api.get(`${base}/devices`, as(root));
    assert.deepEqual(none.body, { devices: [], total: 0 });

    const unknown = await api.get(`${ADMIN}/v2/users/${enc(user('nobody'))}/devices`, as(root));
    expectError(unknown, 404, 'M_NOT_FOUND');
    assert.equal(unknown.body.error, 'User not found');
  });

  /** The deactivated user's leave runs in the background: waits until the room shows it. */
  async function waitUntilLeft(userId: string, roomId: string) {
    let membership: unknown;
    // Up to ~15 s: on PostgreSQL under a full CI run the background leave took over 5 s.
    for (let i = 0; i < 750; i++) {
      const res = await api.get<{ membership?: string }>(
        `${CLIENT_V3}/rooms/${enc(roomId)}/state/m.room.member/${enc(userId)}`,
        as(alice),
      );
      membership = res.body.membership;
      if (membership === 'leave') return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(membership, 'leave');
  }
});
