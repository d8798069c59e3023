import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Api, CLIENT_V3 } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('registration', () => {
  let server: TestServer;
  let api: Api;
  before(async () => {
    server = await startTestServer();
    api = new Api(server.url);
  });
  after(() => server.close());

  it('answers the first request with a UIA challenge offering the dummy flow', async () => {
    const res = await api.post(`${CLIENT_V3}/register`, {
      username: 'first',
      password: 'pw-first',
    });
    assert.equal(res.status, 401);
    assert.deepEqual(res.body.flows, [{ stages: ['m.login.dummy'] }]);
    assert.equal(typeof res.body.session, 'string');
    assert.deepEqual(res.body.completed, []);
    assert.equal(res.body.errcode, undefined);
  });

  it('registers with the dummy stage and returns a working token without refresh token', async () => {
    const res = await api.post(`${CLIENT_V3}/register`, {
      username: 'Alice',
      password: 'pw-alice',
      refresh_token: true,
      auth: { type: 'm.login.dummy' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.user_id, '@alice:localhost');
    assert.match(String(res.body.access_token), /^wft_[A-Za-z0-9_-]{32}$/);
    assert.equal(res.body.refresh_token, undefined);
    assert.equal(res.body.expires_in_ms, undefined);
    const whoami = await api.get(`${CLIENT_V3}/account/whoami`, {
      token: String(res.body.access_token),
    });
    assert.deepEqual(whoami.body, {
      user_id: '@alice:localhost',
      device_id: res.body.device_id,
      is_guest: false,
    });
  });
});
