/**
 * OpenID over HTTP: POST /v3/user/{userId}/openid/request_token (one's own only)
 * and GET /_matrix/federation/v1/openid/userinfo on the main listener: the token
 * names its user, is stored hashed with its expiry, works after a restart, and
 * is refused when unknown, expired, or used as an access token.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashToken } from '../../src/auth/secrets.js';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { assertMatchesSpecDefinition, expectError, expectSpec } from '../support/spec-schemas.js';

interface OpenIdToken {
  access_token: string;
  token_type: string;
  matrix_server_name: string;
  expires_in: number;
}

const SPEC_REQUEST = `${CLIENT_V3}/user/{userId}/openid/request_token`;
const USERINFO = '/_matrix/federation/v1/openid/userinfo';
/** The server-server API's schema of the userinfo answer (test/spec-data/api/server-server). */
const USERINFO_SCHEMA =
  '../server-server/openid.yaml#/paths/~1openid~1userinfo/get/responses/200/content/application~1json/schema';

describe('OpenID tokens', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob] = suite.users('alice', 'bob');

  const requestToken = (who: Session, userId = who.user_id, body: unknown = {}) =>
    api.post<OpenIdToken>(
      `${CLIENT_V3}/user/${encodeURIComponent(userId)}/openid/request_token`,
      body,
      { token: who.access_token },
    );
  const userinfo = (token: string) =>
    api.get<{ sub: string }>(`${USERINFO}?access_token=${encodeURIComponent(token)}`);

  it('issues a Bearer token for an hour that userinfo exchanges for the user ID', async () => {
    const before = Date.now();
    const token = expectSpec(await requestToken(alice), 'POST', SPEC_REQUEST);
    assert.equal(token.token_type, 'Bearer');
    assert.equal(token.matrix_server_name, suite.server.config.server_name);
    assert.equal(token.expires_in, 3600);
    const info = await userinfo(token.access_token);
    assert.equal(info.status, 200);
    assertMatchesSpecDefinition(USERINFO_SCHEMA, info.body);
    assert.deepEqual(info.body, { sub: alice.user_id });
    // Stored hashed, with its expiry: the clear token finds nothing.
    const store = suite.server.weft.storage.openIdTokens;
    assert.equal(await store.find(token.access_token, Date.now()), undefined);
    const row = await store.find(hashToken(token.access_token), Date.now());
    assert.equal(row?.userId, alice.user_id);
    const expiresIn = row!.expiresTs - before;
    assert.ok(expiresIn >= 3_600_000 && expiresIn < 3_660_000, `expires in ${expiresIn} ms`);
  });

  it('keeps tokens over a restart', async () => {
    const token = expectSpec(await requestToken(bob), 'POST', SPEC_REQUEST);
    await suite.server.restart();
    assert.deepEqual((await userinfo(token.access_token)).body, { sub: bob.user_id });
  });

  it("refuses another user's token request, and an r0 request works the same", async () => {
    expectError(await requestToken(alice, bob.user_id), 403, 'M_FORBIDDEN');
    expectError(await requestToken(alice, '@alice:elsewhere.example'), 403, 'M_FORBIDDEN');
    const r0 = await api.post<OpenIdToken>(
      `/_matrix/client/r0/user/${encodeURIComponent(alice.user_id)}/openid/request_token`,
      {},
      { token: alice.access_token },
    );
    assert.equal(r0.status, 200);
    expectError(await requestToken(alice, alice.user_id, [1]), 400, 'M_BAD_JSON');
    const anonymous = await api.post(
      `${CLIENT_V3}/user/${encodeURIComponent(alice.user_id)}/openid/request_token`,
      {},
    );
    expectError(anonymous, 401, 'M_MISSING_TOKEN');
  });

  it('refuses unknown, missing and expired tokens at userinfo', async () => {
    expectError(await userinfo('wfo_unknown'), 401, 'M_UNKNOWN_TOKEN');
    expectError(await userinfo(''), 401, 'M_UNKNOWN_TOKEN');
    expectError(await api.get(USERINFO), 401, 'M_MISSING_TOKEN');
    await suite.server.weft.storage.openIdTokens.create({
      tokenHash: hashToken('wfo_expired'),
      userId: alice.user_id,
      expiresTs: Date.now() - 1,
    });
    expectError(await userinfo('wfo_expired'), 401, 'M_UNKNOWN_TOKEN');
  });

  it('is no access token, and an access token is no OpenID token', async () => {
    const token = expectSpec(await requestToken(alice), 'POST', SPEC_REQUEST);
    const whoami = await api.get(`${CLIENT_V3}/account/whoami`, { token: token.access_token });
    expectError(whoami, 401, 'M_UNKNOWN_TOKEN');
    expectError(await userinfo(alice.access_token), 401, 'M_UNKNOWN_TOKEN');
  });
});
