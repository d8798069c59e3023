import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { mintLoginToken, readLoginToken } from '../../src/auth/login-tokens.js';
import {
  ACCESS_TOKEN_PREFIX,
  generateAccessToken,
  generateDeviceId,
  hashToken,
} from '../../src/auth/secrets.js';
import { localpartForUsername, resolveLocalUserId } from '../../src/auth/user-ids.js';
import { RateLimiter } from '../../src/auth/rate-limit.js';

describe('access tokens', () => {
  it('carry the scanner prefix and at least 128 random bits, and hash stably', () => {
    const token = generateAccessToken();
    assert.ok(token.startsWith(ACCESS_TOKEN_PREFIX));
    const randomPart = Buffer.from(token.slice(ACCESS_TOKEN_PREFIX.length), 'base64url');
    assert.ok(randomPart.length * 8 >= 128);
    assert.notEqual(generateAccessToken(), token);
    assert.equal(hashToken(token), hashToken(token));
    assert.notEqual(hashToken(token), token);
  });

  it('device IDs are ten upper-case letters', () => {
    assert.match(generateDeviceId(), /^[A-Z]{10}$/);
  });
});

describe('login tokens', () => {
  const secret = randomBytes(32);

  it('round-trip the user ID, nonce and expiry', () => {
    const { token, claims } = mintLoginToken(secret, '@a:localhost', 12345);
    assert.deepEqual(readLoginToken(secret, token), claims);
    assert.equal(claims.userId, '@a:localhost');
  });

  it('are refused with another secret, a changed payload or a changed signature', () => {
    const { token } = mintLoginToken(secret, '@a:localhost', 12345);
    assert.equal(readLoginToken(randomBytes(32), token), undefined);
    const [payload, signature] = token.slice(4).split('.');
    const other = mintLoginToken(secret, '@b:localhost', 12345).token.slice(4).split('.')[0];
    assert.equal(readLoginToken(secret, `wlt_${other}.${signature}`), undefined);
    assert.equal(readLoginToken(secret, `wlt_${payload}.${signature}x`), undefined);
    assert.equal(readLoginToken(secret, `wlt_${payload}`), undefined);
    assert.equal(readLoginToken(secret, 'syt_whatever'), undefined);
  });
});

describe('user IDs', () => {
  it('folds case and refuses what the grammar forbids', () => {
    assert.equal(localpartForUsername('Alice', 'localhost'), 'alice');
    assert.equal(localpartForUsername('a.b_c=d-e/f+g', 'localhost'), 'a.b_c=d-e/f+g');
    for (const bad of ['', 'a b', 'a:b', '@a', '_a', '123', 'é', 'x'.repeat(260)]) {
      assert.throws(
        () => localpartForUsername(bad, 'localhost'),
        { errcode: 'M_INVALID_USERNAME' },
        bad,
      );
    }
  });

  it('resolves what a client types at login', () => {
    assert.equal(resolveLocalUserId('bob', 'localhost'), '@bob:localhost');
    assert.equal(resolveLocalUserId('@Bob:localhost', 'localhost'), '@bob:localhost');
    assert.equal(resolveLocalUserId('@bob:elsewhere', 'localhost'), undefined);
    assert.equal(resolveLocalUserId('@bob', 'localhost'), undefined);
    assert.equal(resolveLocalUserId('', 'localhost'), undefined);
  });
});

describe('rate limiter', () => {
  it('allows a burst, then refills at the configured rate', () => {
    const limiter = new RateLimiter({ per_second: 2, burst_count: 3 }, true);
    const t0 = 1_000_000;
    for (let i = 0; i < 3; i++) assert.equal(limiter.tryTake('ip', t0), 0);
    assert.equal(limiter.tryTake('ip', t0), 500);
    assert.equal(limiter.tryTake('other', t0), 0, 'keys are independent');
    assert.equal(limiter.tryTake('ip', t0 + 500), 0);
    assert.throws(() => limiter.take('ip', t0 + 500), { errcode: 'M_LIMIT_EXCEEDED', status: 429 });
  });

  it('check() refuses without taking', () => {
    const limiter = new RateLimiter({ per_second: 1, burst_count: 1 }, true);
    limiter.check('k', 0);
    limiter.check('k', 0);
    assert.equal(limiter.tryTake('k', 0), 0);
    assert.throws(() => limiter.check('k', 0), { errcode: 'M_LIMIT_EXCEEDED' });
  });

  it('never limits when switched off', () => {
    const limiter = new RateLimiter({ per_second: 0.001, burst_count: 1 }, false);
    for (let i = 0; i < 10; i++) assert.equal(limiter.tryTake('ip', 0), 0);
  });
});
