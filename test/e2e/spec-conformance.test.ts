/**
 * Every endpoint of the foundation, driven over HTTP, with each answer checked
 * against the spec's own response schema (test/support/spec-schemas.ts). The
 * rules the spec states only in prose are asserted directly.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { type ApiResponse, CLIENT_V3, serverSuite } from '../support/fixture.js';
import { assertSpecError, expectError, expectSpec } from '../support/spec-schemas.js';

const V1 = '/_matrix/client/v1';
const PASSWORD = 'correct horse battery staple';

type Body = Record<string, unknown>;

/** A spec-described error: status, schema, errcode. */
function expectSpecError(
  res: ApiResponse<Body>,
  method: string,
  template: string,
  status: number,
  errcode: string,
): void {
  expectSpec(res, method, template, status);
  assert.equal(res.body.errcode, errcode, JSON.stringify(res.body));
}

/** An error on a status the spec does not list for the endpoint: the generic error schema. */
function assertNoRefreshToken(body: Body): void {
  assert.equal(body.refresh_token, undefined, 'Weft issues no refresh tokens');
  assert.equal(body.expires_in_ms, undefined, 'Weft access tokens do not expire');
}

function passwordAuth(user: string, session: unknown, password = PASSWORD): Body {
  return { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, session };
}

