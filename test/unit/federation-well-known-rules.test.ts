/** /.well-known/matrix/server: bodies, cache lifetimes from headers, failures and refreshes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  answerLifetimeMs,
  delegatedServerOf,
  failureLifetimeMs,
  headerLifetimeMs,
  isFresh,
  isUsableAfterFailure,
  WELL_KNOWN_DEFAULT_MS,
  WELL_KNOWN_MAX_MS,
  WELL_KNOWN_MIN_MS,
} from '../../src/federation/well-known-rules.js';

const HOUR = 3600_000;

describe('well-known bodies', () => {
  it('gives m.server of a JSON object', () => {
    assert.equal(
      delegatedServerOf(Buffer.from('{"m.server":"matrix.example.org:443"}')),
      'matrix.example.org:443',
    );
    assert.equal(delegatedServerOf(Buffer.from('{"m.server":"a.org","other":1}')), 'a.org');
  });

  it('refuses bodies that are no valid answer', () => {
    for (const body of [
      '',
      'not json',
      '[]',
      '"a.org"',
      'null',
      '{}',
      '{"m.server":""}',
      '{"m.server":5}',
    ]) {
      assert.equal(delegatedServerOf(Buffer.from(body)), undefined, body);
    }
    assert.equal(delegatedServerOf(Buffer.from([0x7b, 0xff, 0x7d])), undefined);
  });
});

describe('well-known cache lifetimes', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('reads no-store, max-age, then Expires', () => {
    assert.equal(headerLifetimeMs({}, now), undefined);
    assert.equal(headerLifetimeMs({ 'cache-control': 'no-store, max-age=60' }, now), 0);
    assert.equal(headerLifetimeMs({ 'cache-control': 'public, max-age=7200' }, now), 2 * HOUR);
    assert.equal(headerLifetimeMs({ 'cache-control': 'Max-Age="60"' }, now), 60_000);
    assert.equal(
      headerLifetimeMs(
        { 'cache-control': 'max-age=60', expires: 'Wed, 01 Jan 2025 05:00:00 GMT' },
        now,
      ),
      60_000,
    );
    assert.equal(headerLifetimeMs({ expires: 'Wed, 01 Jan 2025 05:00:00 GMT' }, now), 5 * HOUR);
    // An invalid date is already expired (RFC 9111), as is one in the past.
    assert.equal(headerLifetimeMs({ expires: '0' }, now), 0);
    assert.equal(headerLifetimeMs({ expires: 'Tue, 31 Dec 2024 00:00:00 GMT' }, now), 0);
    // A max-age that is not a number falls through to Expires.
    assert.equal(
      headerLifetimeMs(
        { 'cache-control': 'max-age=soon', expires: 'Wed, 01 Jan 2025 01:00:00 GMT' },
        now,
      ),
      HOUR,
    );
  });

  it('keeps header lifetimes within 5 minutes and 48 hours; 24 hours ±10% without headers', () => {
    assert.equal(answerLifetimeMs(1000, 0.5), WELL_KNOWN_MIN_MS);
    assert.equal(answerLifetimeMs(3 * HOUR, 0.5), 3 * HOUR);
    assert.equal(answerLifetimeMs(100 * HOUR, 0.5), WELL_KNOWN_MAX_MS);
    assert.equal(answerLifetimeMs(0, 0.5), 0, 'no-store is not cached');
    assert.equal(answerLifetimeMs(undefined, 0.5), WELL_KNOWN_DEFAULT_MS);
    assert.equal(answerLifetimeMs(undefined, 0), WELL_KNOWN_DEFAULT_MS * 0.9);
    assert.ok(answerLifetimeMs(undefined, 0.9999) < WELL_KNOWN_DEFAULT_MS * 1.1);
  });

  it('caches a failure an hour, 2 minutes right after a valid answer', () => {
    assert.equal(failureLifetimeMs(false, 0.5), HOUR);
    assert.equal(failureLifetimeMs(true, 0.5), 2 * 60_000);
    assert.equal(failureLifetimeMs(false, 0), 0.9 * HOUR);
  });

  it('refreshes in the last fifth of a lifetime; a delegation outlives a temporary failure until it expires', () => {
    const entry = { delegated: 'a.org', fetchedAtMs: 0, expiresAtMs: 10 * HOUR };
    assert.equal(isFresh(entry, 7.9 * HOUR), true);
    assert.equal(isFresh(entry, 8 * HOUR), false);
    assert.equal(isUsableAfterFailure(entry, 9 * HOUR), true);
    assert.equal(isUsableAfterFailure(entry, 10 * HOUR), false);
    assert.equal(isUsableAfterFailure({ ...entry, delegated: undefined }, HOUR), false);
    assert.equal(isUsableAfterFailure(undefined, HOUR), false);
  });
});
