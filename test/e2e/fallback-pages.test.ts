/**
 * The fallback pages over plain HTTP: what the pages are, and that completing
 * a stage through the page's POST lets the client's `auth: {session}` retry through.
 * The pages' scripts run in a real browser in fallback-browser.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeHtml } from '../../src/api/static/html.js';
import { Api, CLIENT_V3, serverSuite } from '../support/fixture.js';

const LOGIN_PAGE = '/_matrix/static/client/login/';
const HTML = 'text/html; charset=utf-8';
const PASSWORD = 'correct horse battery staple';

const fallbackPath = (stage: string, prefix = CLIENT_V3) => `${prefix}/auth/${stage}/fallback/web`;
const pageUrl = (stage: string, session: string, prefix = CLIENT_V3) =>
  `${fallbackPath(stage, prefix)}?session=${encodeURIComponent(session)}`;

/** Starts a registration UIA session; returns its ID. */
async function startRegistration(api: Api, username: string): Promise<string> {
  const res = await api.post(`${CLIENT_V3}/register`, { username, password: PASSWORD });
  assert.equal(res.status, 401);
  assert.equal(typeof res.body.session, 'string');
  return res.body.session as string;
}

/** The client's retry of the registration with the session alone. */
function retryRegistration(api: Api, username: string, session: string) {
  return api.post(`${CLIENT_V3}/register`, { username, password: PASSWORD, auth: { session } });
}

describe('login fallback page', () => {
  const suite = serverSuite();
  const { api } = suite;

  it('is an HTML page that hands the login to either callback', async () => {
    const res = await api.get(LOGIN_PAGE);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), HTML);
    const page = String(res.body);
    assert.match(page, /^<!DOCTYPE html>/);
    assert.match(page, /window\.matrixLogin\.onLogin\(response\)/);
    assert.match(page, /window\.onLogin\(response\)/);
    assert.match(page, /'\/_matrix\/client\/v3\/login'/);
    assert.match(page, /<label for="user">/);
    assert.match(page, /<label for="password">/);
    assert.match(page, /id="error"/);
  });

  it('loads nothing from elsewhere and allows only its own inline script', async () => {
    const res = await api.get(LOGIN_PAGE);
    const page = String(res.body);
    assert.doesNotMatch(page, /\bsrc=|\bhref=/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/]+=*'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });
});

describe('UIA fallback page, registration token stage', () => {
  const suite = serverSuite({ registration: { registration_tokens: ['tok'] } });
  const { api } = suite;

  it('serves a token form for a live session', async () => {
    const session = await startRegistration(api, 'tokenpage');
    const res = await api.get(pageUrl('m.login.registration_token', session));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), HTML);
    assert.match(String(res.body), /<label for="token">/);
    assert.match(String(res.body), /<input id="token" name="token"/);
    assert.match(String(res.body), /window\.onAuthDone\(\)/);
    assert.match(String(res.body), /window\.opener\.postMessage\('authDone', '\*'\)/);
  });

  it('completes the stage, after which the retry with the session alone succeeds', async () => {
    const session = await startRegistration(api, 'tokenuser');
    const done = await api.post(fallbackPath('m.login.registration_token'), {
      session,
      token: 'tok',
    });
    assert.equal(done.status, 200);
    assert.deepEqual(done.body, {});
    const retry = await retryRegistration(api, 'tokenuser', session);
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.equal(retry.body.user_id, '@tokenuser:localhost');
  });

  it('refuses a wrong token with the reason, and the retry is still challenged', async () => {
    const session = await startRegistration(api, 'wrongtoken');
    const wrong = await api.post(fallbackPath('m.login.registration_token'), {
      session,
      token: 'not-the-token',
    });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.errcode, 'M_FORBIDDEN');
    assert.equal(wrong.body.error, 'Invalid registration token');
    const retry = await retryRegistration(api, 'wrongtoken', session);
    assert.equal(retry.status, 401);
    assert.deepEqual(retry.body.completed, []);
  });

  it('serves and accepts the same under the r0 alias', async () => {
    const session = await startRegistration(api, 'r0user');
    const r0 = '/_matrix/client/r0';
    const page = await api.get(pageUrl('m.login.registration_token', session, r0));
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), HTML);
    const done = await api.post(fallbackPath('m.login.registration_token', r0), {
      session,
      token: 'tok',
    });
    assert.equal(done.status, 200);
    assert.equal((await retryRegistration(api, 'r0user', session)).status, 200);
  });

  it('answers 404 M_UNRECOGNIZED for a stage it has no page for', async () => {
    const session = await startRegistration(api, 'unknownstage');
    // `__proto__` and `constructor` must not be found on some object's prototype.
    for (const stage of ['m.login.sso', 'org.example.custom', '__proto__', 'constructor']) {
      const page = await api.get(pageUrl(stage, session));
      assert.equal(page.status, 404, stage);
      assert.equal(page.body.errcode, 'M_UNRECOGNIZED', stage);
      const post = await api.post(fallbackPath(stage), { session });
      assert.equal(post.status, 404, stage);
      assert.equal(post.body.errcode, 'M_UNRECOGNIZED', stage);
    }
  });

  it('explains a missing or unknown session on an HTML page', async () => {
    const missing = await api.get(fallbackPath('m.login.registration_token'));
    assert.equal(missing.status, 400);
    assert.equal(missing.headers.get('content-type'), HTML);
    assert.match(String(missing.body), /no session/i);
    const unknown = await api.get(pageUrl('m.login.registration_token', 'no-such-session'));
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers.get('content-type'), HTML);
    assert.match(String(unknown.body), /unknown or has expired/);
    const post = await api.post(fallbackPath('m.login.registration_token'), {
      session: 'no-such-session',
      token: 'tok',
    });
    assert.equal(post.status, 404);
    assert.equal(post.body.errcode, 'M_NOT_FOUND');
  });

  it('answers a POST without the stage field with M_MISSING_PARAM', async () => {
    const session = await startRegistration(api, 'notoken');
    const res = await api.post(fallbackPath('m.login.registration_token'), { session });
    assert.equal(res.status, 400);
    assert.equal(res.body.errcode, 'M_MISSING_PARAM');
  });
});

