/**
 * Registration and login by application services (m.login.application_service),
 * and the exclusive namespaces others meet: user IDs and aliases (M_EXCLUSIVE).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';
import { testRegistration, writeRegistrations } from '../support/appservice-registrations.js';

const REGISTER = `${CLIENT_V3}/register`;
const AVAILABLE = `${CLIENT_V3}/register/available`;
const LOGIN = `${CLIENT_V3}/login`;
const WHOAMI = `${CLIENT_V3}/account/whoami`;
const ALIAS = `${CLIENT_V3}/directory/room/{roomAlias}`;
const SERVICE_TYPE = 'm.login.application_service';

const bridge = testRegistration('bridge');
const other = testRegistration('other');
/** MSC4190: the service makes devices itself, so it may neither log in nor register with a login. */
const managed = testRegistration('managed', { 'io.element.msc4190': true });

describe('application service registration', () => {
  const suite = serverSuite({
    app_service_config_files: writeRegistrations([bridge, other, managed]),
  });
  const { api } = suite;
  const carol = suite.user('carol');
  const serviceRegister = (body: Record<string, unknown>, asToken = bridge.as_token) =>
    api.post(REGISTER, { type: SERVICE_TYPE, ...body }, { token: asToken });

  it('registers a namespaced user with no password or UIA, logged in', async () => {
    const res = await serviceRegister({ username: 'bridge_alice', device_id: 'GHOSTDEV' });
    const body = expectSpec(res, 'POST', REGISTER);
    assert.equal(body.user_id, '@bridge_alice:localhost');
    assert.equal(body.device_id, 'GHOSTDEV');
    const who = await api.get(WHOAMI, { token: String(body.access_token) });
    assert.equal(expectSpec(who, 'GET', WHOAMI).user_id, '@bridge_alice:localhost');
    // No password: the user cannot log in with one.
    const login = await api.post(LOGIN, {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: 'bridge_alice' },
      password: '',
    });
    assert.notEqual(login.status, 200);
    expectError(await serviceRegister({ username: 'bridge_alice' }), 400, 'M_USER_IN_USE');
  });

  it('keeps the username as given and honours inhibit_login', async () => {
    const res = await serviceRegister({ username: 'bridge_Mixed_Case', inhibit_login: true });
    const body = expectSpec(res, 'POST', REGISTER);
    assert.equal(body.user_id, '@bridge_Mixed_Case:localhost');
    assert.equal(body.access_token, undefined);
    assert.equal(body.device_id, undefined);
  });

  it('refuses names outside its namespaces or in another service exclusive one', async () => {
    const outside = await serviceRegister({ username: 'plainname' });
    expectError(outside, 400, 'M_EXCLUSIVE');
    assert.match(String(outside.body.error), /Invalid user localpart for this application service/);
    expectError(await serviceRegister({ username: 'other_x' }), 400, 'M_EXCLUSIVE');
    const other_x = await api.get(`${WHOAMI}?user_id=${encodeURIComponent('@other_x:localhost')}`, {
      token: other.as_token,
    });
    expectError(other_x, 403, 'M_FORBIDDEN');
  });

  it('needs the service token', async () => {
    expectError(
      await api.post(REGISTER, { type: SERVICE_TYPE, username: 'bridge_x' }),
      400,
      'M_MISSING_PARAM',
    );
    expectError(
      await api.post(
        REGISTER,
        { type: SERVICE_TYPE, username: 'bridge_x' },
        { token: carol.access_token },
      ),
      401,
      'M_UNKNOWN_TOKEN',
    );
    expectError(await serviceRegister({}), 400, 'M_MISSING_PARAM');
    expectError(await serviceRegister({ username: 'bridge_a:b' }), 400, 'M_INVALID_USERNAME');
  });

  it('refuses ordinary registration and availability in an exclusive namespace', async () => {
    const taken = await api.post(REGISTER, {
      username: 'bridge_squatter',
      password: 'a strong password 1',
      auth: { type: 'm.login.dummy' },
    });
    expectError(taken, 400, 'M_EXCLUSIVE');
    expectError(await api.get(`${AVAILABLE}?username=bridge_squatter`), 400, 'M_EXCLUSIVE');
    expectError(await api.get(`${AVAILABLE}?username=BRIDGE_squatter`), 400, 'M_EXCLUSIVE');
    const free = await api.get(`${AVAILABLE}?username=bridgeless`);
    assert.equal(expectSpec(free, 'GET', AVAILABLE).available, true);
  });

  it('requires inhibit_login from an MSC4190 service', async () => {
    const res = await serviceRegister({ username: 'managed_a' }, managed.as_token);
    expectError(res, 400, 'M_APPSERVICE_LOGIN_UNSUPPORTED');
    const ok = await serviceRegister(
      { username: 'managed_a', inhibit_login: true },
      managed.as_token,
    );
    assert.equal(expectSpec(ok, 'POST', REGISTER).user_id, '@managed_a:localhost');
  });
});

