/**
 * What every endpoint shares, seen from the wire: 404/405, JSON body errors,
 * body limits, CORS, the r0/v1 prefixes, access tokens, odd URLs.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Api, CLIENT_V3 } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { assertResponseMatchesSpec, assertSpecError } from '../support/spec-schemas.js';

const R0 = '/_matrix/client/r0';
const V1 = '/_matrix/client/v1';
const DEVICE_TEMPLATE = '/_matrix/client/v3/devices/{deviceId}';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  body: Record<string, unknown>;
}

/**
 * One request sent as given: the path is not normalised (unlike fetch), the
 * body and headers are exactly these.
 */
function send(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: string | Buffer; headers?: Record<string, string>; chunked?: boolean } = {},
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body !== undefined && !options.chunked) {
      headers['content-length'] = Buffer.byteLength(options.body);
    }
    const req = http.request(
      { host: url.hostname, port: url.port, method, path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: Record<string, unknown> = {};
          try {
            body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            // not JSON: the assertions on errcode will say so
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** Asserts a Matrix error: status, JSON content type, the spec's error shape, errcode, CORS. */
function assertError(res: RawResponse, status: number, errcode: string, what = ''): void {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.match(String(res.headers['content-type']), /^application\/json/, what);
  assertSpecError(JSON.parse(res.text), errcode);
  assert.equal(res.headers['access-control-allow-origin'], '*', `${what}: CORS header`);
}

function listOf(header: string | string[] | undefined): string[] {
  return String(header ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

describe('HTTP behaviour', () => {
  let server: TestServer;
  let api: Api;
  let token: string;
  let deviceId: string;
  before(async () => {
    server = await startTestServer();
    api = new Api(server.url);
    const reg = await api.register('http_user');
    token = reg.access_token;
    deviceId = reg.device_id;
  });
  after(() => server.close());

  const auth = () => ({ authorization: `Bearer ${token}` });

  describe('routing', () => {
    it('answers unknown paths with 404 M_UNRECOGNIZED', async () => {
      const cases: [string, string][] = [
        ['GET', '/_matrix/client/v3/nonsense'],
        ['POST', '/_matrix/client/v3/nonsense'],
        ['GET', '/_matrix/client/v4/login'],
        ['GET', '/_matrix/client/v3/login/'],
        ['GET', '/_matrix/client/v3/devices/a/b'],
        ['GET', '/nonsense'],
        ['GET', '/'],
        ['PUT', '/_matrix/federation/v1/version'],
        // A room path the server does not serve (rooms/{roomId}/state is a route since the rooms issue).
        ['GET', '/_matrix/client/v3/rooms/!room:localhost/nonsense'],
      ];
      for (const [method, path] of cases) {
        assertError(
          await send(server.url, method, path, { headers: auth() }),
          404,
          'M_UNRECOGNIZED',
          `${method} ${path}`,
        );
      }
    });

    it('answers known paths with a wrong method with 405 M_UNRECOGNIZED', async () => {
      const cases: [string, string][] = [
        ['DELETE', '/_matrix/client/v3/login'],
        ['PUT', '/_matrix/client/v3/login'],
        ['GET', '/_matrix/client/v3/logout'],
        ['GET', '/_matrix/client/v3/logout/all'],
        ['GET', '/_matrix/client/v3/register'],
        ['POST', '/_matrix/client/v3/account/whoami'],
        ['DELETE', '/_matrix/client/v3/account/3pid'],
        ['PUT', '/_matrix/client/v3/devices'],
        ['POST', '/_matrix/client/v3/devices/SOMEDEVICE'],
        ['GET', '/_matrix/client/v3/delete_devices'],
        ['GET', '/_matrix/client/v1/login/get_token'],
        ['POST', '/_matrix/client/versions'],
        ['DELETE', '/.well-known/matrix/client'],
        ['PATCH', '/_matrix/client/v3/capabilities'],
        ['GET', '/_matrix/client/r0/logout'],
      ];
      for (const [method, path] of cases) {
        assertError(
          await send(server.url, method, path, { headers: auth() }),
          405,
          'M_UNRECOGNIZED',
          `${method} ${path}`,
        );
      }
    });

    it('answers HEAD like GET on GET endpoints, and 405 elsewhere', async () => {
      const head = await send(server.url, 'HEAD', '/_matrix/client/versions');
      assert.equal(head.status, 200);
      assert.equal(head.text, '');
      const logout = await send(server.url, 'HEAD', '/_matrix/client/v3/logout');
      assert.equal(logout.status, 405);
    });

    it('serves the r0 aliases like v3', async () => {
      for (const path of ['/login', '/capabilities', '/account/whoami', '/devices']) {
        const v3 = await api.get(`${CLIENT_V3}${path}`, { token });
        const r0 = await api.get(`${R0}${path}`, { token });
        assert.equal(r0.status, 200, `${path}: ${JSON.stringify(r0.body)}`);
        assert.equal(v3.status, 200);
        if (path === '/devices') {
          // last_seen_ts moves with every request; compare the IDs.
          const ids = (r: typeof v3) =>
            (r.body.devices as { device_id: string }[]).map((d) => d.device_id).sort();
          assert.deepEqual(ids(r0), ids(v3));
        } else {
          assert.deepEqual(r0.body, v3.body, path);
        }
      }
      const guest = await api.post(`${R0}/register?kind=guest`, {});
      assert.equal(guest.status, 200);
      assertResponseMatchesSpec('POST', '/_matrix/client/v3/register', 200, guest.body);
      const missing = await send(server.url, 'POST', `${R0}/login`, { body: '{}' });
      assertError(missing, 400, 'M_MISSING_PARAM', 'r0 login');
      assertError(await send(server.url, 'GET', `${R0}/logout`), 405, 'M_UNRECOGNIZED');
    });

    it('serves v1-only endpoints under v1 only', async () => {
      const ok = await send(
        server.url,
        'GET',
        `${V1}/register/m.login.registration_token/validity?token=x`,
      );
      assert.equal(ok.status, 200, ok.text);
      const getToken = await send(server.url, 'POST', `${V1}/login/get_token`, {
        body: '{}',
        headers: auth(),
      });
      assert.equal(getToken.status, 401, getToken.text);
      assert.ok(Array.isArray(getToken.body.flows), 'a UIA challenge');

      for (const prefix of [CLIENT_V3, R0]) {
        assertError(
          await send(server.url, 'POST', `${prefix}/login/get_token`, {
            body: '{}',
            headers: auth(),
          }),
          404,
          'M_UNRECOGNIZED',
          `${prefix}/login/get_token`,
        );
        assertError(
          await send(
            server.url,
            'GET',
            `${prefix}/register/m.login.registration_token/validity?token=x`,
          ),
          404,
          'M_UNRECOGNIZED',
          `${prefix}/register/m.login.registration_token/validity`,
        );
      }
      // And the reverse: v3 endpoints are not under v1.
      assertError(await send(server.url, 'GET', `${V1}/login`), 404, 'M_UNRECOGNIZED', 'v1 login');
    });

    it('does not serve the removed /tokenrefresh', async () => {
      for (const prefix of [R0, CLIENT_V3]) {
        assertError(
          await send(server.url, 'POST', `${prefix}/tokenrefresh`, {
            body: JSON.stringify({ refresh_token: 'x' }),
          }),
          404,
          'M_UNRECOGNIZED',
          `${prefix}/tokenrefresh`,
        );
      }
    });

    it('answers /refresh with 401 M_UNKNOWN_TOKEN, no soft logout', async () => {
      const res = await send(server.url, 'POST', `${CLIENT_V3}/refresh`, {
        body: JSON.stringify({ refresh_token: 'whatever' }),
        headers: { 'content-type': 'application/json' },
      });
      assertError(res, 401, 'M_UNKNOWN_TOKEN', 'refresh');
      assert.equal(res.body.soft_logout, false);
      assertResponseMatchesSpec('POST', '/_matrix/client/v3/refresh', 401, res.body);
    });
  });

  describe('request bodies', () => {
    const post = (path: string, body: string | Buffer, withToken = false) =>
      send(server.url, 'POST', path, {
        body,
        headers: { 'content-type': 'application/json', ...(withToken ? auth() : {}) },
      });

    it('answers malformed JSON with 400 M_NOT_JSON', async () => {
      for (const body of [
        '{"type":',
        '{',
        'nope',
        "{'type': 'm.login.password'}",
        '{"a":1,}',
        '\u0000',
      ]) {
        assertError(await post(`${CLIENT_V3}/login`, body), 400, 'M_NOT_JSON', body);
      }
      assertError(
        await send(server.url, 'PUT', `${CLIENT_V3}/devices/${deviceId}`, {
          body: '{"display_name":',
          headers: auth(),
        }),
        400,
        'M_NOT_JSON',
        'PUT device',
      );
    });

    it('answers invalid UTF-8 with 400 M_NOT_JSON', async () => {
      const bodies = [
        Buffer.from([0x7b, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
        Buffer.from([0xc3, 0x28]),
        // UTF-8-encoded surrogate (CESU) and an overlong slash: both invalid.
        Buffer.concat([
          Buffer.from('{"type":"'),
          Buffer.from([0xed, 0xa0, 0x80]),
          Buffer.from('"}'),
        ]),
        Buffer.concat([Buffer.from('{"type":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
      ];
      for (const body of bodies) {
        assertError(
          await post(`${CLIENT_V3}/login`, body),
          400,
          'M_NOT_JSON',
          body.toString('hex'),
        );
      }
      assertError(
        await post(`${CLIENT_V3}/logout`, Buffer.from([0xff]), true),
        400,
        'M_NOT_JSON',
        'logout',
      );
    });

    it('answers JSON that is not an object with 400 M_BAD_JSON', async () => {
      const endpoints: [string, string, boolean][] = [
        ['POST', `${CLIENT_V3}/login`, false],
        ['POST', `${CLIENT_V3}/register`, false],
        ['POST', `${CLIENT_V3}/account/password`, true],
        ['POST', `${CLIENT_V3}/account/deactivate`, true],
        ['PUT', `${CLIENT_V3}/devices/${deviceId}`, true],
        ['DELETE', `${CLIENT_V3}/devices/${deviceId}`, true],
        ['POST', `${CLIENT_V3}/delete_devices`, true],
        ['POST', `${V1}/login/get_token`, true],
      ];
      for (const [method, path, withToken] of endpoints) {
        for (const body of [
          '[]',
          '[{"type":"m.login.password"}]',
          '42',
          '"text"',
          'true',
          'null',
        ]) {
          assertError(
            await send(server.url, method, path, {
              body,
              headers: { 'content-type': 'application/json', ...(withToken ? auth() : {}) },
            }),
            400,
            'M_BAD_JSON',
            `${method} ${path} ${body}`,
          );
        }
      }
    });

    it('answers fields of the wrong type with 400 M_BAD_JSON', async () => {
      const cases: [string, string, unknown, boolean][] = [
        ['POST', `${CLIENT_V3}/login`, { type: 1 }, false],
        ['POST', `${CLIENT_V3}/login`, { type: ['m.login.password'] }, false],
        [
          'POST',
          `${CLIENT_V3}/login`,
          { type: 'm.login.password', identifier: 'http_user', password: 'x' },
          false,
        ],
        [
          'POST',
          `${CLIENT_V3}/login`,
          { type: 'm.login.password', identifier: { type: 'm.id.user', user: 7 }, password: 'x' },
          false,
        ],
        [
          'POST',
          `${CLIENT_V3}/login`,
          { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'a' }, password: {} },
          false,
        ],
        ['POST', `${CLIENT_V3}/login`, { type: 'm.login.token', token: 12 }, false],
        ['POST', `${CLIENT_V3}/login`, { type: 'm.login.token', token: 'x', device_id: 3 }, false],
        ['POST', `${CLIENT_V3}/register`, { username: 5, password: 'pw' }, false],
        ['POST', `${CLIENT_V3}/register`, { username: 'x', password: ['pw'] }, false],
        [
          'POST',
          `${CLIENT_V3}/register`,
          { username: 'x', password: 'pw', inhibit_login: 'yes' },
          false,
        ],
        ['POST', `${CLIENT_V3}/register`, { username: 'x', password: 'pw', auth: 'dummy' }, false],
        [
          'POST',
          `${CLIENT_V3}/register`,
          { username: 'x', password: 'pw', auth: { type: 4 } },
          false,
        ],
        ['POST', `${CLIENT_V3}/register?kind=guest`, { initial_device_display_name: 1 }, false],
        ['PUT', `${CLIENT_V3}/devices/${deviceId}`, { display_name: 5 }, true],
        ['POST', `${CLIENT_V3}/delete_devices`, { devices: 'ABC' }, true],
        ['POST', `${CLIENT_V3}/delete_devices`, { devices: [1, 2] }, true],
        ['POST', `${CLIENT_V3}/account/password`, { new_password: 5 }, true],
        [
          'POST',
          `${CLIENT_V3}/account/password`,
          { new_password: 'x', logout_devices: 'no' },
          true,
        ],
        ['POST', `${CLIENT_V3}/account/deactivate`, { erase: 'yes' }, true],
        ['POST', `${CLIENT_V3}/account/deactivate`, { auth: [] }, true],
        ['DELETE', `${CLIENT_V3}/devices/${deviceId}`, { auth: 'x' }, true],
        ['POST', `${V1}/login/get_token`, { auth: { session: 5 } }, true],
      ];
      for (const [method, path, body, withToken] of cases) {
        assertError(
          await send(server.url, method, path, {
            body: JSON.stringify(body),
            headers: { 'content-type': 'application/json', ...(withToken ? auth() : {}) },
          }),
          400,
          'M_BAD_JSON',
          `${method} ${path} ${JSON.stringify(body)}`,
        );
      }
    });

    it('answers 400 M_THREEPID_MEDIUM_NOT_SUPPORTED to requests for 3PID tokens', async () => {
      for (const path of [
        '/account/3pid/email/requestToken',
        '/account/3pid/msisdn/requestToken',
        '/account/password/email/requestToken',
        '/register/msisdn/requestToken',
      ]) {
        const res = await send(server.url, 'POST', `${CLIENT_V3}${path}`, {
          body: JSON.stringify({ client_secret: 'x', email: 'a@example.org', send_attempt: 1 }),
          headers: { 'content-type': 'application/json' },
        });
        assertError(res, 400, 'M_THREEPID_MEDIUM_NOT_SUPPORTED', path);
      }
    });

    it('answers missing fields with 400 M_MISSING_PARAM', async () => {
      const cases: [string, string, unknown, boolean][] = [
        ['POST', `${CLIENT_V3}/login`, {}, false],
        ['POST', `${CLIENT_V3}/login`, { type: 'm.login.password', password: 'x' }, false],
        [
          'POST',
          `${CLIENT_V3}/login`,
          { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'http_user' } },
          false,
        ],
        [
          'POST',
          `${CLIENT_V3}/login`,
          { type: 'm.login.password', identifier: { user: 'http_user' }, password: 'x' },
          false,
        ],
        ['POST', `${CLIENT_V3}/login`, { type: 'm.login.token' }, false],
        // /register without a password first answers the UIA challenge (Element probes the flows
        // that way); its missing password is refused after UIA (register.test.ts).
        ['POST', `${CLIENT_V3}/delete_devices`, {}, true],
        ['POST', `${CLIENT_V3}/account/password`, {}, true],
      ];
      for (const [method, path, body, withToken] of cases) {
        assertError(
          await send(server.url, method, path, {
            body: JSON.stringify(body),
            headers: { 'content-type': 'application/json', ...(withToken ? auth() : {}) },
          }),
          400,
          'M_MISSING_PARAM',
          `${method} ${path} ${JSON.stringify(body)}`,
        );
      }
      for (const path of [
        `${CLIENT_V3}/register/available`,
        `${V1}/register/m.login.registration_token/validity`,
      ]) {
        assertError(await send(server.url, 'GET', path), 400, 'M_MISSING_PARAM', path);
      }
    });

    it('answers a missing body where one is required with 400', async () => {
      for (const path of [`${CLIENT_V3}/login`, `${CLIENT_V3}/delete_devices`]) {
        const res = await send(server.url, 'POST', path, { headers: auth() });
        assert.equal(res.status, 400, res.text);
        assert.ok(['M_NOT_JSON', 'M_BAD_JSON'].includes(String(res.body.errcode)), res.text);
        assertSpecError(res.body);
      }
    });
  });

  describe('body size limit', () => {
    let small: TestServer;
    before(async () => {
      small = await startTestServer({ max_request_body_bytes: 1024 });
    });
    after(() => small.close());

    it('answers a body over max_request_body_bytes with 413 M_TOO_LARGE', async () => {
      const big = JSON.stringify({ type: 'm.login.password', password: 'x'.repeat(4096) });
      assertError(
        await send(small.url, 'POST', `${CLIENT_V3}/login`, {
          body: big,
          headers: { 'content-type': 'application/json' },
        }),
        413,
        'M_TOO_LARGE',
        'content-length',
      );
      assertError(
        await send(small.url, 'POST', `${CLIENT_V3}/register`, {
          body: big,
          chunked: true,
          headers: { 'content-type': 'application/json' },
        }),
        413,
        'M_TOO_LARGE',
        'chunked',
      );
      // Under the limit is fine.
      const fits = await send(small.url, 'POST', `${CLIENT_V3}/login`, {
        body: JSON.stringify({ type: 'm.login.password', password: 'x'.repeat(500) }),
      });
      assert.equal(fits.status, 400, fits.text);
      assert.equal(fits.body.errcode, 'M_MISSING_PARAM');
    });
  });

  describe('CORS', () => {
    it('answers preflight requests on known and unknown paths', async () => {
      const paths = [
        '/_matrix/client/versions',
        '/.well-known/matrix/client',
        `${CLIENT_V3}/login`,
        `${CLIENT_V3}/devices/SOMEDEVICE`,
        `${R0}/register`,
        `${V1}/login/get_token`,
        `${CLIENT_V3}/no/such/endpoint`,
        '/_matrix/media/v3/upload',
      ];
      for (const path of paths) {
        const res = await send(server.url, 'OPTIONS', path, {
          headers: {
            origin: 'https://app.example.org',
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'authorization, content-type',
          },
        });
        assert.ok(res.status >= 200 && res.status < 300, `${path}: ${res.status} ${res.text}`);
        assert.equal(res.headers['access-control-allow-origin'], '*', path);
        const methods = listOf(res.headers['access-control-allow-methods']);
        for (const m of ['get', 'post', 'put', 'delete', 'options']) {
          assert.ok(methods.includes(m), `${path}: allow-methods ${methods.join(',')} lacks ${m}`);
        }
        const allowed = listOf(res.headers['access-control-allow-headers']);
        for (const h of ['x-requested-with', 'content-type', 'authorization']) {
          assert.ok(allowed.includes(h), `${path}: allow-headers ${allowed.join(',')} lacks ${h}`);
        }
      }
    });

    it('puts Access-Control-Allow-Origin on normal and error answers', async () => {
      const responses = [
        await send(server.url, 'GET', '/_matrix/client/versions'),
        await send(server.url, 'GET', `${CLIENT_V3}/account/whoami`, { headers: auth() }),
        await send(server.url, 'GET', `${CLIENT_V3}/account/whoami`),
        await send(server.url, 'GET', `${CLIENT_V3}/nonsense`),
        await send(server.url, 'DELETE', `${CLIENT_V3}/login`),
        await send(server.url, 'POST', `${CLIENT_V3}/login`, { body: '{' }),
        await send(server.url, 'POST', `${CLIENT_V3}/register`, { body: '{}' }),
      ];
      for (const res of responses) {
        assert.equal(res.headers['access-control-allow-origin'], '*', `${res.status} ${res.text}`);
      }
    });
  });

  describe('access tokens', () => {
    const authenticated: [string, string][] = [
      ['GET', `${CLIENT_V3}/account/whoami`],
      ['GET', `${CLIENT_V3}/capabilities`],
      ['GET', `${CLIENT_V3}/devices`],
      ['GET', `${CLIENT_V3}/devices/SOMEDEVICE`],
      ['PUT', `${CLIENT_V3}/devices/SOMEDEVICE`],
      ['DELETE', `${CLIENT_V3}/devices/SOMEDEVICE`],
      ['POST', `${CLIENT_V3}/delete_devices`],
      ['GET', `${CLIENT_V3}/account/3pid`],
      ['POST', `${CLIENT_V3}/account/password`],
      ['POST', `${CLIENT_V3}/account/deactivate`],
      ['POST', `${CLIENT_V3}/logout`],
      ['POST', `${CLIENT_V3}/logout/all`],
      ['POST', `${V1}/login/get_token`],
      ['GET', `${R0}/account/whoami`],
    ];

    it('answers a missing token with 401 M_MISSING_TOKEN', async () => {
      for (const [method, path] of authenticated) {
        assertError(
          await send(server.url, method, path, { body: '{}' }),
          401,
          'M_MISSING_TOKEN',
          `${method} ${path}`,
        );
      }
    });

    it('answers an unknown token with 401 M_UNKNOWN_TOKEN and soft_logout false', async () => {
      for (const [method, path] of authenticated) {
        for (const res of [
          await send(server.url, method, path, {
            body: '{}',
            headers: { authorization: 'Bearer wft_nottherealtokenatall' },
          }),
          await send(server.url, method, `${path}?access_token=wft_nottherealtokenatall`, {
            body: '{}',
          }),
        ]) {
          assertError(res, 401, 'M_UNKNOWN_TOKEN', `${method} ${path}`);
          assert.equal(res.body.soft_logout, false, `${method} ${path}`);
        }
      }
    });

    it('accepts the token as a Bearer header and as ?access_token=', async () => {
      const byHeader = await send(server.url, 'GET', `${CLIENT_V3}/account/whoami`, {
        headers: auth(),
      });
      const byQuery = await send(
        server.url,
        'GET',
        `${CLIENT_V3}/account/whoami?access_token=${encodeURIComponent(token)}`,
      );
      const bearerLowercase = await send(server.url, 'GET', `${CLIENT_V3}/account/whoami`, {
        headers: { authorization: `bearer ${token}` },
      });
      for (const res of [byHeader, byQuery, bearerLowercase]) {
        assert.equal(res.status, 200, res.text);
        assert.equal(res.body.user_id, '@http_user:localhost');
        assert.equal(res.body.device_id, deviceId);
      }
    });

    it('answers Authorization headers without a bearer token with 401 M_MISSING_TOKEN', async () => {
      for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', token]) {
        assertError(
          await send(server.url, 'GET', `${CLIENT_V3}/account/whoami`, {
            headers: { authorization: header },
          }),
          401,
          'M_MISSING_TOKEN',
          header,
        );
      }
      // Not a token the server issued, whichever way it is read.
      const res = await send(server.url, 'GET', `${CLIENT_V3}/account/whoami`, {
        headers: { authorization: `Bearer ${token} extra` },
      });
      assert.equal(res.status, 401, res.text);
      assertSpecError(res.body);
      assert.ok(['M_MISSING_TOKEN', 'M_UNKNOWN_TOKEN'].includes(String(res.body.errcode)));
    });
  });

  describe('odd URLs', () => {
    const oddSegments = [
      '%E0%A4%A',
      '%',
      '%%',
      '%00',
      '%ZZ',
      '%C0%AF',
      '%ED%A0%80',
      '%FF%FE',
      '%2F',
      '%2e%2e',
      '..',
      '%252F',
      'a'.repeat(5000),
      '%41'.repeat(1500),
      '\u00e9',
    ];

    it('answers odd device IDs in the path with 4xx, never 5xx', async () => {
      for (const segment of oddSegments) {
        for (const method of ['GET', 'PUT', 'DELETE']) {
          const path = `${CLIENT_V3}/devices/${segment}`;
          let res: RawResponse;
          try {
            res = await send(server.url, method, path, { body: '{}', headers: auth() });
          } catch (err) {
            // Node refuses to send some paths (non-Latin-1); nothing reached the server.
            assert.equal((err as NodeJS.ErrnoException).code, 'ERR_UNESCAPED_CHARACTERS');
            continue;
          }
          assert.ok(res.status >= 400 && res.status < 500, `${method} ${path}: ${res.status}`);
          if (method === 'DELETE' && res.status === 401 && res.body.errcode === undefined) {
            // Deleting a device is behind UIA: the challenge comes first, whatever the ID.
            assertResponseMatchesSpec('DELETE', DEVICE_TEMPLATE, 401, res.body);
          } else {
            assertSpecError(JSON.parse(res.text));
          }
        }
      }
    });

    it('answers odd percent-encoding in other paths and in query strings without 5xx', async () => {
      for (const segment of oddSegments) {
        const paths = [
          `/_matrix/client/v3/${segment}`,
          `/_matrix/client/v3/register/available?username=${segment}`,
          `/_matrix/client/v3/account/whoami?access_token=${segment}`,
          `/_matrix/client/v3/devices?${segment}=${segment}`,
        ];
        for (const path of paths) {
          let res: RawResponse;
          try {
            res = await send(server.url, 'GET', path);
          } catch (err) {
            assert.equal((err as NodeJS.ErrnoException).code, 'ERR_UNESCAPED_CHARACTERS');
            continue;
          }
          assert.ok(res.status < 500, `${path}: ${res.status} ${res.text}`);
          if (path === paths[0])
            assert.ok(res.status >= 400, `${path}: unknown, yet ${res.status}`);
          assert.match(String(res.headers['content-type']), /^application\/json/, path);
          const body = JSON.parse(res.text) as unknown;
          if (res.status >= 400) assertSpecError(body);
          else assert.ok(typeof body === 'object' && body !== null && !Array.isArray(body), path);
        }
      }
    });

    it('answers request lines Node itself rejects with a Matrix error', async () => {
      const url = new URL(server.url);
      const requests = [
        'GET /_matrix/client/v3/devices/a b HTTP/1.1\r\nHost: x\r\n\r\n',
        'GET /_matrix/client/v3/login\u0001 HTTP/1.1\r\nHost: x\r\n\r\n',
        'GET _matrix/client/v3/login HTTP/1.1\r\nHost: x\r\n\r\n',
        `GET /_matrix/client/v3/login?x=${'a'.repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      ];
      for (const request of requests) {
        const text = await new Promise<string>((resolve, reject) => {
          const socket = net.connect(Number(url.port), url.hostname, () => socket.end(request));
          const chunks: Buffer[] = [];
          socket.on('data', (c: Buffer) => chunks.push(c));
          socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
          socket.on('error', reject);
        });
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
        assert.ok(
          status >= 400 && status < 500,
          `${JSON.stringify(request.slice(0, 60))}: ${text.slice(0, 200)}`,
        );
        const body = text.slice(text.indexOf('\r\n\r\n') + 4);
        assert.match(text, /\r\naccess-control-allow-origin: \*\r\n/i, 'CORS header');
        assertSpecError(JSON.parse(body));
      }
    });
  });
});
