import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { type ApiResponse, CLIENT_V3, serverSuite } from '../support/fixture.js';

function assertLimited(res: ApiResponse): number {
  assert.equal(res.status, 429);
  assert.equal(res.body.errcode, 'M_LIMIT_EXCEEDED');
  assert.equal(typeof res.body.error, 'string');
  const retryAfterMs = res.body.retry_after_ms;
  assert.equal(typeof retryAfterMs, 'number');
  assert.ok((retryAfterMs as number) > 0);
  const header = Number(res.headers.get('retry-after'));
  assert.ok(
    Number.isInteger(header) && header >= 1,
    `Retry-After: ${res.headers.get('retry-after')}`,
  );
  return retryAfterMs as number;
}

describe('rate limiting', () => {
  const { api } = serverSuite({
    rate_limits: {
      enabled: true,
      // Slow refills, so that the argon2 work of each request cannot refill a bucket.
      login_per_ip: { per_second: 1, burst_count: 3 },
      registration_per_ip: { per_second: 1, burst_count: 2 },
    },
  });

  it('limits registrations per IP, then recovers', async () => {
    await api.register('r1', 'pw');
    await api.register('r2', 'pw');
    const limited = await api.post(`${CLIENT_V3}/register`, {
      username: 'r3',
      password: 'pw',
      auth: { type: 'm.login.dummy' },
    });
    const wait = assertLimited(limited);
    await sleep(wait + 20);
    assert.equal(
      (
        await api.post(`${CLIENT_V3}/register`, {
          username: 'r3',
          password: 'pw',
          auth: { type: 'm.login.dummy' },
        })
      ).status,
      200,
    );
  });

  it('limits logins per IP, then recovers', async () => {
    const statuses = [];
    let last: ApiResponse | undefined;
    for (let i = 0; i < 4; i++) {
      last = await api.login('r1', 'pw');
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const wait = assertLimited(last!);
    await sleep(wait + 20);
    assert.equal((await api.login('r1', 'pw')).status, 200);
  });
});

describe('rate limiting of failed logins', () => {
  const { api } = serverSuite({
    rate_limits: { enabled: true, login_failures_per_account: { per_second: 1, burst_count: 2 } },
  });
  before(async () => {
    await api.register('r2', 'pw');
    await api.register('r3', 'pw');
  });

  it('limits failed logins per account, even with a correct password after them', async () => {
    assert.equal((await api.login('r2', 'wrong')).status, 403);
    assert.equal((await api.login('r2', 'wrong')).status, 403);
    const limited = await api.login('r2', 'pw');
    const wait = assertLimited(limited);
    // Another account is not affected by r2's failures.
    assert.equal((await api.login('r3', 'pw')).status, 200);
    await sleep(wait + 20);
    assert.equal((await api.login('r2', 'pw')).status, 200);
  });
});

describe('rate limiting of login tokens and username checks', () => {
  const { api } = serverSuite({
    rate_limits: {
      enabled: true,
      get_login_token_per_user: { per_second: 0.5, burst_count: 1 },
      username_available_per_ip: { per_second: 0.5, burst_count: 2 },
    },
  });
  const GET_TOKEN = '/_matrix/client/v1/login/get_token';

  /** get_token through the password stage; the session answers the 401 challenge. */
  async function getToken(token: string, user: string, session?: unknown) {
    const auth = {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user },
      password: 'pw',
      ...(session === undefined ? {} : { session }),
    };
    return api.post(GET_TOKEN, { auth }, { token });
  }

  it('limits login tokens per user after UIA, keeping the UIA session for the retry', async () => {
    const tina = await api.register('tina', 'pw');
    const uma = await api.register('uma', 'pw');
    assert.equal((await getToken(tina.access_token, 'tina')).status, 200);

    const challenge = await api.post(GET_TOKEN, {}, { token: tina.access_token });
    assert.equal(challenge.status, 401);
    const session = challenge.body.session;
    const wait = assertLimited(await getToken(tina.access_token, 'tina', session));
    // Another user has a bucket of their own.
    assert.equal((await getToken(uma.access_token, 'uma')).status, 200);

    await sleep(wait + 20);
    const retry = await api.post(GET_TOKEN, { auth: { session } }, { token: tina.access_token });
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.equal(typeof retry.body.login_token, 'string');
  });

  it('limits /register/available per IP, then recovers', async () => {
    const available = () => api.get(`${CLIENT_V3}/register/available?username=someone_free`);
    assert.equal((await available()).status, 200);
    assert.equal((await available()).status, 200);
    const wait = assertLimited(await available());
    await sleep(wait + 20);
    assert.equal((await available()).status, 200);
  });
});

describe('rate limiting switched off', () => {
  const { api } = serverSuite({
    rate_limits: { enabled: false, login_per_ip: { per_second: 0.01, burst_count: 1 } },
  });

  it('never answers 429', async () => {
    await api.register('free', 'pw');
    for (let i = 0; i < 5; i++) assert.equal((await api.login('free', 'pw')).status, 200);
  });
});