describe('application service login', () => {
  const suite = serverSuite({
    app_service_config_files: writeRegistrations([bridge, managed]),
  });
  const { api } = suite;
  const carol = suite.user('carol');
  const serviceLogin = (user: string, asToken = bridge.as_token) =>
    api.post(
      LOGIN,
      { type: SERVICE_TYPE, identifier: { type: 'm.id.user', user } },
      { token: asToken },
    );

  it('is listed in the login flows', async () => {
    const flows = expectSpec(await api.get(LOGIN), 'GET', LOGIN).flows as { type: string }[];
    assert.ok(
      flows.some((flow) => flow.type === SERVICE_TYPE),
      JSON.stringify(flows),
    );
  });

  it('logs in a namespaced user and the sender, with a new device each', async () => {
    await api.post(
      REGISTER,
      { type: SERVICE_TYPE, username: 'bridge_bob', inhibit_login: true },
      { token: bridge.as_token },
    );
    const res = await serviceLogin('bridge_bob');
    const body = expectSpec(res, 'POST', LOGIN);
    assert.equal(body.user_id, '@bridge_bob:localhost');
    const who = await api.get(WHOAMI, { token: String(body.access_token) });
    assert.deepEqual(
      [who.body.user_id, who.body.device_id],
      ['@bridge_bob:localhost', body.device_id],
    );
    const sender = expectSpec(await serviceLogin('@bridgebot:localhost'), 'POST', LOGIN);
    assert.equal(sender.user_id, '@bridgebot:localhost');
  });

  it('refuses users outside its namespaces, unregistered users, other tokens, MSC4190', async () => {
    expectError(await serviceLogin(carol.user_id), 403, 'M_FORBIDDEN');
    expectError(await serviceLogin('bridge_nobody'), 403, 'M_FORBIDDEN');
    expectError(
      await api.post(LOGIN, { type: SERVICE_TYPE, identifier: { type: 'm.id.user', user: 'x' } }),
      400,
      'M_MISSING_PARAM',
    );
    expectError(
      await api.post(
        LOGIN,
        { type: SERVICE_TYPE, identifier: { type: 'm.id.user', user: 'bridge_bob' } },
        { token: carol.access_token },
      ),
      401,
      'M_UNKNOWN_TOKEN',
    );
    expectError(
      await api.post(
        LOGIN,
        { type: SERVICE_TYPE, identifier: { type: 'm.id.thirdparty', medium: 'email' } },
        { token: bridge.as_token },
      ),
      400,
      'M_INVALID_PARAM',
    );
    expectError(
      await serviceLogin('managed_x', managed.as_token),
      400,
      'M_APPSERVICE_LOGIN_UNSUPPORTED',
    );
  });
});

describe('exclusive alias namespaces', () => {
  const suite = serverSuite({ app_service_config_files: writeRegistrations([bridge]) });
  const { api } = suite;
  const carol = suite.user('carol');
  const aliasUrl = (alias: string) => `${CLIENT_V3}/directory/room/${encodeURIComponent(alias)}`;

  it("refuses others the service's aliases, and the service others'", async () => {
    const roomId = await suite.createRoom(carol, { preset: 'public_chat' });
    const mine = '#bridge_irc:localhost';
    const squat = await api.put(aliasUrl(mine), { room_id: roomId }, { token: carol.access_token });
    expectError(squat, 400, 'M_EXCLUSIVE');
    const created = await api.post(
      `${CLIENT_V3}/createRoom`,
      { room_alias_name: 'bridge_other' },
      { token: carol.access_token },
    );
    expectError(created, 400, 'M_EXCLUSIVE');
    assert.equal((await api.get(aliasUrl('#bridge_other:localhost'))).status, 404);

    const join = await api.post(`${CLIENT_V3}/join/${roomId}`, {}, { token: bridge.as_token });
    assert.equal(join.status, 200, JSON.stringify(join.body));
    expectSpec(
      await api.put(aliasUrl(mine), { room_id: roomId }, { token: bridge.as_token }),
      'PUT',
      ALIAS,
    );
    assert.equal(expectSpec(await api.get(aliasUrl(mine)), 'GET', ALIAS).room_id, roomId);
    const foreign = await api.put(
      aliasUrl('#lobby:localhost'),
      { room_id: roomId },
      { token: bridge.as_token },
    );
    expectError(foreign, 400, 'M_EXCLUSIVE');
    expectSpec(
      await api.put(
        aliasUrl('#lobby:localhost'),
        { room_id: roomId },
        { token: carol.access_token },
      ),
      'PUT',
      ALIAS,
    );
  });
});
