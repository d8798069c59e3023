import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite } from '../support/fixture.js';

const PASSWORD = 'correct horse battery staple';
const GET_TOKEN = '/_matrix/client/v1/login/get_token';

describe('m.login.token and get_token', () => {
  const suite = serverSuite();
  const { api } = suite;
  const owner = suite.user('mia', { password: PASSWORD });

  async function mintToken(): Promise<string> {
    const res = await api.withPasswordAuth(
      'POST',
      GET_TOKEN,
      {},
      { token: owner.access_token, user: 'mia' },
    );
    assert.equal(res.status, 200);
    assert.equal(typeof res.body.expires_in_ms, 'number');
    return String(res.body.login_token);
  }

  it('re-prompts for authentication on every call', async () => {
    await mintToken();
    const second = await api.post(GET_TOKEN, {}, { token: owner.access_token });
    assert.equal(second.status, 401);
    assert.deepEqual(second.body.flows, [{ stages: ['m.login.password'] }]);
  });

  it('logs in with a token that names the user itself, once', async () => {
    const token = await mintToken();
    const login = await api.post(`${CLIENT_V3}/login`, { type: 'm.login.token', token });
    assert.equal(login.status, 200);
    assert.equal(login.body.user_id, '@mia:localhost');
    const whoami = await api.get(`${CLIENT_V3}/account/whoami`, {
      token: String(login.body.access_token),
    });
    assert.equal(whoami.body.user_id, '@mia:localhost');

    const replay = await api.post(`${CLIENT_V3}/login`, { type: 'm.login.token', token });
    assert.equal(replay.status, 403);
    assert.equal(replay.body.errcode, 'M_FORBIDDEN');
  });

  it('refuses forged and garbage tokens with 403 M_FORBIDDEN', async () => {
    const token = await mintToken();
    const [payload, signature] = token.slice('wlt_'.length).split('.');
    const forgedPayload = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(payload!, 'base64url').toString()),
        u: '@admin:localhost',
      }),
    ).toString('base64url');
    for (const bad of [`wlt_${forgedPayload}.${signature}`, 'garbage', 'wlt_a.b', '']) {
      const res = await api.post(`${CLIENT_V3}/login`, { type: 'm.login.token', token: bad });
      assert.equal(res.status, 403, bad);
      assert.equal(res.body.errcode, 'M_FORBIDDEN');
    }
    // The untouched token still works: the forgeries did not consume it.
    assert.equal(
      (await api.post(`${CLIENT_V3}/login`, { type: 'm.login.token', token })).status,
      200,
    );
  });

  it('is advertised in capabilities', async () => {
    const res = await api.get(`${CLIENT_V3}/capabilities`, { token: owner.access_token });
    assert.deepEqual((res.body.capabilities as Record<string, unknown>)['m.get_login_token'], {
      enabled: true,
    });
  });
});

describe('get_token switched off', () => {
  const suite = serverSuite({ login: { get_login_token_enabled: false } });
  const { api } = suite;

  it('is not served, and the flow and capability say so', async () => {
    const { access_token } = await api.register('ned', PASSWORD);
    const res = await api.post(GET_TOKEN, {}, { token: access_token });
    assert.equal(res.status, 404);
    assert.equal(res.body.errcode, 'M_UNRECOGNIZED');
    const flows = (await api.get(`${CLIENT_V3}/login`)).body.flows as Record<string, unknown>[];
    assert.deepEqual(
      flows.find((f) => f.type === 'm.login.token'),
      { type: 'm.login.token', get_login_token: false },
    );
    const caps = (await api.get(`${CLIENT_V3}/capabilities`, { token: access_token })).body
      .capabilities as Record<string, unknown>;
    assert.deepEqual(caps['m.get_login_token'], { enabled: false });
  });
});

describe('expired login tokens', () => {
  const suite = serverSuite({ login: { login_token_lifetime_ms: 1 } });
  const { api } = suite;

  it('are refused with 403 M_FORBIDDEN', async () => {
    const { access_token } = await api.register('olga', PASSWORD);
    const minted = await api.withPasswordAuth(
      'POST',
      GET_TOKEN,
      {},
      { token: access_token, user: 'olga' },
    );
    assert.equal(minted.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const res = await api.post(`${CLIENT_V3}/login`, {
      type: 'm.login.token',
      token: minted.body.login_token,
    });
    assert.equal(res.status, 403);
    assert.equal(res.body.errcode, 'M_FORBIDDEN');
  });
});
