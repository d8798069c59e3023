/**
 * A real client library against a real server: matrix-js-sdk logs in with a
 * password, asks who it is, and logs out; the old token must then be dead.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MatrixError } from 'matrix-js-sdk';
import { CLIENT_V3 } from '../support/fixture.js';
import { sdkSuite } from '../support/sdk.js';

describe('matrix-js-sdk', { timeout: 30_000 }, () => {
  const { api, clients } = sdkSuite();
  const newClient = () => clients.create();

  it('logs in with a password, gets whoami, logs out; the old token is then unknown', async () => {
    const registered = await api.register('sdkuser', 'sdk-password-1');
    assert.equal(registered.user_id, '@sdkuser:localhost');

    const client = newClient();
    const login = await client.loginWithPassword('sdkuser', 'sdk-password-1');
    assert.equal(login.user_id, '@sdkuser:localhost');
    assert.equal(typeof login.access_token, 'string');
    assert.equal(typeof login.device_id, 'string');
    assert.notEqual(login.access_token, registered.access_token);
    assert.notEqual(login.device_id, registered.device_id);
    // Weft issues no refresh tokens: neither the response nor the client has one.
    assert.equal(login.refresh_token, undefined);
    assert.equal(login.expires_in_ms, undefined);
    assert.equal(client.getRefreshToken(), null);
    assert.equal(client.getAccessToken(), login.access_token);
    assert.equal(client.getUserId(), '@sdkuser:localhost');

    const whoami = await client.whoami();
    assert.equal(whoami.user_id, '@sdkuser:localhost');
    assert.equal(whoami.device_id, login.device_id);
    assert.equal(whoami.is_guest, false);

    // The token works over plain HTTP too, before the logout.
    const before = await api.get(`${CLIENT_V3}/account/whoami`, { token: login.access_token });
    assert.equal(before.status, 200);
    assert.equal(before.body.device_id, login.device_id);

    assert.deepEqual(await client.logout(), {});

    const afterLogout = await api.get(`${CLIENT_V3}/account/whoami`, {
      token: login.access_token,
    });
    assert.equal(afterLogout.status, 401);
    assert.equal(afterLogout.body.errcode, 'M_UNKNOWN_TOKEN');
    // The SDK sees the same error.
    await assert.rejects(
      client.whoami(),
      (err: unknown) =>
        err instanceof MatrixError && err.httpStatus === 401 && err.errcode === 'M_UNKNOWN_TOKEN',
    );

    // The logout ended that one session only: the registration's token still works.
    const other = await api.get(`${CLIENT_V3}/account/whoami`, {
      token: registered.access_token,
    });
    assert.equal(other.status, 200);
    assert.equal(other.body.device_id, registered.device_id);
  });

  it('gets no refresh token even when it asks for one', async () => {
    await api.register('sdkrefresh', 'sdk-password-2');
    const client = newClient();
    const login = await client.loginRequest({
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: 'sdkrefresh' },
      password: 'sdk-password-2',
      refresh_token: true,
    });
    assert.equal(login.user_id, '@sdkrefresh:localhost');
    assert.equal(typeof login.access_token, 'string');
    assert.equal(login.refresh_token, undefined);
    assert.equal(login.expires_in_ms, undefined);

    // A client built from those credentials works, and has no refresh token either.
    const authed = clients.create(login, { refreshToken: login.refresh_token });
    assert.equal(authed.getRefreshToken(), null);
    const whoami = await authed.whoami();
    assert.equal(whoami.user_id, '@sdkrefresh:localhost');
    assert.equal(whoami.device_id, login.device_id);
  });

  it('rejects a wrong password with M_FORBIDDEN', async () => {
    await api.register('sdkwrong', 'sdk-password-3');
    const client = newClient();
    await assert.rejects(
      client.loginWithPassword('sdkwrong', 'not-the-password'),
      (err: unknown) =>
        err instanceof MatrixError && err.httpStatus === 403 && err.errcode === 'M_FORBIDDEN',
    );
    assert.equal(client.getAccessToken(), null);
  });
});
