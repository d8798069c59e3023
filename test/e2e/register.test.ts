import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite } from '../support/fixture.js';

describe('registration', () => {
  const { api } = serverSuite();

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

describe('registration rules', () => {
  const { api } = serverSuite();

  it('checks the username before UIA starts', async () => {
    await api.register('taken', 'pw');
    for (const [username, errcode] of [
      ['taken', 'M_USER_IN_USE'],
      ['TAKEN', 'M_USER_IN_USE'],
      ['has space', 'M_INVALID_USERNAME'],
      ['_reserved', 'M_INVALID_USERNAME'],
      ['12345', 'M_INVALID_USERNAME'],
      ['x'.repeat(300), 'M_INVALID_USERNAME'],
    ]) {
      // No auth: a valid name would get the 401 challenge instead.
      const res = await api.post(`${CLIENT_V3}/register`, { username, password: 'pw' });
      assert.equal(res.status, 400, username);
      assert.equal(res.body.errcode, errcode, username);
    }
  });

  it('answers /register/available', async () => {
    const free = await api.get(`${CLIENT_V3}/register/available?username=freename`);
    assert.deepEqual(free.body, { available: true });
    const taken = await api.get(`${CLIENT_V3}/register/available?username=taken`);
    assert.equal(taken.status, 400);
    assert.equal(taken.body.errcode, 'M_USER_IN_USE');
    const invalid = await api.get(
      `${CLIENT_V3}/register/available?username=${encodeURIComponent('a b')}`,
    );
    assert.equal(invalid.body.errcode, 'M_INVALID_USERNAME');
    const missing = await api.get(`${CLIENT_V3}/register/available`);
    assert.equal(missing.body.errcode, 'M_MISSING_PARAM');
  });

  it('honours device_id, initial_device_display_name and inhibit_login', async () => {
    const withDevice = await api.register('devicer', 'pw', {
      device_id: 'MYDEV',
      initial_device_display_name: 'Desk',
    });
    assert.equal(withDevice.device_id, 'MYDEV');
    const device = await api.get(`${CLIENT_V3}/devices/MYDEV`, { token: withDevice.access_token });
    assert.equal(device.body.display_name, 'Desk');

    const inhibited = await api.register('quiet', 'pw', { inhibit_login: true });
    assert.deepEqual(Object.keys(inhibited).sort(), ['home_server', 'user_id']);
    assert.equal((await api.login('quiet', 'pw')).status, 200);
  });

  it('generates a user ID when no username is given', async () => {
    const res = await api.post(`${CLIENT_V3}/register`, {
      password: 'pw',
      auth: { type: 'm.login.dummy' },
    });
    assert.equal(res.status, 200);
    assert.match(String(res.body.user_id), /^@\d+:localhost$/);
  });

  it('registers guests, keeps them to the guest endpoints, and upgrades them keeping the ID', async () => {
    const guest = await api.post(`${CLIENT_V3}/register?kind=guest`, {
      username: 'ignored',
      device_id: 'IGNORED',
      initial_device_display_name: 'Guest phone',
    });
    assert.equal(guest.status, 200);
    const guestToken = String(guest.body.access_token);
    assert.match(String(guest.body.user_id), /^@\d+:localhost$/);
    assert.notEqual(guest.body.device_id, 'IGNORED');

    const whoami = await api.get(`${CLIENT_V3}/account/whoami`, { token: guestToken });
    assert.equal(whoami.body.is_guest, true);
    const devices = await api.get<{ devices: { display_name?: string }[] }>(
      `${CLIENT_V3}/devices`,
      { token: guestToken },
    );
    assert.equal(devices.body.devices[0]?.display_name, 'Guest phone');
    for (const [method, path] of [
      ['GET', `${CLIENT_V3}/capabilities`],
      ['POST', `${CLIENT_V3}/logout/all`],
      ['GET', `${CLIENT_V3}/account/3pid`],
      ['POST', '/_matrix/client/v1/login/get_token'],
    ] as const) {
      const res = await api.request(method, path, method === 'POST' ? {} : undefined, {
        token: guestToken,
      });
      assert.equal(res.status, 403, path);
      assert.equal(res.body.errcode, 'M_GUEST_ACCESS_FORBIDDEN', path);
    }

    const localpart = String(guest.body.user_id).slice(1).split(':')[0];
    const wrongName = await api.post(`${CLIENT_V3}/register`, {
      username: 'someoneelse',
      password: 'guest-pw',
      guest_access_token: guestToken,
      auth: { type: 'm.login.dummy' },
    });
    assert.equal(wrongName.status, 400);
    const upgrade = await api.post(`${CLIENT_V3}/register`, {
      username: localpart,
      password: 'guest-pw',
      guest_access_token: guestToken,
      auth: { type: 'm.login.dummy' },
    });
    assert.equal(upgrade.status, 200, JSON.stringify(upgrade.body));
    assert.equal(upgrade.body.user_id, guest.body.user_id);
    const upgraded = await api.get(`${CLIENT_V3}/account/whoami`, {
      token: String(upgrade.body.access_token),
    });
    assert.equal(upgraded.body.is_guest, false);
    // The guest's own token is a full account's now, with full access.
    const caps = await api.get(`${CLIENT_V3}/capabilities`, { token: guestToken });
    assert.equal(caps.status, 200);
    assert.equal((await api.login(localpart!, 'guest-pw')).status, 200);
  });

  it('refuses a guest upgrade without username (guest access module)', async () => {
    const guest = await api.post(`${CLIENT_V3}/register?kind=guest`, {});
    const guestToken = String(guest.body.access_token);
    const res = await api.post(`${CLIENT_V3}/register`, {
      password: 'guest-pw',
      guest_access_token: guestToken,
      auth: { type: 'm.login.dummy' },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.errcode, 'M_MISSING_PARAM');
    const whoami = await api.get(`${CLIENT_V3}/account/whoami`, { token: guestToken });
    assert.equal(whoami.body.is_guest, true);
  });

  it("refuses guest_access_token that is not a guest's", async () => {
    const user = await api.register('notaguest', 'pw');
    const res = await api.post(`${CLIENT_V3}/register`, {
      username: 'notaguest',
      password: 'pw',
      guest_access_token: user.access_token,
      auth: { type: 'm.login.dummy' },
    });
    assert.equal(res.status, 403);
  });
});

describe('registration without a password until UIA is done', () => {
  const { api } = serverSuite();

  it('answers a probe without password (Element Web asks for the flows so) with the UIA challenge', async () => {
    for (const body of [{}, { username: 'prober' }]) {
      const res = await api.post(`${CLIENT_V3}/register`, body);
      assert.equal(res.status, 401, JSON.stringify(body));
      assert.deepEqual(res.body.flows, [{ stages: ['m.login.dummy'] }]);
      assert.deepEqual(res.body.params, {});
      assert.equal(typeof res.body.session, 'string');
      assert.equal(res.body.errcode, undefined);
    }
  });

  it('refuses to finish without a password, keeping the session for the retry that gives one', async () => {
    const challenge = await api.post(`${CLIENT_V3}/register`, { username: 'nopw' });
    const session = challenge.body.session;
    const finished = await api.post(`${CLIENT_V3}/register`, {
      username: 'nopw',
      auth: { type: 'm.login.dummy', session },
    });
    assert.equal(finished.status, 400);
    assert.equal(finished.body.errcode, 'M_MISSING_PARAM');
    assert.equal((await api.get(`${CLIENT_V3}/register/available?username=nopw`)).status, 200);

    const retry = await api.post(`${CLIENT_V3}/register`, {
      username: 'nopw',
      password: 'pw-nopw',
      auth: { session },
    });
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.equal(retry.body.user_id, '@nopw:localhost');
    assert.equal((await api.login('nopw', 'pw-nopw')).status, 200);
  });

  it('uses the password of an earlier request of the same UIA session, as Synapse does', async () => {
    const challenge = await api.post(`${CLIENT_V3}/register`, {
      username: 'remembered',
      password: 'pw-remembered',
    });
    assert.equal(challenge.status, 401);
    const finished = await api.post(`${CLIENT_V3}/register`, {
      username: 'remembered',
      auth: { type: 'm.login.dummy', session: challenge.body.session },
    });
    assert.equal(finished.status, 200, JSON.stringify(finished.body));
    assert.equal((await api.login('remembered', 'pw-remembered')).status, 200);
  });

  it('checks the password policy before UIA starts', async () => {
    for (const password of ['', 'x'.repeat(513)]) {
      const res = await api.post(`${CLIENT_V3}/register`, { username: 'weakling', password });
      assert.equal(res.status, 400, `password of ${password.length} characters`);
      assert.equal(res.body.errcode, 'M_WEAK_PASSWORD');
    }
  });

  it('keeps the UIA session usable after a weak password, so a retry with a good one succeeds', async () => {
    const challenge = await api.post(`${CLIENT_V3}/register`, {
      username: 'retrier',
      password: 'pw-retrier',
    });
    const session = challenge.body.session;
    const weak = await api.post(`${CLIENT_V3}/register`, {
      username: 'retrier',
      password: '',
      auth: { type: 'm.login.dummy', session },
    });
    assert.equal(weak.status, 400);
    assert.equal(weak.body.errcode, 'M_WEAK_PASSWORD');
    const retry = await api.post(`${CLIENT_V3}/register`, {
      username: 'retrier',
      password: 'pw-retrier-2',
      auth: { type: 'm.login.dummy', session },
    });
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.equal((await api.login('retrier', 'pw-retrier-2')).status, 200);
  });

  it('uses the session up once the registration succeeded', async () => {
    const challenge = await api.post(`${CLIENT_V3}/register`, { username: 'once' });
    const session = challenge.body.session;
    const done = await api.post(`${CLIENT_V3}/register`, {
      username: 'once',
      password: 'pw-once',
      auth: { type: 'm.login.dummy', session },
    });
    assert.equal(done.status, 200);
    const again = await api.post(`${CLIENT_V3}/register`, {
      username: 'twice',
      password: 'pw-twice',
      auth: { session },
    });
    assert.equal(again.status, 401);
    assert.notEqual(again.body.session, session);
    assert.deepEqual(again.body.completed, []);
  });
});

describe('registration with tokens', () => {
  const { api } = serverSuite({ registration: { registration_tokens: ['let-me-in'] } });

  it('requires a valid registration token', async () => {
    const challenge = await api.post(`${CLIENT_V3}/register`, { username: 'tina', password: 'pw' });
    assert.deepEqual(challenge.body.flows, [{ stages: ['m.login.registration_token'] }]);
    const session = challenge.body.session;
    const dummy = await api.post(`${CLIENT_V3}/register`, {
      username: 'tina',
      password: 'pw',
      auth: { type: 'm.login.dummy', session },
    });
    assert.equal(dummy.status, 401);
    const wrong = await api.post(`${CLIENT_V3}/register`, {
      username: 'tina',
      password: 'pw',
      auth: { type: 'm.login.registration_token', token: 'nope', session },
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.errcode, 'M_FORBIDDEN');
    const right = await api.post(`${CLIENT_V3}/register`, {
      username: 'tina',
      password: 'pw',
      auth: { type: 'm.login.registration_token', token: 'let-me-in', session },
    });
    assert.equal(right.status, 200);
    assert.equal(right.body.user_id, '@tina:localhost');
  });

  it('answers the validity endpoint under v1 only', async () => {
    const path = '/_matrix/client/v1/register/m.login.registration_token/validity';
    assert.deepEqual((await api.get(`${path}?token=let-me-in`)).body, { valid: true });
    assert.deepEqual((await api.get(`${path}?token=other`)).body, { valid: false });
    assert.equal((await api.get(`${path}`)).body.errcode, 'M_MISSING_PARAM');
    assert.equal(
      (await api.get(`${CLIENT_V3}/register/m.login.registration_token/validity?token=x`)).status,
      404,
    );
  });
});

describe('registration switched off', () => {
  const { api } = serverSuite({ registration: { enabled: false } });

  it('refuses registration and token checks with 403 M_FORBIDDEN', async () => {
    for (const res of [
      await api.post(`${CLIENT_V3}/register`, {
        username: 'x',
        password: 'pw',
        auth: { type: 'm.login.dummy' },
      }),
      await api.post(`${CLIENT_V3}/register?kind=guest`, {}),
      await api.get('/_matrix/client/v1/register/m.login.registration_token/validity?token=x'),
    ]) {
      assert.equal(res.status, 403);
      assert.equal(res.body.errcode, 'M_FORBIDDEN');
    }
  });
});
