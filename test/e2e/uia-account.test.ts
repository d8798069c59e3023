import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite } from '../support/fixture.js';

const PASSWORD = 'correct horse battery staple';
type Body = Record<string, unknown>;

describe('user-interactive auth on account endpoints', () => {
  const { api } = serverSuite();

  const withPassword = (
    method: string,
    path: string,
    body: Body,
    token: string,
    user: string,
    password = PASSWORD,
  ) => api.withPasswordAuth(method, path, body, { token, user, password });

  it('never succeeds without auth, and a failed stage says why while keeping the session', async () => {
    const { access_token } = await api.register('dave', PASSWORD);
    const first = await api.post(
      `${CLIENT_V3}/account/password`,
      { new_password: 'new-1' },
      { token: access_token },
    );
    assert.equal(first.status, 401);
    assert.equal(first.body.errcode, undefined);
    const session = first.body.session;
    const wrong = await api.post(
      `${CLIENT_V3}/account/password`,
      {
        new_password: 'new-1',
        auth: {
          type: 'm.login.password',
          session,
          identifier: { type: 'm.id.user', user: 'dave' },
          password: 'nope',
        },
      },
      { token: access_token },
    );
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.errcode, 'M_FORBIDDEN');
    assert.equal(wrong.body.session, session);
    assert.deepEqual(wrong.body.completed, []);
    assert.deepEqual(wrong.body.flows, [{ stages: ['m.login.password'] }]);
    // The password is still the old one.
    assert.equal((await api.login('dave', PASSWORD)).status, 200);
  });

  it('checks the new password against the policy before UIA starts', async () => {
    const { access_token } = await api.register('weakpw', PASSWORD);
    for (const newPassword of ['', 'x'.repeat(513)]) {
      const res = await api.post(
        `${CLIENT_V3}/account/password`,
        { new_password: newPassword },
        { token: access_token },
      );
      assert.equal(res.status, 400, `password of ${newPassword.length} characters`);
      assert.equal(res.body.errcode, 'M_WEAK_PASSWORD');
    }
    assert.equal((await api.login('weakpw', PASSWORD)).status, 200);
  });

  it("refuses another user's password in the password stage", async () => {
    const erin = await api.register('erin', PASSWORD);
    await api.register('frank', 'franks password');
    const res = await withPassword(
      'POST',
      `${CLIENT_V3}/account/password`,
      { new_password: 'x-new' },
      erin.access_token,
      'frank',
      'franks password',
    );
    assert.equal(res.status, 401);
    assert.equal(res.body.errcode, 'M_FORBIDDEN');
  });

  it('binds a session to its request: it cannot authorise another operation', async () => {
    const { access_token, device_id } = await api.register('gina', PASSWORD);
    const challenge = await api.post(
      `${CLIENT_V3}/account/password`,
      { new_password: 'y' },
      { token: access_token },
    );
    const res = await api.delete(
      `${CLIENT_V3}/devices/${device_id}`,
      {
        auth: {
          type: 'm.login.password',
          session: challenge.body.session,
          identifier: { type: 'm.id.user', user: 'gina' },
          password: PASSWORD,
        },
      },
      { token: access_token },
    );
    assert.equal(res.status, 403);
    assert.equal(
      (await api.get(`${CLIENT_V3}/account/whoami`, { token: access_token })).status,
      200,
    );
  });

  it('changes the password, keeps the calling device and logs out the others', async () => {
    const caller = await api.register('hank', PASSWORD);
    const other = (await api.login('hank', PASSWORD)).body;
    const res = await withPassword(
      'POST',
      `${CLIENT_V3}/account/password`,
      { new_password: 'hank-new' },
      caller.access_token,
      'hank',
    );
    assert.equal(res.status, 200);
    assert.equal(
      (await api.get(`${CLIENT_V3}/account/whoami`, { token: caller.access_token })).status,
      200,
    );
    assert.equal(
      (await api.get(`${CLIENT_V3}/account/whoami`, { token: other.access_token })).status,
      401,
    );
    assert.equal((await api.login('hank', PASSWORD)).status, 403);
    assert.equal((await api.login('hank', 'hank-new')).status, 200);
  });

  it('keeps the other devices with logout_devices: false', async () => {
    const caller = await api.register('iris', PASSWORD);
    const other = (await api.login('iris', PASSWORD)).body;
    const res = await withPassword(
      'POST',
      `${CLIENT_V3}/account/password`,
      { new_password: 'iris-new', logout_devices: false },
      caller.access_token,
      'iris',
    );
    assert.equal(res.status, 200);
    assert.equal(
      (await api.get(`${CLIENT_V3}/account/whoami`, { token: other.access_token })).status,
      200,
    );
  });

  it('deactivates: tokens die, logins get M_USER_DEACTIVATED, the ID is never reissued', async () => {
    const jack = await api.register('jack', PASSWORD);
    const res = await withPassword(
      'POST',
      `${CLIENT_V3}/account/deactivate`,
      {},
      jack.access_token,
      'jack',
    );
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { id_server_unbind_result: 'success' });
    const whoami = await api.get(`${CLIENT_V3}/account/whoami`, { token: jack.access_token });
    assert.equal(whoami.status, 401);
    assert.equal(whoami.body.errcode, 'M_UNKNOWN_TOKEN');
    const login = await api.login('jack', PASSWORD);
    assert.equal(login.status, 403);
    assert.equal(login.body.errcode, 'M_USER_DEACTIVATED');
    const again = await api.post(`${CLIENT_V3}/register`, {
      username: 'jack',
      password: 'p',
      auth: { type: 'm.login.dummy' },
    });
    assert.equal(again.status, 400);
    assert.equal(again.body.errcode, 'M_USER_IN_USE');
  });

  it('manages devices: list, show, rename, delete behind UIA, with last_seen data', async () => {
    const kim = await api.register('kim', PASSWORD, {
      device_id: 'LAPTOP',
      initial_device_display_name: 'Laptop',
    });
    const phone = (await api.login('kim', PASSWORD, { device_id: 'PHONE' })).body;
    const list = await api.get<{ devices: Body[] }>(`${CLIENT_V3}/devices`, {
      token: kim.access_token,
    });
    assert.deepEqual(list.body.devices.map((d) => d.device_id).sort(), ['LAPTOP', 'PHONE']);
    const laptop = list.body.devices.find((d) => d.device_id === 'LAPTOP')!;
    assert.equal(laptop.display_name, 'Laptop');
    assert.equal(typeof laptop.last_seen_ts, 'number');
    assert.equal(typeof laptop.last_seen_ip, 'string');

    const rename = await api.put(
      `${CLIENT_V3}/devices/PHONE`,
      { display_name: 'My phone' },
      { token: kim.access_token },
    );
    assert.equal(rename.status, 200);
    assert.equal(
      (await api.get(`${CLIENT_V3}/devices/PHONE`, { token: kim.access_token })).body.display_name,
      'My phone',
    );
    assert.equal(
      (await api.get(`${CLIENT_V3}/devices/NOPE`, { token: kim.access_token })).status,
      404,
    );
    assert.equal(
      (
        await api.put(
          `${CLIENT_V3}/devices/NOPE`,
          { display_name: 'x' },
          { token: kim.access_token },
        )
      ).status,
      404,
    );

    const del = await withPassword(
      'DELETE',
      `${CLIENT_V3}/devices/PHONE`,
      {},
      kim.access_token,
      'kim',
    );
    assert.equal(del.status, 200);
    // A deleted device's token stops working at once (the token cache is dropped).
    assert.equal(
      (await api.get(`${CLIENT_V3}/account/whoami`, { token: phone.access_token })).status,
      401,
    );

    const tablet = (await api.login('kim', PASSWORD, { device_id: 'TABLET' })).body;
    const bulk = await withPassword(
      'POST',
      `${CLIENT_V3}/delete_devices`,
      { devices: ['TABLET'] },
      kim.access_token,
      'kim',
    );
    assert.equal(bulk.status, 200);
    assert.equal(
      (await api.get(`${CLIENT_V3}/account/whoami`, { token: tablet.access_token })).status,
      401,
    );
    const remaining = await api.get<{ devices: Body[] }>(`${CLIENT_V3}/devices`, {
      token: kim.access_token,
    });
    assert.deepEqual(
      remaining.body.devices.map((d) => d.device_id),
      ['LAPTOP'],
    );
  });

  it('lists no third-party identifiers', async () => {
    const lee = await api.register('lee', PASSWORD);
    const threepids = await api.get(`${CLIENT_V3}/account/3pid`, { token: lee.access_token });
    assert.deepEqual(threepids.body, { threepids: [] });
  });
});
