/** TURN credentials: coturn's time-limited scheme, fixed credentials, none. */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { defaultConfig } from '../../src/config/config.js';
import { turnCredentials } from '../../src/voip/turn-credentials.js';

const URIS = ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:443'];
const voip = (over: Partial<ReturnType<typeof defaultConfig>['voip']>) => ({
  ...defaultConfig().voip,
  turn_uris: URIS,
  ...over,
});

describe('turnCredentials', () => {
  it('gives nothing without TURN URIs, or without any credentials', () => {
    assert.equal(turnCredentials(defaultConfig().voip, '@a:x', 0), undefined);
    assert.equal(turnCredentials(voip({}), '@a:x', 0), undefined);
  });

  it('derives expiring credentials from the shared secret, as coturn checks them', () => {
    const now = 1_700_000_000_500;
    const creds = turnCredentials(
      voip({ turn_shared_secret: 's3cret', turn_user_lifetime_ms: 86_400_000 }),
      '@alice:example.org',
      now,
    );
    const username = `${1_700_000_000 + 86_400}:@alice:example.org`;
    assert.deepEqual(creds, {
      username,
      // coturn: base64(HMAC-SHA1(static-auth-secret, username)).
      password: createHmac('sha1', 's3cret').update(username).digest('base64'),
      uris: URIS,
      ttl: 86_400,
    });
  });

  it('hands out fixed credentials when there is no secret', () => {
    const creds = turnCredentials(voip({ turn_username: 'u', turn_password: 'p' }), '@a:x', 0);
    assert.deepEqual(creds, { username: 'u', password: 'p', uris: URIS, ttl: 3600 });
  });
});