describe('spec conformance', () => {
  const suite = serverSuite();
  const { api } = suite;

  describe('discovery', () => {
    it('GET /versions', async () => {
      const body = expectSpec(
        await api.get('/_matrix/client/versions'),
        'GET',
        '/_matrix/client/versions',
        200,
      );
      // Exactly the versions whose features are built (discovery.ts says why each is there).
      assert.deepEqual(body.versions, [
        'r0.0.1',
        'r0.1.0',
        'r0.2.0',
        'r0.3.0',
        'r0.4.0',
        'r0.5.0',
        'r0.6.0',
        'r0.6.1',
        'v1.1',
        'v1.2',
        'v1.3',
        'v1.4',
        'v1.5',
        'v1.6',
        'v1.7',
        'v1.8',
        'v1.9',
        'v1.10',
        'v1.11',
        'v1.12',
        'v1.13',
        'v1.14',
        'v1.15',
        'v1.16',
        'v1.17',
        'v1.18',
        'v1.19',
      ]);
      // "Values will take the form vX.Y or rX.Y.Z in historical cases."
      for (const version of body.versions as string[]) {
        assert.match(version, /^(v\d+\.\d+|r\d+\.\d+\.\d+)$/);
      }
      // Authenticated media, which the media freeze (on by default) needs clients to use,
      // and simplified sliding sync, without which Element X refuses the server.
      assert.deepEqual(body.unstable_features, {
        'org.matrix.msc3916.stable': true,
        'uk.half-shot.msc2666.query_mutual_rooms': true,
        'org.matrix.simplified_msc3575': true,
      });
      // Authentication is optional; the answer must still be valid with it.
      const { access_token } = await api.register('versions_user');
      expectSpec(
        await api.get('/_matrix/client/versions', { token: access_token }),
        'GET',
        '/_matrix/client/versions',
        200,
      );
    });

    it('GET /.well-known/matrix/client', async () => {
      const body = expectSpec(
        await api.get('/.well-known/matrix/client'),
        'GET',
        '/.well-known/matrix/client',
        200,
      );
      const homeserver = body['m.homeserver'] as Body;
      assert.doesNotThrow(() => new URL(String(homeserver.base_url)));
    });

    it('GET /.well-known/matrix/client leads to this server', async () => {
      const body = (await api.get('/.well-known/matrix/client')).body;
      const baseUrl = String((body['m.homeserver'] as Body).base_url);
      assert.equal(baseUrl, suite.server.url);
      const res = await fetch(`${baseUrl}/_matrix/client/versions`);
      assert.equal(res.status, 200);
    });

    it('GET /capabilities, with the rules the schema cannot state', async () => {
      const { access_token } = await api.register('caps_user');
      const res = await api.get(`${CLIENT_V3}/capabilities`, { token: access_token });
      const caps = expectSpec(res, 'GET', '/_matrix/client/v3/capabilities', 200)
        .capabilities as Record<string, Body>;

      // Weft has no 3PIDs, so they cannot be changed.
      assert.equal(caps['m.3pid_changes']?.enabled, false);
      assert.equal(caps['m.change_password']?.enabled, true);

      // The deprecated per-field capabilities must say what m.profile_fields says.
      const profile = caps['m.profile_fields'];
      assert.ok(profile, 'm.profile_fields is advertised');
      const canSet = (field: string) => {
        if (profile.enabled !== true) return false;
        if (Array.isArray(profile.allowed)) return profile.allowed.includes(field);
        return !(Array.isArray(profile.disallowed) && profile.disallowed.includes(field));
      };
      assert.equal(caps['m.set_displayname']?.enabled, canSet('displayname'));
      assert.equal(caps['m.set_avatar_url']?.enabled, canSet('avatar_url'));

      // m.get_login_token and the login flows must agree.
      const flows = (await api.get(`${CLIENT_V3}/login`)).body.flows as Body[];
      const tokenFlow = flows.find((f) => f.type === 'm.login.token');
      assert.equal(caps['m.get_login_token']?.enabled, tokenFlow?.get_login_token === true);

      // Unauthenticated: the spec lists no 401 here, so the generic error shape.
      expectError(await api.get(`${CLIENT_V3}/capabilities`), 401, 'M_MISSING_TOKEN');
    });
  });

  describe('registration', () => {
    it('POST /register: UIA challenge, then dummy stage, never a refresh token', async () => {
      const first = await api.post(`${CLIENT_V3}/register`, {
        username: 'conf_reg',
        password: PASSWORD,
        refresh_token: true,
      });
      const challenge = expectSpec(first, 'POST', '/_matrix/client/v3/register', 401);
      assert.deepEqual(challenge.flows, [{ stages: ['m.login.dummy'] }]);
      assert.equal(typeof challenge.session, 'string');

      const res = await api.post(`${CLIENT_V3}/register`, {
        username: 'conf_reg',
        password: PASSWORD,
        refresh_token: true,
        device_id: 'CONFREGDEVICE',
        initial_device_display_name: 'conformance',
        auth: { type: 'm.login.dummy', session: challenge.session },
      });
      const body = expectSpec(res, 'POST', '/_matrix/client/v3/register', 200);
      assert.equal(body.user_id, '@conf_reg:localhost');
      assert.equal(typeof body.access_token, 'string');
      // "Will be the same as the corresponding parameter in the request, if one was specified."
      assert.equal(body.device_id, 'CONFREGDEVICE');
      assertNoRefreshToken(body);
    });

    it('POST /register?kind=guest', async () => {
      const res = await api.post(`${CLIENT_V3}/register?kind=guest`, { refresh_token: true });
      const body = expectSpec(res, 'POST', '/_matrix/client/v3/register', 200);
      assert.equal(typeof body.access_token, 'string');
      assert.equal(typeof body.device_id, 'string');
      assertNoRefreshToken(body);
      const whoami = await api.get(`${CLIENT_V3}/account/whoami`, {
        token: String(body.access_token),
      });
      assert.equal(
        expectSpec(whoami, 'GET', '/_matrix/client/v3/account/whoami', 200).is_guest,
        true,
      );
    });

    it('POST /register with inhibit_login returns no token and no device', async () => {
      const res = await api.post(`${CLIENT_V3}/register`, {
        username: 'conf_inhibit',
        password: PASSWORD,
        inhibit_login: true,
        refresh_token: true,
        auth: { type: 'm.login.dummy' },
      });
      const body = expectSpec(res, 'POST', '/_matrix/client/v3/register', 200);
      assert.equal(body.user_id, '@conf_inhibit:localhost');
      assert.equal(body.access_token, undefined);
      assert.equal(body.device_id, undefined);
      assertNoRefreshToken(body);
    });

    it('POST /register errors', async () => {
      await api.register('conf_taken');
      expectSpecError(
        await api.post(`${CLIENT_V3}/register`, {
          username: 'conf_taken',
          password: PASSWORD,
          auth: { type: 'm.login.dummy' },
        }),
        'POST',
        '/_matrix/client/v3/register',
        400,
        'M_USER_IN_USE',
      );
      expectSpecError(
        await api.post(`${CLIENT_V3}/register`, {
          username: 'no spaces allowed',
          password: PASSWORD,
          auth: { type: 'm.login.dummy' },
        }),
        'POST',
        '/_matrix/client/v3/register',
        400,
        'M_INVALID_USERNAME',
      );
    });

    it('GET /register/available', async () => {
      const free = await api.get(`${CLIENT_V3}/register/available?username=conf_free`);
      assert.equal(
        expectSpec(free, 'GET', '/_matrix/client/v3/register/available', 200).available,
        true,
      );
      await api.register('conf_used');
      expectSpecError(
        await api.get(`${CLIENT_V3}/register/available?username=conf_used`),
        'GET',
        '/_matrix/client/v3/register/available',
        400,
        'M_USER_IN_USE',
      );
      expectSpecError(
        await api.get(`${CLIENT_V3}/register/available?username=%E2%98%83`),
        'GET',
        '/_matrix/client/v3/register/available',
        400,
        'M_INVALID_USERNAME',
      );
    });
  });

  describe('login', () => {
    let userId: string;
    before(async () => {
      userId = (await api.register('conf_login')).user_id;
    });

    it('GET /login', async () => {
      const body = expectSpec(
        await api.get(`${CLIENT_V3}/login`),
        'GET',
        '/_matrix/client/v3/login',
        200,
      );
      const types = (body.flows as Body[]).map((f) => f.type);
      assert.ok(types.includes('m.login.password'));
      assert.ok(types.includes('m.login.token'));
    });

    it('POST /login with a password, never a refresh token', async () => {
      const res = await api.login('conf_login', PASSWORD, {
        refresh_token: true,
        device_id: 'CONFDEVICE',
        initial_device_display_name: 'conformance',
      });
      const body = expectSpec(res as ApiResponse<Body>, 'POST', '/_matrix/client/v3/login', 200);
      assert.equal(body.user_id, userId);
      assert.equal(body.device_id, 'CONFDEVICE');
      assertNoRefreshToken(body);
    });

    it('POST /login errors', async () => {
      expectSpecError(
        (await api.login('conf_login', 'wrong password')) as ApiResponse<Body>,
        'POST',
        '/_matrix/client/v3/login',
        403,
        'M_FORBIDDEN',
      );
      expectSpecError(
        await api.post(`${CLIENT_V3}/login`, { type: 'org.example.nonsense' }),
        'POST',
        '/_matrix/client/v3/login',
        400,
        'M_UNKNOWN',
      );
    });

    it('POST /v1/login/get_token, then POST /login with m.login.token', async () => {
      const { access_token } = await api.login('conf_login').then((r) => r.body);
      const first = await api.post(`${V1}/login/get_token`, {}, { token: access_token });
      const challenge = expectSpec(first, 'POST', '/_matrix/client/v1/login/get_token', 401);
      assert.deepEqual(challenge.flows, [{ stages: ['m.login.password'] }]);

      const res = await api.post(
        `${V1}/login/get_token`,
        { auth: passwordAuth('conf_login', challenge.session) },
        { token: access_token },
      );
      const minted = expectSpec(res, 'POST', '/_matrix/client/v1/login/get_token', 200);
      assert.ok((minted.expires_in_ms as number) > 0);

      const login = await api.post(`${CLIENT_V3}/login`, {
        type: 'm.login.token',
        token: minted.login_token,
        refresh_token: true,
      });
      const body = expectSpec(login, 'POST', '/_matrix/client/v3/login', 200);
      assert.equal(body.user_id, userId);
      assertNoRefreshToken(body);

      // A login token is single-use.
      expectSpecError(
        await api.post(`${CLIENT_V3}/login`, { type: 'm.login.token', token: minted.login_token }),
        'POST',
        '/_matrix/client/v3/login',
        403,
        'M_FORBIDDEN',
      );
    });

    it('a failed UIA stage answers the auth response with an errcode', async () => {
      const { access_token } = await api.login('conf_login').then((r) => r.body);
      const first = await api.post(`${V1}/login/get_token`, {}, { token: access_token });
      const session = first.body.session;
      const res = await api.post(
        `${V1}/login/get_token`,
        { auth: passwordAuth('conf_login', session, 'not the password') },
        { token: access_token },
      );
      const body = expectSpec(res, 'POST', '/_matrix/client/v1/login/get_token', 401);
      assert.equal(body.errcode, 'M_FORBIDDEN');
      assert.equal(body.session, session);
      assertSpecError(body, 'M_FORBIDDEN');
    });

    it('POST /refresh: no refresh token is valid', async () => {
      const res = await api.post(`${CLIENT_V3}/refresh`, { refresh_token: 'anything' });
      expectSpecError(res, 'POST', '/_matrix/client/v3/refresh', 401, 'M_UNKNOWN_TOKEN');
      assert.equal(res.body.soft_logout, false);
    });
  });

  describe('account', () => {
    it('GET /account/whoami', async () => {
      const reg = await api.register('conf_whoami');
      const res = await api.get(`${CLIENT_V3}/account/whoami`, { token: reg.access_token });
      const body = expectSpec(res, 'GET', '/_matrix/client/v3/account/whoami', 200);
      assert.deepEqual(body, { user_id: reg.user_id, device_id: reg.device_id, is_guest: false });
      expectSpecError(
        await api.get(`${CLIENT_V3}/account/whoami`),
        'GET',
        '/_matrix/client/v3/account/whoami',
        401,
        'M_MISSING_TOKEN',
      );
      const bad = await api.get(`${CLIENT_V3}/account/whoami`, { token: 'wft_not_a_token' });
      expectSpecError(bad, 'GET', '/_matrix/client/v3/account/whoami', 401, 'M_UNKNOWN_TOKEN');
      assert.equal(bad.body.soft_logout, false);
    });

    it('GET /account/3pid', async () => {
      const { access_token } = await api.register('conf_3pid');
      const res = await api.get(`${CLIENT_V3}/account/3pid`, { token: access_token });
      const body = expectSpec(res, 'GET', '/_matrix/client/v3/account/3pid', 200);
      assert.deepEqual(body.threepids, []);
    });

    it('POST /account/password: UIA, then the change', async () => {
      const { access_token } = await api.register('conf_password');
      const first = await api.post(
        `${CLIENT_V3}/account/password`,
        { new_password: 'a new password' },
        { token: access_token },
      );
      const challenge = expectSpec(first, 'POST', '/_matrix/client/v3/account/password', 401);
      assert.deepEqual(challenge.flows, [{ stages: ['m.login.password'] }]);
      const res = await api.post(
        `${CLIENT_V3}/account/password`,
        {
          new_password: 'a new password',
          logout_devices: false,
          auth: passwordAuth('conf_password', challenge.session),
        },
        { token: access_token },
      );
      expectSpec(res, 'POST', '/_matrix/client/v3/account/password', 200);
      assert.equal((await api.login('conf_password', 'a new password')).status, 200);
    });

    it('POST /account/deactivate: UIA, then deactivation', async () => {
      const { access_token } = await api.register('conf_deactivate');
      const first = await api.post(`${CLIENT_V3}/account/deactivate`, {}, { token: access_token });
      const challenge = expectSpec(first, 'POST', '/_matrix/client/v3/account/deactivate', 401);
      const res = await api.post(
        `${CLIENT_V3}/account/deactivate`,
        { auth: passwordAuth('conf_deactivate', challenge.session) },
        { token: access_token },
      );
      expectSpec(res, 'POST', '/_matrix/client/v3/account/deactivate', 200);
      const login = await api.login('conf_deactivate');
      assert.equal(login.status, 403);
      assertSpecError(login.body);
    });

    it('POST /account/deactivate says `success` when there were no 3PIDs to unbind', async () => {
      const { access_token } = await api.register('conf_deactivate_3pid');
      const res = await api.post(
        `${CLIENT_V3}/account/deactivate`,
        { auth: passwordAuth('conf_deactivate_3pid', undefined) },
        { token: access_token },
      );
      const body = expectSpec(res, 'POST', '/_matrix/client/v3/account/deactivate', 200);
      assert.equal(body.id_server_unbind_result, 'success');
    });
  });

  describe('devices and logout', () => {
    let token: string;
    let deviceId: string;
    before(async () => {
      const reg = await api.register('conf_devices', PASSWORD, {
        initial_device_display_name: 'first device',
      });
      token = reg.access_token;
      deviceId = reg.device_id;
    });

    it('GET /devices', async () => {
      const res = await api.get(`${CLIENT_V3}/devices`, { token });
      const body = expectSpec(res, 'GET', '/_matrix/client/v3/devices', 200);
      const mine = (body.devices as Body[]).find((d) => d.device_id === deviceId);
      assert.equal(mine?.display_name, 'first device');
    });

    it('GET, PUT /devices/{deviceId}', async () => {
      const template = '/_matrix/client/v3/devices/{deviceId}';
      const path = `${CLIENT_V3}/devices/${encodeURIComponent(deviceId)}`;
      expectSpec(await api.put(path, { display_name: 'renamed' }, { token }), 'PUT', template, 200);
      const body = expectSpec(await api.get(path, { token }), 'GET', template, 200);
      assert.equal(body.device_id, deviceId);
      assert.equal(body.display_name, 'renamed');

      // The spec's 404 here has no body schema: the generic error shape.
      expectError(
        await api.get(`${CLIENT_V3}/devices/NOSUCHDEVICE`, { token }),
        404,
        'M_NOT_FOUND',
      );
      expectError(
        await api.put(`${CLIENT_V3}/devices/NOSUCHDEVICE`, { display_name: 'x' }, { token }),
        404,
        'M_NOT_FOUND',
      );
    });

    it('DELETE /devices/{deviceId}: UIA, then the deletion', async () => {
      const template = '/_matrix/client/v3/devices/{deviceId}';
      const other = (await api.login('conf_devices')).body;
      const path = `${CLIENT_V3}/devices/${encodeURIComponent(other.device_id)}`;
      const challenge = expectSpec(await api.delete(path, {}, { token }), 'DELETE', template, 401);
      const res = await api.delete(
        path,
        { auth: passwordAuth('conf_devices', challenge.session) },
        { token },
      );
      expectSpec(res, 'DELETE', template, 200);
      const gone = await api.get(`${CLIENT_V3}/account/whoami`, { token: other.access_token });
      assert.equal(gone.status, 401);
      assertSpecError(gone.body, 'M_UNKNOWN_TOKEN');
    });

    it('POST /delete_devices: UIA, then the deletion', async () => {
      const a = (await api.login('conf_devices')).body;
      const b = (await api.login('conf_devices')).body;
      const devices = [a.device_id, b.device_id];
      const first = await api.post(`${CLIENT_V3}/delete_devices`, { devices }, { token });
      const challenge = expectSpec(first, 'POST', '/_matrix/client/v3/delete_devices', 401);
      const res = await api.post(
        `${CLIENT_V3}/delete_devices`,
        { devices, auth: passwordAuth('conf_devices', challenge.session) },
        { token },
      );
      expectSpec(res, 'POST', '/_matrix/client/v3/delete_devices', 200);
      const list = await api.get(`${CLIENT_V3}/devices`, { token });
      const ids = (list.body.devices as Body[]).map((d) => d.device_id);
      assert.ok(!ids.includes(a.device_id) && !ids.includes(b.device_id));
    });

    it('POST /logout', async () => {
      const session = (await api.login('conf_devices')).body;
      const res = await api.post(`${CLIENT_V3}/logout`, {}, { token: session.access_token });
      expectSpec(res, 'POST', '/_matrix/client/v3/logout', 200);
      const after = await api.get(`${CLIENT_V3}/account/whoami`, { token: session.access_token });
      assert.equal(after.status, 401);
      assertSpecError(after.body, 'M_UNKNOWN_TOKEN');
    });

    it('POST /logout/all', async () => {
      const a = (await api.login('conf_devices')).body;
      const res = await api.post(`${CLIENT_V3}/logout/all`, {}, { token });
      expectSpec(res, 'POST', '/_matrix/client/v3/logout/all', 200);
      for (const t of [token, a.access_token]) {
        const after = await api.get(`${CLIENT_V3}/account/whoami`, { token: t });
        assert.equal(after.status, 401);
      }
    });
  });
});