describe('UIA fallback page, dummy and password stages', () => {
  const suite = serverSuite();
  const { api } = suite;

  it('completes the dummy stage with a confirmation', async () => {
    const session = await startRegistration(api, 'dummyuser');
    const page = await api.get(pageUrl('m.login.dummy', session));
    assert.equal(page.status, 200);
    assert.match(String(page.body), /<code>POST \/register<\/code>/);
    assert.equal((await api.post(fallbackPath('m.login.dummy'), { session })).status, 200);
    const retry = await retryRegistration(api, 'dummyuser', session);
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
  });

  it("checks the session user's password and lets the password change through", async () => {
    const { user_id, access_token } = await api.register('pwuser', PASSWORD);
    const change = (auth?: unknown) =>
      api.post(
        `${CLIENT_V3}/account/password`,
        { new_password: 'a brand new password', logout_devices: false, auth },
        { token: access_token },
      );
    const challenge = await change();
    assert.equal(challenge.status, 401);
    const session = challenge.body.session as string;

    const page = await api.get(pageUrl('m.login.password', session));
    assert.equal(page.status, 200);
    assert.match(String(page.body), new RegExp(`<strong>${user_id}</strong>`));
    assert.match(String(page.body), /autocomplete="current-password"/);

    const wrong = await api.post(fallbackPath('m.login.password'), {
      session,
      password: 'wrong',
    });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error, 'Invalid username or password');
    assert.equal((await change({ session })).status, 401);

    const right = await api.post(fallbackPath('m.login.password'), { session, password: PASSWORD });
    assert.equal(right.status, 200);
    assert.equal((await change({ session })).status, 200);
    assert.equal((await api.login('pwuser', 'a brand new password')).status, 200);
  });

  it('refuses the password stage for a session without a user', async () => {
    const session = await startRegistration(api, 'nobody');
    const page = await api.get(pageUrl('m.login.password', session));
    assert.equal(page.status, 400);
    assert.equal(page.headers.get('content-type'), HTML);
    const post = await api.post(fallbackPath('m.login.password'), { session, password: 'x' });
    assert.equal(post.status, 400);
  });
});

describe('UIA fallback page, rate limits', () => {
  const suite = serverSuite({
    registration: { registration_tokens: ['tok'] },
    rate_limits: {
      enabled: true,
      // Buckets that do not refill during the test: two tries, then 429 (the token
      // bucket has one more for the registration in before()).
      registration_token_validity_per_ip: { per_second: 0.001, burst_count: 3 },
      login_failures_per_account: { per_second: 0.001, burst_count: 2 },
      registration_per_ip: { per_second: 1, burst_count: 10 },
    },
  });
  const { api } = suite;
  // Registered first: in-band token stages draw on the same per-IP bucket.
  const limitedUser = suite.user('limitedpw', {
    password: PASSWORD,
    extra: { auth: { type: 'm.login.registration_token', token: 'tok' } },
  });

  it('is no faster oracle for registration tokens than the validity endpoint', async () => {
    const session = await startRegistration(api, 'limitedtoken');
    const tryToken = (token: string) =>
      api.post(fallbackPath('m.login.registration_token'), { session, token });
    assert.equal((await tryToken('guess-1')).status, 403);
    assert.equal((await tryToken('guess-2')).status, 403);
    const limited = await tryToken('tok');
    assert.equal(limited.status, 429);
    assert.equal(limited.body.errcode, 'M_LIMIT_EXCEEDED');
  });

  it("counts wrong passwords against the session user's account, as /login does", async () => {
    const { access_token } = limitedUser;
    const challenge = await api.post(
      `${CLIENT_V3}/account/deactivate`,
      {},
      { token: access_token },
    );
    const session = challenge.body.session as string;
    const tryPassword = (password: string) =>
      api.post(fallbackPath('m.login.password'), { session, password });
    assert.equal((await tryPassword('guess-1')).status, 403);
    assert.equal((await tryPassword('guess-2')).status, 403);
    assert.equal((await tryPassword(PASSWORD)).status, 429);
    assert.equal((await api.login('limitedpw', PASSWORD)).status, 429);
  });
});

describe('escapeHtml', () => {
  it('escapes every character that could leave text or an attribute', () => {
    assert.equal(
      escapeHtml(`<a href="x" title='y'>&amp;</a>`),
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;',
    );
  });
});
