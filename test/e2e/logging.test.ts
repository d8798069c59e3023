/**
 * Request logging never leaks secrets: with the default config (log level
 * info, one line per request) the server's whole output, stdout and stderr,
 * must hold no access token, password or login token, whether the token came
 * in a header, in the query string, or in a response body.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Api, CLIENT_V3 } from '../support/client.js';
import { makeTempDir, startWeftProcess, type WeftProcess } from '../support/process.js';

/** Random, alphanumeric (so no JSON or URL escaping could hide it in the log). */
function secret(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('hex')}`;
}

interface Session200 {
  user_id: string;
  access_token: string;
  device_id: string;
}

describe('logging', { timeout: 60_000 }, () => {
  const dir = makeTempDir();
  let server: WeftProcess | undefined;
  after(async () => {
    await server?.kill();
    dir.remove();
  });

  it('logs requests but no access token, password or login token', async () => {
    server = await startWeftProcess({
      cwd: dir.path,
      // Only where to put things and a free port; everything else is the default config.
      env: {
        WEFT_CONFIG: path.join(dir.path, 'weft.yaml'),
        WEFT_DATA_DIR: path.join(dir.path, 'data'),
        WEFT_PORT: '0',
      },
    });
    const api = new Api(server.url);
    const password = secret('Pw');
    const wrongPassword = secret('Wrong');
    const newPassword = secret('NewPw');
    const tokens: string[] = [];

    // Registration.
    const registered = await api.register('logged', password);
    tokens.push(registered.access_token);

    // Password login.
    const login = await api.login('logged', password);
    assert.equal(login.status, 200);
    tokens.push(login.body.access_token);

    // whoami with the token in the query string, then in the header.
    const byQuery = await api.get(
      `${CLIENT_V3}/account/whoami?access_token=${encodeURIComponent(login.body.access_token)}`,
    );
    assert.equal(byQuery.status, 200);
    assert.equal(byQuery.body.user_id, '@logged:localhost');
    const byHeader = await api.get(`${CLIENT_V3}/account/whoami`, {
      token: registered.access_token,
    });
    assert.equal(byHeader.status, 200);

    // A failed login.
    const failed = await api.login('logged', wrongPassword);
    assert.equal(failed.status, 403);
    assert.equal(failed.body.errcode, 'M_FORBIDDEN');

    // A login token, minted (with UIA by password) and used.
    const challenge = await api.post(
      '/_matrix/client/v1/login/get_token',
      {},
      { token: registered.access_token },
    );
    assert.equal(challenge.status, 401);
    const minted = await api.post<{ login_token: string }>(
      '/_matrix/client/v1/login/get_token',
      {
        auth: {
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: 'logged' },
          password,
          session: challenge.body.session,
        },
      },
      { token: registered.access_token },
    );
    assert.equal(minted.status, 200);
    const loginToken = minted.body.login_token;
    assert.equal(typeof loginToken, 'string');
    const tokenLogin = await api.post<Session200>(`${CLIENT_V3}/login`, {
      type: 'm.login.token',
      token: loginToken,
    });
    assert.equal(tokenLogin.status, 200);
    tokens.push(tokenLogin.body.access_token);
    // A reused login token is refused, and its failure is logged too.
    const reused = await api.post(`${CLIENT_V3}/login`, {
      type: 'm.login.token',
      token: loginToken,
    });
    assert.equal(reused.status, 403);

    // A password change (UIA with the old password), which logs out the other devices.
    const pwChallenge = await api.post(
      `${CLIENT_V3}/account/password`,
      { new_password: newPassword },
      { token: registered.access_token },
    );
    assert.equal(pwChallenge.status, 401);
    const changed = await api.post(
      `${CLIENT_V3}/account/password`,
      {
        new_password: newPassword,
        auth: {
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: 'logged' },
          password,
          session: pwChallenge.body.session,
        },
      },
      { token: registered.access_token },
    );
    assert.equal(changed.status, 200);
    // A logged-out token in the query string: a 401, logged without the token.
    const deadByQuery = await api.get(
      `${CLIENT_V3}/account/whoami?access_token=${encodeURIComponent(login.body.access_token)}`,
    );
    assert.equal(deadByQuery.status, 401);
    const relogin = await api.login('logged', newPassword);
    assert.equal(relogin.status, 200);
    tokens.push(relogin.body.access_token);

    // A graceful stop flushes every log line.
    const exit = await server.stop();
    assert.equal(exit.code, 0, server.output());

    const output = server.output();
    const secrets: Record<string, string> = {
      password,
      wrongPassword,
      newPassword,
      loginToken,
    };
    tokens.forEach((token, i) => (secrets[`access token ${i}`] = token));
    assert.equal(new Set(tokens).size, 4);
    for (const [what, value] of Object.entries(secrets)) {
      assert.ok(value.length >= 20, `${what} is long enough to search for`);
      assert.ok(!output.includes(value), `the log contains the ${what}`);
      // Nor the token without its prefix (say, if a logger stripped or split it).
      const body = value.replace(/^w[fl]t_/, '');
      assert.ok(!output.includes(body), `the log contains the ${what} without its prefix`);
    }

    // The log is not empty: one line per request, query strings stripped.
    const requests = server
      .logLines()
      .filter((line) => line.msg === 'request')
      .map((line) => ({ method: line.method, path: line.path, status: line.status }));
    const expected = [
      { method: 'POST', path: `${CLIENT_V3}/register`, status: 200 },
      { method: 'POST', path: `${CLIENT_V3}/login`, status: 200 },
      { method: 'GET', path: `${CLIENT_V3}/account/whoami`, status: 200 },
      { method: 'POST', path: `${CLIENT_V3}/login`, status: 403 },
      { method: 'POST', path: '/_matrix/client/v1/login/get_token', status: 200 },
      { method: 'POST', path: `${CLIENT_V3}/account/password`, status: 200 },
      { method: 'GET', path: `${CLIENT_V3}/account/whoami`, status: 401 },
    ];
    for (const line of expected) {
      assert.ok(
        requests.some(
          (r) => r.method === line.method && r.path === line.path && r.status === line.status,
        ),
        `no request line for ${JSON.stringify(line)} in\n${output}`,
      );
    }
    // Every one of the 13 requests above has its line, and only one.
    assert.equal(requests.length, 13, output);
    assert.ok(requests.every((r) => typeof r.path === 'string' && !r.path.includes('?')));
  });
});
