/**
 * The login fallback page (`GET /_matrix/static/client/login/`): a password
 * login for clients that cannot do it themselves. The page hands the `/login`
 * response to the client through a JavaScript callback, never through a URL.
 */
import type { Router } from '../../http/router.js';
import type { ClientApiServices } from '../client/services.js';
import { FETCH_JSON_SOURCE, escapeHtml, inlineScript, sendPage } from './html.js';

export const LOGIN_FALLBACK_PATH = '/_matrix/static/client/login/';

// Root-relative URLs: the page is served by the homeserver it logs in to.
const LOGIN_SCRIPT = inlineScript(`
'use strict';
// Defined first, as Synapse's page does: clients (Element Android/iOS) set
// window.matrixLogin.onLogin once the page has loaded. An object a client put
// there before the page loaded is kept.
window.matrixLogin = window.matrixLogin || {};
${FETCH_JSON_SOURCE}
(() => {
  const LOGIN_URL = '/_matrix/client/v3/login';
  // Non-credential /login parameters the client may put in the page's query string (v1.1).
  const FORWARDED = ['device_id', 'initial_device_display_name'];
  const form = document.getElementById('login');
  const button = form.querySelector('button');
  const user = document.getElementById('user');
  const password = document.getElementById('password');
  const status = document.getElementById('status');
  const error = document.getElementById('error');

  function loginBody() {
    const body = {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: user.value },
      password: password.value,
    };
    const query = new URLSearchParams(location.search);
    for (const key of FORWARDED) if (query.has(key)) body[key] = query.get(key);
    return body;
  }

  // The current spec's callback first, then the one r0 clients define.
  function handOver(response) {
    if (window.matrixLogin && typeof window.matrixLogin.onLogin === 'function') {
      window.matrixLogin.onLogin(response);
    } else if (typeof window.onLogin === 'function') {
      window.onLogin(response);
    }
  }

  async function submit(event) {
    event.preventDefault();
    error.textContent = '';
    button.disabled = true;
    let response;
    try {
      response = await fetchJson('POST', LOGIN_URL, loginBody());
    } catch (err) {
      error.textContent = err.message;
      button.disabled = false;
      return;
    }
    password.value = '';
    form.hidden = true;
    status.textContent = 'Signed in as ' + response.user_id + '. You can close this window.';
    handOver(response);
  }

  async function start() {
    try {
      const { flows } = await fetchJson('GET', LOGIN_URL);
      if (!flows.some((flow) => flow.type === 'm.login.password')) {
        status.textContent = 'This server offers no password login. Sign in from your app instead.';
        return;
      }
    } catch (err) {
      status.textContent = '';
      error.textContent = err.message;
      return;
    }
    status.textContent = '';
    form.hidden = false;
    form.addEventListener('submit', submit);
    user.focus();
  }

  start();
})();
`);

function loginPageBody(serverName: string): string {
  return `<h1>Sign in to ${escapeHtml(serverName)}</h1>
<p id="status" role="status">Loading…</p>
<noscript><p>This page needs JavaScript.</p></noscript>
<form id="login" method="post" hidden>
<label for="user">Username</label>
<input id="user" name="user" autocomplete="username" autocapitalize="none" spellcheck="false" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p id="error" role="alert"></p>`;
}

export function registerLoginPage(router: Router, services: ClientApiServices): void {
  const body = loginPageBody(services.config.server_name);
  router.route('GET', LOGIN_FALLBACK_PATH, { auth: 'none' }, async (_request, reply) =>
    sendPage(reply, 200, { title: 'Sign in', body, script: LOGIN_SCRIPT }),
  );
}
