import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, withServer } from '../support/fixture.js';

const PASSWORD = 'correct horse battery staple';

describe('login', () => {
  const { api } = serverSuite();
  before(async () => {
    await api.register('carol', PASSWORD);
  });

  it('lists password and token flows, the token flow with get_login_token', async () => {
    const res = await api.get(`${CLIENT_V3}/login`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.flows, [
      { type: 'm.login.password' },
      { type: 'm.login.token', get_login_token: true },
    ]);
  });

  it('accepts a localpart, a full user ID and the legacy top-level user field', async () => {
    for (const body of [
      { identifier: { type: 'm.id.user', user: 'carol' } },
      { identifier: { type: 'm.id.user', user: '@carol:localhost' } },
      { identifier: { type: 'm.id.user', user: 'CAROL' } },
      { user: 'carol' },
    ]) {
      const res = await api.post(`${CLIENT_V3}/login`, {
        type: 'm.login.password',
        password: PASSWORD,
        ...body,
      });
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(res.body.user_id, '@carol:localhost');
      assert.equal(res.body.home_server, 'localhost');
      assert.equal(typeof res.body.device_id, 'string');
    }
  });

  it('never returns refresh tokens, even when asked', async () => {
    const res = await api.login('carol', PASSWORD, { refresh_token: true });
    assert.equal(res.status, 200);
    assert.ok(!('refresh_token' in res.body));
    assert.ok(!('expires_in_ms' in res.body));
  });

  it('refuses a wrong password and an unknown user alike with 403 M_FORBIDDEN', async () => {
    const wrong = await api.login('carol', 'not the password');
    const unknown = await api.login('nobody', PASSWORD);
    const otherServer = await api.login('@carol:elsewhere.example', PASSWORD);
    for (const res of [wrong, unknown, otherServer]) {
      assert.equal(res.status, 403);
      assert.equal(res.body.errcode, 'M_FORBIDDEN');
    }
    assert.equal(wrong.body.error, unknown.body.error);
  });

  it('spends comparable time on unknown users and wrong passwords', async () => {
    const time = async (user: string) => {
      const started = performance.now();
      await api.login(user, 'wrong password');
      return performance.now() - started;
    };
    const samples = async (user: string) => {
      const list = [];
      for (let i = 0; i < 5; i++) list.push(await time(user));
      return list.sort((a, b) => a - b)[2]!;
    };
    const known = await samples('carol');
    const unknown = await samples('nobody-here');
    // Both run one argon2 verification; without the dummy hash an unknown user
    // answers in well under a tenth of the time.
    assert.ok(unknown > known * 0.25, `unknown ${unknown} ms vs known ${known} ms`);
  });

  it('refuses third-party identifiers with 403 and unknown login types with 400 M_UNKNOWN', async () => {
    const thirdParty = await api.post(`${CLIENT_V3}/login`, {
      type: 'm.login.password',
      identifier: { type: 'm.id.thirdparty', medium: 'email', address: 'carol@example.org' },
      password: PASSWORD,
    });
    assert.equal(thirdParty.status, 403);
    assert.equal(thirdParty.body.errcode, 'M_FORBIDDEN');
    const unknownType = await api.post(`${CLIENT_V3}/login`, { type: 'm.login.magic' });
    assert.equal(unknownType.status, 400);
    assert.equal(unknownType.body.errcode, 'M_UNKNOWN');
  });

  it('keeps a reused device and revokes its earlier tokens', async () => {
    const first = await api.login('carol', PASSWORD, {
      device_id: 'PHONE',
      initial_device_display_name: 'Phone',
    });
    const second = await api.login('carol', PASSWORD, {
      device_id: 'PHONE',
      initial_device_display_name: 'Ignored',
    });
    assert.equal(first.body.device_id, 'PHONE');
    assert.equal(second.body.device_id, 'PHONE');
    const old = await api.get(`${CLIENT_V3}/account/whoami`, { token: first.body.access_token });
    assert.equal(old.status, 401);
    assert.equal(old.body.errcode, 'M_UNKNOWN_TOKEN');
    assert.equal(old.body.soft_logout, false);
    const current = await api.get(`${CLIENT_V3}/devices/PHONE`, {
      token: second.body.access_token,
    });
    assert.equal(current.status, 200);
    assert.equal(current.body.display_name, 'Phone');
    // device_management.yaml: "If not given, the display name is unchanged."
    const token = { token: second.body.access_token };
    assert.equal((await api.put(`${CLIENT_V3}/devices/PHONE`, {}, token)).status, 200);
    const unchanged = await api.get(`${CLIENT_V3}/devices/PHONE`, token);
    assert.equal(unchanged.body.display_name, 'Phone');
    const renamed = await api.put(`${CLIENT_V3}/devices/PHONE`, { display_name: 'Tablet' }, token);
    assert.equal(renamed.status, 200);
    assert.equal((await api.get(`${CLIENT_V3}/devices/PHONE`, token)).body.display_name, 'Tablet');
    assert.equal((await api.put(`${CLIENT_V3}/devices/NOPE`, {}, token)).status, 404);
  });

  it('accepts the token as a Bearer header and as the access_token query parameter', async () => {
    const { body } = await api.login('carol', PASSWORD);
    const viaQuery = await api.get(`${CLIENT_V3}/account/whoami?access_token=${body.access_token}`);
    assert.equal(viaQuery.status, 200);
    assert.equal(viaQuery.body.user_id, '@carol:localhost');
    const missing = await api.get(`${CLIENT_V3}/account/whoami`);
    assert.equal(missing.status, 401);
    assert.equal(missing.body.errcode, 'M_MISSING_TOKEN');
  });

  it('logout kills the token and its device; logout/all kills every device', async () => {
    const a = (await api.login('carol', PASSWORD)).body;
    const b = (await api.login('carol', PASSWORD)).body;
    assert.equal(
      (await api.post(`${CLIENT_V3}/logout`, undefined, { token: a.access_token })).status,
      200,
    );
    assert.equal(
      (await api.get(`${CLIENT_V3}/account/whoami`, { token: a.access_token })).status,
      401,
    );
    const devices = await api.get<{ devices: { device_id: string }[] }>(`${CLIENT_V3}/devices`, {
      token: b.access_token,
    });
    assert.ok(!devices.body.devices.some((d) => d.device_id === a.device_id));

    const c = (await api.login('carol', PASSWORD)).body;
    assert.equal(
      (await api.post(`${CLIENT_V3}/logout/all`, {}, { token: b.access_token })).status,
      200,
    );
    for (const token of [b.access_token, c.access_token]) {
      assert.equal((await api.get(`${CLIENT_V3}/account/whoami`, { token })).status, 401);
    }
    const after = (await api.login('carol', PASSWORD)).body;
    const remaining = await api.get<{ devices: unknown[] }>(`${CLIENT_V3}/devices`, {
      token: after.access_token,
    });
    assert.equal(remaining.body.devices.length, 1);
  });

  it('has no /tokenrefresh and answers /refresh with M_UNKNOWN_TOKEN', async () => {
    const tokenRefresh = await api.post('/_matrix/client/r0/tokenrefresh', { refresh_token: 'x' });
    assert.equal(tokenRefresh.status, 404);
    assert.equal(tokenRefresh.body.errcode, 'M_UNRECOGNIZED');
    const refresh = await api.post(`${CLIENT_V3}/refresh`, { refresh_token: 'x' });
    assert.equal(refresh.status, 401);
    assert.equal(refresh.body.errcode, 'M_UNKNOWN_TOKEN');
    assert.equal(refresh.body.soft_logout, false);
  });
});

describe('client addresses behind a reverse proxy', () => {
  for (const xForwarded of [false, true]) {
    it(`${xForwarded ? 'trusts' : 'ignores'} X-Forwarded-For when x_forwarded is ${xForwarded}`, async () => {
      await withServer(
        async ({ api }) => {
          const { access_token } = await api.register('proxied', PASSWORD);
          const headers = { 'x-forwarded-for': '203.0.113.9' };
          await api.get(`${CLIENT_V3}/account/whoami`, { token: access_token, headers });
          const devices = await api.get<{ devices: { last_seen_ip?: string }[] }>(
            `${CLIENT_V3}/devices`,
            {
              token: access_token,
              headers,
            },
          );
          assert.equal(
            devices.body.devices[0]?.last_seen_ip,
            xForwarded ? '203.0.113.9' : '127.0.0.1',
          );
        },
        { config: { x_forwarded: xForwarded } },
      );
    });
  }
});
