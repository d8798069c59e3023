/** Shared-secret registration's MAC and nonces (admin/shared-secret.ts). */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  macMatches,
  MAX_OUTSTANDING_NONCES,
  NONCE_LIFETIME_MS,
  NonceStore,
  registrationMac,
} from '../../src/admin/shared-secret.js';

const fields = { nonce: 'abc', username: 'alice', password: 'pw', admin: false };

describe('shared-secret registration MAC', () => {
  it('is the hex HMAC-SHA1 of nonce, username, password and the admin word, NUL separated', () => {
    const expected = createHmac('sha1', 'secret')
      .update('abc\x00alice\x00pw\x00notadmin')
      .digest('hex');
    assert.equal(registrationMac('secret', fields), expected);
    const admin = createHmac('sha1', 'secret').update('abc\x00alice\x00pw\x00admin').digest('hex');
    assert.equal(registrationMac('secret', { ...fields, admin: true }), admin);
  });

  it('matches only the exact MAC for the same secret and fields', () => {
    const good = registrationMac('secret', fields);
    assert.equal(macMatches('secret', fields, good), true);
    assert.equal(macMatches('other', fields, good), false);
    assert.equal(macMatches('secret', { ...fields, admin: true }, good), false);
    assert.equal(macMatches('secret', { ...fields, password: 'pw2' }, good), false);
    assert.equal(macMatches('secret', fields, good.slice(1)), false);
    assert.equal(macMatches('secret', fields, ''), false);
    assert.equal(macMatches('secret', fields, `${good}00`), false);
    // Field boundaries count: moving a character across a NUL changes the MAC.
    assert.notEqual(
      registrationMac('secret', { ...fields, username: 'alic', password: 'epw' }),
      good,
    );
  });
});

describe('nonces', () => {
  it('are single use', () => {
    const nonces = new NonceStore();
    const a = nonces.issue();
    const b = nonces.issue();
    assert.notEqual(a, b);
    assert.equal(nonces.consume(a), true);
    assert.equal(nonces.consume(a), false);
    assert.equal(nonces.consume(b), true);
    assert.equal(nonces.consume('never issued'), false);
  });

  it('expire after their lifetime', () => {
    let now = 1_000;
    const nonces = new NonceStore(() => now);
    const early = nonces.issue();
    const late = nonces.issue();
    now += NONCE_LIFETIME_MS - 1;
    assert.equal(nonces.consume(early), true);
    now += 1;
    assert.equal(nonces.consume(late), false);
  });

  it('keep at most MAX_OUTSTANDING_NONCES: a flood drops the oldest', () => {
    const nonces = new NonceStore();
    const first = nonces.issue();
    const second = nonces.issue();
    for (let i = 2; i < MAX_OUTSTANDING_NONCES + 1; i++) nonces.issue();
    assert.equal(nonces.consume(first), false, 'the oldest made room');
    assert.equal(nonces.consume(second), true);
  });
});
