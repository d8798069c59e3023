/**
 * Registration tokens in the database: Synapse's Admin API for them (server
 * admins only) and their effect on registration through the client API: the
 * token-gated flow, the validity endpoint, uses counted (pending at the UIA
 * stage, completed with the registration), exhausted and expired tokens.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError } from '../support/spec-schemas.js';

const TOKENS = '/_synapse/admin/v1/registration_tokens';
const VALIDITY = '/_matrix/client/v1/register/m.login.registration_token/validity';
const STAGE = 'm.login.registration_token';

describe('Admin API: registration tokens', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [root, alice] = suite.users('root', 'alice');
  const as = (session: Session) => ({ token: session.access_token });
  const newToken = (body: unknown) => api.post(`${TOKENS}/new`, body, as(root));
  const getToken = (token: string) => api.get(`${TOKENS}/${encodeURIComponent(token)}`, as(root));
  const validity = async (token: string) =>
    (await api.get(`${VALIDITY}?token=${encodeURIComponent(token)}`)).body.valid;

  const listed = async (valid: string) =>
    (
      (await api.get(`${TOKENS}?valid=${valid}`, as(root))).body.registration_tokens as {
        token: string;
      }[]
    ).map((t) => t.token);

  /** A UIA session of a registration of `username`, its flows. */
  async function startRegistration(username: string) {
    const challenge = await api.post(`${CLIENT_V3}/register`, {
      username,
      password: `${username}-pw-1`,
    });
    assert.equal(challenge.status, 401, JSON.stringify(challenge.body));
    return challenge.body as { session: string; flows: { stages: string[] }[] };
  }
  const tokenStage = (username: string, session: string, token: string) =>
    api.post(`${CLIENT_V3}/register`, {
      username,
      password: `${username}-pw-1`,
      auth: { type: STAGE, token, session },
    });
  async function register(username: string, token: string) {
    const { session } = await startRegistration(username);
    return tokenStage(username, session, token);
  }

  before(async () => {
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
  });

  it('refuses every endpoint to non-admins (403 M_FORBIDDEN), creating nothing', async () => {
    const requests: [string, string, unknown?][] = [
      ['GET', TOKENS],
      ['POST', `${TOKENS}/new`, { token: 'sneaky' }],
      ['GET', `${TOKENS}/sneaky`],
      ['PUT', `${TOKENS}/sneaky`, { uses_allowed: 1 }],
      ['DELETE', `${TOKENS}/sneaky`],
    ];
    for (const [method, path, body] of requests) {
      expectError(await api.request(method, path, body, as(alice)), 403, 'M_FORBIDDEN');
    }
    assert.deepEqual((await api.get(TOKENS, as(root))).body, { registration_tokens: [] });
    // No token stored: registration is open (the dummy stage).
    const { flows } = await startRegistration('opener');
    assert.deepEqual(flows, [{ stages: ['m.login.dummy'] }]);
  });

  it('creates tokens (given or generated), refuses bad values and duplicates', async () => {
    const given = await newToken({ token: 'abc.DEF_1~-', uses_allowed: 5, expiry_time: null });
    assert.equal(given.status, 200, JSON.stringify(given.body));
    assert.deepEqual(given.body, {
      token: 'abc.DEF_1~-',
      uses_allowed: 5,
      pending: 0,
      completed: 0,
      expiry_time: null,
    });
    assert.deepEqual((await getToken('abc.DEF_1~-')).body, given.body);

    const generated = await newToken({});
    assert.equal(generated.status, 200);
    assert.match(String(generated.body.token), /^[A-Za-z0-9._~-]{16}$/);
    assert.equal(generated.body.uses_allowed, null);
    const short = await newToken({ length: 5 });
    assert.match(String(short.body.token), /^[A-Za-z0-9._~-]{5}$/);

    expectError(await newToken({ token: 'abc.DEF_1~-' }), 400, 'M_INVALID_PARAM');
    for (const bad of [
      { token: 'has space' },
      { token: 'x'.repeat(65) },
      { token: '' },
      { token: 7 },
      { uses_allowed: -1 },
      { uses_allowed: 1.5 },
      { uses_allowed: 'many' },
      { expiry_time: Date.now() - 60_000 },
      { expiry_time: 'soon' },
      { length: 0 },
      { length: 65 },
      { length: 'long' },
    ]) {
      expectError(await newToken(bad), 400, 'M_INVALID_PARAM');
    }
    expectError(await api.post(`${TOKENS}/new`, [], as(root)), 400, 'M_BAD_JSON');
    const listed = (await api.get(TOKENS, as(root))).body.registration_tokens as {
      token: string;
    }[];
    assert.deepEqual(
      listed.map((t) => t.token).sort(),
      ['abc.DEF_1~-', generated.body.token, short.body.token].sort(),
    );
  });

  it('gates registration once a token is stored; the validity endpoint reads the database', async () => {
    const { flows } = await startRegistration('gated');
    assert.deepEqual(flows, [{ stages: [STAGE] }]);
    assert.equal(await validity('abc.DEF_1~-'), true);
    assert.equal(await validity('unknown-token'), false);
    const refused = await register('gated', 'unknown-token');
    expectError(refused, 401, 'M_FORBIDDEN');
  });

  it('counts a use as pending at the stage and completed at registration', async () => {
    await newToken({ token: 'counted', uses_allowed: 2 });
    const done = await register('counter1', 'counted');
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.deepEqual(
      [(await getToken('counted')).body.pending, (await getToken('counted')).body.completed],
      [0, 1],
    );

    // The stage passes but the registration fails after UIA (no password given yet):
    // the use stays pending, held by the session.
    const challenge = await api.post(`${CLIENT_V3}/register`, { username: 'counter2' });
    const session = challenge.body.session as string;
    const noPassword = await api.post(`${CLIENT_V3}/register`, {
      username: 'counter2',
      auth: { type: STAGE, token: 'counted', session },
    });
    expectError(noPassword, 400, 'M_MISSING_PARAM');
    let state = (await getToken('counted')).body;
    assert.deepEqual([state.pending, state.completed], [1, 1]);
    // pending + completed reached uses_allowed: refused to other sessions, and invalid.
    expectError(await register('counter3', 'counted'), 401, 'M_FORBIDDEN');
    assert.equal(await validity('counted'), false);
    assert.ok((await listed('false')).includes('counted'));
    assert.ok(!(await listed('true')).includes('counted'));
    assert.ok((await listed('true')).includes('abc.DEF_1~-'));
    expectError(await api.get(`${TOKENS}?valid=maybe`, as(root)), 400, 'M_INVALID_PARAM');

    // The session that holds the pending use finishes: it becomes a completed one.
    const retried = await api.post(`${CLIENT_V3}/register`, {
      username: 'counter2',
      password: 'counter2-pw-1',
      auth: { session },
    });
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    state = (await getToken('counted')).body;
    assert.deepEqual([state.pending, state.completed], [0, 2]);
    assert.equal((await api.login('counter2', 'counter2-pw-1')).status, 200);
  });

  it('lets exactly one of two concurrent registrations use a one-use token', async () => {
    await newToken({ token: 'single', uses_allowed: 1 });
    const [a, b] = await Promise.all([startRegistration('racer1'), startRegistration('racer2')]);
    const results = await Promise.all([
      tokenStage('racer1', a.session, 'single'),
      tokenStage('racer2', b.session, 'single'),
    ]);
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 401], JSON.stringify(results.map((r) => r.body)));
    const loser = results.find((r) => r.status === 401);
    assert.equal(loser?.body.errcode, 'M_FORBIDDEN');
    const state = (await getToken('single')).body;
    assert.equal(state.completed, 1);
    assert.equal(state.pending, 0);
    const winner = results.find((r) => r.status === 200)?.body.user_id as string;
    const login = await api.login(
      winner.slice(1, winner.indexOf(':')),
      `${winner.slice(1, 7)}-pw-1`,
    );
    assert.equal(login.status, 200);
  });

  it('PUT changes uses_allowed and expiry_time; an expired token is refused', async () => {
    await newToken({ token: 'changing', uses_allowed: 0 });
    expectError(await register('changer', 'changing'), 401, 'M_FORBIDDEN');
    const raised = await api.put(`${TOKENS}/changing`, { uses_allowed: null }, as(root));
    assert.equal(raised.status, 200);
    assert.equal(raised.body.uses_allowed, null);
    const soon = Date.now() + 1500;
    const expiring = await api.put(`${TOKENS}/changing`, { expiry_time: soon }, as(root));
    assert.equal(expiring.body.expiry_time, soon);
    assert.equal(expiring.body.uses_allowed, null, 'a field not given is kept');
    assert.equal(await validity('changing'), true);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    assert.equal(await validity('changing'), false);
    expectError(await register('changer', 'changing'), 401, 'M_FORBIDDEN');
    const unchanged = await api.put(`${TOKENS}/changing`, {}, as(root));
    assert.deepEqual(unchanged.body, (await getToken('changing')).body);
    for (const bad of [{ uses_allowed: -3 }, { expiry_time: 5 }, { uses_allowed: 'x' }]) {
      expectError(await api.put(`${TOKENS}/changing`, bad, as(root)), 400, 'M_INVALID_PARAM');
    }
    expectError(await api.put(`${TOKENS}/nope`, { uses_allowed: 1 }, as(root)), 404, 'M_NOT_FOUND');
  });

  it('DELETE removes a token: unknown afterwards, and 404 for unknown ones', async () => {
    await newToken({ token: 'doomed' });
    assert.equal(await validity('doomed'), true);
    const deleted = await api.request('DELETE', `${TOKENS}/doomed`, undefined, as(root));
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.body, {});
    expectError(await getToken('doomed'), 404, 'M_NOT_FOUND');
    assert.equal(await validity('doomed'), false);
    expectError(await register('doomer', 'doomed'), 401, 'M_FORBIDDEN');
    expectError(
      await api.request('DELETE', `${TOKENS}/doomed`, undefined, as(root)),
      404,
      'M_NOT_FOUND',
    );
  });
});

