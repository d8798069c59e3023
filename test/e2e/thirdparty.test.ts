/**
 * GET /v3/thirdparty/... over HTTP with no application services registered: no
 * protocols, every protocol unknown (404), reverse lookups find nothing; a
 * token is needed, and the reverse lookups need their parameter.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';

const TP = `${CLIENT_V3}/thirdparty`;

describe('third-party networks without application services', () => {
  const suite = serverSuite();
  const { api } = suite;
  const alice = suite.user('alice');
  const get = (path: string) => api.get<unknown>(path, { token: alice.access_token });

  it('lists no protocols', async () => {
    const protocols = expectSpec(await get(`${TP}/protocols`), 'GET', `${TP}/protocols`);
    assert.deepEqual(protocols, {});
    assert.deepEqual(
      (
        await api.get('/_matrix/client/r0/thirdparty/protocols', {
          token: alice.access_token,
        })
      ).body,
      {},
    );
  });

  it('knows no protocol: 404 for its description, locations and users', async () => {
    for (const path of [
      `${TP}/protocol/irc`,
      `${TP}/protocol/__proto__`,
      `${TP}/location/irc?searchFields=x`,
      `${TP}/user/irc?nick=bob`,
    ]) {
      const res = await get(path);
      expectError(res as { status: number; body: unknown }, 404, 'M_NOT_FOUND');
    }
  });

  it('finds nothing in reverse lookups, which need their parameter', async () => {
    const alias = `#room:${suite.server.config.server_name}`;
    const locations = await get(`${TP}/location?alias=${encodeURIComponent(alias)}`);
    assert.deepEqual(expectSpec(locations, 'GET', `${TP}/location`), []);
    const users = await get(`${TP}/user?userid=${encodeURIComponent(alice.user_id)}`);
    assert.deepEqual(expectSpec(users, 'GET', `${TP}/user`), []);
    expectError(await get(`${TP}/location`), 400, 'M_MISSING_PARAM');
    expectError(await get(`${TP}/user`), 400, 'M_MISSING_PARAM');
    expectError(await get(`${TP}/user?userid=a&userid=b`), 400, 'M_INVALID_PARAM');
  });

  it('needs an access token', async () => {
    expectError(await api.get(`${TP}/protocols`), 401, 'M_MISSING_TOKEN');
  });
});
