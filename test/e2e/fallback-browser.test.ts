/**
 * The fallback pages in a real headless Chromium (Debian's, driven by
 * playwright-core): their scripts, Content-Security-Policy and callbacks, as a
 * client's web view would run them.
 *
 * Scripts given to the browser are strings: tsx compiles functions with
 * `keepNames`, which would send `__name(...)` calls the page does not define.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CLIENT_V3, serverSuite } from '../support/fixture.js';

const PASSWORD = 'correct horse battery staple';
const REGISTRATION_TOKEN = 'tok';
const LOGIN_PAGE = '/_matrix/static/client/login/';

/**
 * Both login callbacks the spec has had, reporting to the test through the
 * exposed `recordLogin`. (Not `waitForFunction`: it evals, which the pages' CSP forbids.)
 */
const BOTH_LOGIN_CALLBACKS = `
window.matrixLogin = { onLogin: (response) => window.recordLogin({ via: 'matrixLogin', response }) };
window.onLogin = (response) => window.recordLogin({ via: 'onLogin', response });
`;
/** Only the r0 spec's callback, as an old client defines it. */
const R0_LOGIN_CALLBACK = `
window.onLogin = (response) => window.recordLogin({ via: 'onLogin', response });
`;

interface LoginCall {
  via: string;
  response: { user_id: string; access_token: string; device_id: string };
}