describe('registration tokens: config tokens beside stored ones', () => {
  const suite = serverSuite({ registration: { registration_tokens: ['from-config'] } });
  const { api } = suite;

  it('keeps config tokens valid and unlimited, and stored ones listed alone', async () => {
    for (const username of ['conf1', 'conf2']) {
      const challenge = await api.post(`${CLIENT_V3}/register`, {
        username,
        password: 'pw-123456',
      });
      assert.deepEqual(challenge.body.flows, [{ stages: [STAGE] }]);
      const done = await api.post(`${CLIENT_V3}/register`, {
        username,
        password: 'pw-123456',
        auth: { type: STAGE, token: 'from-config', session: challenge.body.session },
      });
      assert.equal(done.status, 200, JSON.stringify(done.body));
    }
    assert.equal((await api.get(`${VALIDITY}?token=from-config`)).body.valid, true);
  });
});

describe('registration tokens: registration_requires_token', () => {
  const { api } = serverSuite({ registration: { registration_requires_token: true } });

  it('gates registration with no token anywhere', async () => {
    const challenge = await api.post(`${CLIENT_V3}/register`, {
      username: 'nobody',
      password: 'pw-123456',
    });
    assert.deepEqual(challenge.body.flows, [{ stages: [STAGE] }]);
  });
});