describe('spec conformance: registration tokens', () => {
  const suite = serverSuite({ registration: { registration_tokens: ['let-me-in'] } });
  const { api } = suite;

  it('GET /v1/register/m.login.registration_token/validity', async () => {
    const template = '/_matrix/client/v1/register/m.login.registration_token/validity';
    const good = await api.get(
      `${V1}/register/m.login.registration_token/validity?token=let-me-in`,
    );
    assert.equal(expectSpec(good, 'GET', template, 200).valid, true);
    const bad = await api.get(`${V1}/register/m.login.registration_token/validity?token=nope`);
    assert.equal(expectSpec(bad, 'GET', template, 200).valid, false);
  });

  it('POST /register through the m.login.registration_token stage', async () => {
    const first = await api.post(`${CLIENT_V3}/register`, {
      username: 'conf_token',
      password: PASSWORD,
    });
    const challenge = expectSpec(first, 'POST', '/_matrix/client/v3/register', 401);
    assert.deepEqual(challenge.flows, [{ stages: ['m.login.registration_token'] }]);

    const wrong = await api.post(`${CLIENT_V3}/register`, {
      username: 'conf_token',
      password: PASSWORD,
      auth: { type: 'm.login.registration_token', token: 'nope', session: challenge.session },
    });
    assert.equal(
      expectSpec(wrong, 'POST', '/_matrix/client/v3/register', 401).errcode,
      'M_FORBIDDEN',
    );

    const res = await api.post(`${CLIENT_V3}/register`, {
      username: 'conf_token',
      password: PASSWORD,
      auth: { type: 'm.login.registration_token', token: 'let-me-in', session: challenge.session },
    });
    const body = expectSpec(res, 'POST', '/_matrix/client/v3/register', 200);
    assert.equal(body.user_id, '@conf_token:localhost');
  });
});

describe('spec conformance: registration disabled', () => {
  const suite = serverSuite({ registration: { enabled: false } });
  const { api } = suite;

  it('answers 403 with the spec error shape', async () => {
    expectSpecError(
      await api.get(`${V1}/register/m.login.registration_token/validity?token=x`),
      'GET',
      '/_matrix/client/v1/register/m.login.registration_token/validity',
      403,
      'M_FORBIDDEN',
    );
    expectSpecError(
      await api.post(`${CLIENT_V3}/register`, {
        username: 'nobody',
        password: PASSWORD,
        auth: { type: 'm.login.dummy' },
      }),
      'POST',
      '/_matrix/client/v3/register',
      403,
      'M_FORBIDDEN',
    );
  });
});