/** Calls a page makes into the test, and the first of them (failing if it never comes). */
function recorder<T>(what: string) {
  const calls: T[] = [];
  let resolveFirst: (value: T) => void = () => {};
  const first = new Promise<T>((resolve) => (resolveFirst = resolve));
  return {
    calls,
    record: (value: T) => {
      calls.push(value);
      resolveFirst(value);
    },
    first: () => withTimeout(first, 10_000, `${what} was not called`),
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until the page shows an error; returns its text. */
async function shownError(page: Page): Promise<string> {
  const error = page.locator('#error', { hasText: /\S/ });
  await error.waitFor();
  return error.innerText();
}

describe('fallback pages in a browser', () => {
  const suite = serverSuite({ registration: { registration_tokens: [REGISTRATION_TOKEN] } });
  const { api } = suite;
  let browser: Browser;
  let context: BrowserContext;
  let pageErrors: Error[];

  before(async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  after(() => browser?.close());
  beforeEach(async () => {
    context = await browser.newContext();
    context.setDefaultTimeout(10_000);
    pageErrors = [];
  });
  afterEach(async () => {
    await context.close();
    // An exception in a page script would otherwise only show up as a timeout.
    assert.deepEqual(pageErrors, []);
  });

  /** A fresh tab that reports its script errors. */
  async function newPage(): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err));
    return page;
  }

  /** Opens the login page with the given callbacks installed before the page's script runs. */
  async function openLoginPage(query: string, callbacks: string) {
    const logins = recorder<LoginCall>('the login callback');
    const page = await newPage();
    await page.exposeFunction('recordLogin', logins.record);
    await page.addInitScript({ content: callbacks });
    await page.goto(`${suite.server.url}${LOGIN_PAGE}${query}`);
    return { page, logins };
  }

  /** A user registered over the API (the server asks for the registration token). */
  async function registerUser(username: string): Promise<string> {
    const registered = await api.register(username, PASSWORD, {
      auth: { type: 'm.login.registration_token', token: REGISTRATION_TOKEN },
    });
    return registered.user_id;
  }

  async function submitLogin(page: Page, user: string, password: string): Promise<void> {
    await page.getByLabel('Username').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('logs in and hands the response to window.matrixLogin.onLogin, with device_id forwarded', async () => {
    const userId = await registerUser('browseralice');
    const { page, logins } = await openLoginPage(
      '?device_id=BROWSERDEV&initial_device_display_name=Browser%20test',
      BOTH_LOGIN_CALLBACKS,
    );
    await submitLogin(page, 'browseralice', PASSWORD);

    const { via, response } = await logins.first();
    // The current spec's callback wins over r0's when a client defines both.
    assert.equal(via, 'matrixLogin');
    assert.equal(response.user_id, userId);
    assert.equal(response.device_id, 'BROWSERDEV');

    const whoami = await api.get(`${CLIENT_V3}/account/whoami`, { token: response.access_token });
    assert.equal(whoami.status, 200);
    assert.deepEqual(whoami.body, { user_id: userId, device_id: 'BROWSERDEV', is_guest: false });
    const device = await api.get(`${CLIENT_V3}/devices/BROWSERDEV`, {
      token: response.access_token,
    });
    assert.equal(device.body.display_name, 'Browser test');

    assert.match(await page.locator('#status').innerText(), /Signed in as @browseralice:localhost/);
    assert.ok(!page.url().includes(response.access_token), 'the token must stay out of the URL');
    assert.equal(logins.calls.length, 1);
  });

  it('hands the response to window.matrixLogin.onLogin set after the page loaded (Element Android/iOS)', async () => {
    const userId = await registerUser('browserlate');
    const logins = recorder<LoginCall>('the login callback');
    const page = await newPage();
    await page.exposeFunction('recordLogin', logins.record);
    await page.goto(`${suite.server.url}${LOGIN_PAGE}`);
    // As a web view injects it once the page has loaded: the page must define window.matrixLogin.
    await page.evaluate(
      "window.matrixLogin.onLogin = (response) => window.recordLogin({ via: 'matrixLogin', response })",
    );
    await submitLogin(page, 'browserlate', PASSWORD);

    const { via, response } = await logins.first();
    assert.equal(via, 'matrixLogin');
    assert.equal(response.user_id, userId);
    const whoami = await api.get(`${CLIENT_V3}/account/whoami`, { token: response.access_token });
    assert.equal(whoami.status, 200);
    assert.equal(whoami.body.user_id, userId);
    assert.equal(logins.calls.length, 1);
  });

  it('falls back to the r0 window.onLogin callback', async () => {
    const userId = await registerUser('browserbob');
    const { page, logins } = await openLoginPage('?device_id=R0DEV', R0_LOGIN_CALLBACK);
    await submitLogin(page, 'browserbob', PASSWORD);

    const { via, response } = await logins.first();
    assert.equal(via, 'onLogin');
    assert.equal(response.device_id, 'R0DEV');
    const whoami = await api.get(`${CLIENT_V3}/account/whoami`, { token: response.access_token });
    assert.equal(whoami.status, 200);
    assert.equal(whoami.body.user_id, userId);
  });

  it('shows the error of a wrong password and calls no callback', async () => {
    await registerUser('browsercarol');
    const { page, logins } = await openLoginPage('', BOTH_LOGIN_CALLBACKS);
    await submitLogin(page, 'browsercarol', 'not the password');

    assert.equal(await shownError(page), 'Invalid username or password');
    assert.deepEqual(logins.calls, []);
    // The form stays for another try.
    assert.ok(await page.getByRole('button', { name: 'Sign in' }).isEnabled());
  });

  /** Starts a registration UIA session over the API; returns its ID. */
  async function startRegistration(username: string): Promise<string> {
    const res = await api.post(`${CLIENT_V3}/register`, { username, password: PASSWORD });
    assert.equal(res.status, 401);
    return res.body.session as string;
  }

  const tokenPageUrl = (session: string) =>
    `${suite.server.url}${CLIENT_V3}/auth/m.login.registration_token/fallback/web?session=${encodeURIComponent(session)}`;

  async function submitToken(page: Page, token: string): Promise<void> {
    await page.getByLabel('Registration token').fill(token);
    await page.getByRole('button', { name: 'Continue' }).click();
  }

  it('completes the registration token stage and calls window.onAuthDone', async () => {
    const session = await startRegistration('browserdave');
    const authDone = recorder<void>('window.onAuthDone');
    const page = await newPage();
    // Defines window.onAuthDone itself, reporting straight to the test.
    await page.exposeFunction('onAuthDone', authDone.record);
    await page.goto(tokenPageUrl(session));

    await submitToken(page, 'wrong-token');
    assert.equal(await shownError(page), 'Invalid registration token');
    assert.equal(authDone.calls.length, 0);

    await submitToken(page, REGISTRATION_TOKEN);
    await authDone.first();
    assert.equal(authDone.calls.length, 1);
    assert.equal(await page.locator('#error').innerText(), '');
    assert.match(await page.locator('#status').innerText(), /^Done\./);

    const retry = await api.post(`${CLIENT_V3}/register`, {
      username: 'browserdave',
      password: PASSWORD,
      auth: { session },
    });
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.equal(retry.body.user_id, '@browserdave:localhost');
  });

  it('posts "authDone" to the opener when the client defines no onAuthDone', async () => {
    const session = await startRegistration('browsererin');
    // The client's own page: it opens the fallback in a popup and listens for the message.
    const messages = recorder<unknown>('the opener message listener');
    const opener = await newPage();
    await opener.exposeFunction('recordMessage', messages.record);
    await opener.goto(`${suite.server.url}${LOGIN_PAGE}`);
    await opener.evaluate(
      "window.addEventListener('message', (e) => window.recordMessage(e.data))",
    );
    const [popup] = await Promise.all([
      opener.waitForEvent('popup'),
      opener.evaluate(`void window.open(${JSON.stringify(tokenPageUrl(session))})`),
    ]);
    popup.on('pageerror', (err) => pageErrors.push(err));
    await submitToken(popup, REGISTRATION_TOKEN);

    assert.equal(await messages.first(), 'authDone');
    assert.deepEqual(messages.calls, ['authDone']);
  });
});