describe('registration tokens: a pending use held by an expired UIA session', () => {
  const suite = serverSuite({ uia: { session_lifetime_ms: 400 } });
  const { api } = suite;
  const [root] = suite.users('root');

  it('is given back, so the token can be used again', async () => {
    await suite.server.weft.storage.users.setAdmin(root.user_id, true);
    const created = await api.post(
      `${TOKENS}/new`,
      { token: 'lapsing', uses_allowed: 1 },
      { token: root.access_token },
    );
    assert.equal(created.status, 200);
    const first = await api.post(`${CLIENT_V3}/register`, { username: 'slow' });
    const staged = await api.post(`${CLIENT_V3}/register`, {
      username: 'slow',
      auth: { type: STAGE, token: 'lapsing', session: first.body.session },
    });
    expectError(staged, 400, 'M_MISSING_PARAM');
    const held = await api.get(`${TOKENS}/lapsing`, { token: root.access_token });
    assert.equal(held.body.pending, 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const second = await api.post(`${CLIENT_V3}/register`, {
      username: 'quick',
      password: 'quick-pw-1',
    });
    const done = await api.post(`${CLIENT_V3}/register`, {
      username: 'quick',
      password: 'quick-pw-1',
      auth: { type: STAGE, token: 'lapsing', session: second.body.session },
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    const after = await api.get(`${TOKENS}/lapsing`, { token: root.access_token });
    assert.deepEqual([after.body.pending, after.body.completed], [0, 1]);
  });
});
