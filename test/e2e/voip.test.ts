/** `GET /voip/turnServer`: `{}` without TURN, credentials with it, guests as configured. */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { CLIENT_V3, withServer } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';

const TEMPLATE = '/_matrix/client/v3/voip/turnServer';
const URIS = ['turn:turn.example.org:3478?transport=udp'];

describe('voip/turnServer', () => {
  it('answers {} when no TURN server is configured', () =>
    withServer(async (fixture) => {
      const alice = await fixture.register('alice');
      const res = await fixture.api.get(`${CLIENT_V3}/voip/turnServer`, {
        token: alice.access_token,
      });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, {});
      const r0 = await fixture.api.get('/_matrix/client/r0/voip/turnServer', {
        token: alice.access_token,
      });
      assert.deepEqual(r0.body, {});
      expectError(await fixture.api.get(`${CLIENT_V3}/voip/turnServer`), 401, 'M_MISSING_TOKEN');
    }));

  it('hands each user credentials from the shared secret, guests too by default', () =>
    withServer(
      async (fixture) => {
        const alice = await fixture.register('alice');
        const res = await fixture.api.get(`${CLIENT_V3}/voip/turnServer`, {
          token: alice.access_token,
        });
        const body = expectSpec(res, 'GET', TEMPLATE) as {
          username: string;
          password: string;
          uris: string[];
          ttl: number;
        };
        assert.deepEqual(body.uris, URIS);
        assert.equal(body.ttl, 600);
        const [expiry, user] = [
          body.username.split(':')[0],
          body.username.slice(body.username.indexOf(':') + 1),
        ];
        assert.equal(user, alice.user_id);
        const expiresIn = Number(expiry) - Date.now() / 1000;
        assert.ok(expiresIn > 590 && expiresIn <= 601, `expires in ${expiresIn} s`);
        assert.equal(
          body.password,
          createHmac('sha1', 'coturn secret').update(body.username).digest('base64'),
        );
        const guest = await fixture.api.post<{ access_token: string }>(
          `${CLIENT_V3}/register?kind=guest`,
          {},
        );
        const forGuest = await fixture.api.get(`${CLIENT_V3}/voip/turnServer`, {
          token: guest.body.access_token,
        });
        assert.equal(forGuest.status, 200);
      },
      {
        config: {
          voip: {
            turn_uris: URIS,
            turn_shared_secret: 'coturn secret',
            turn_user_lifetime_ms: 600_000,
          },
        },
      },
    ));

  it('refuses guests when told to, and serves fixed credentials', () =>
    withServer(
      async (fixture) => {
        const alice = await fixture.register('alice');
        const res = await fixture.api.get(`${CLIENT_V3}/voip/turnServer`, {
          token: alice.access_token,
        });
        assert.deepEqual(expectSpec(res, 'GET', TEMPLATE), {
          username: 'turnuser',
          password: 'turnpass',
          uris: URIS,
          ttl: 3600,
        });
        const guest = await fixture.api.post<{ access_token: string }>(
          `${CLIENT_V3}/register?kind=guest`,
          {},
        );
        const forGuest = await fixture.api.get(`${CLIENT_V3}/voip/turnServer`, {
          token: guest.body.access_token,
        });
        expectError(forGuest, 403, 'M_FORBIDDEN');
      },
      {
        config: {
          voip: {
            turn_uris: URIS,
            turn_username: 'turnuser',
            turn_password: 'turnpass',
            turn_allow_guests: false,
          },
        },
      },
    ));
});
