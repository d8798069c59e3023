/** The pure rules of stored registration tokens and of the media Admin API's parameters. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  generateToken,
  isUsable,
  parseNewToken,
  parseTokenChanges,
  TOKEN_GRAMMAR,
} from '../../src/auth/registration-tokens.js';
import {
  parseBulkDelete,
  parseMxc,
  parseStatisticsQuery,
  splitRoomMedia,
} from '../../src/admin/admin-media-rules.js';
import { MatrixError } from '../../src/protocol/errors.js';

const invalid = (fn: () => unknown, errcode = 'M_INVALID_PARAM') =>
  assert.throws(fn, (err: unknown) => err instanceof MatrixError && err.errcode === errcode);

describe('registration token rules', () => {
  const base = { token: 't', usesAllowed: 2, pending: 0, completed: 0, expiryTime: null };

  it('counts pending uses against uses_allowed and stops at expiry', () => {
    assert.equal(isUsable(base, 0), true);
    assert.equal(isUsable({ ...base, pending: 1, completed: 1 }, 0), false);
    assert.equal(isUsable({ ...base, usesAllowed: null, completed: 99 }, 0), true);
    assert.equal(isUsable({ ...base, usesAllowed: 0 }, 0), false);
    assert.equal(isUsable({ ...base, expiryTime: 10 }, 9), true);
    assert.equal(isUsable({ ...base, expiryTime: 10 }, 10), false);
  });

  it('generates tokens of the grammar and the length asked', () => {
    for (const length of [1, 16, 64]) {
      const token = generateToken(length);
      assert.equal(token.length, length);
      assert.match(token, TOKEN_GRAMMAR);
    }
  });

  it('reads new-token bodies and changes, refusing bad values', () => {
    assert.deepEqual(parseNewToken({}, 0), { length: 16, usesAllowed: null, expiryTime: null });
    assert.deepEqual(parseNewToken({ token: 'a~b', length: 999, uses_allowed: 0 }, 0), {
      token: 'a~b',
      length: 16,
      usesAllowed: 0,
      expiryTime: null,
    });
    invalid(() => parseNewToken({ token: 'a/b' }, 0));
    invalid(() => parseNewToken({ length: 65 }, 0));
    invalid(() => parseNewToken({ expiry_time: 5 }, 10));
    assert.deepEqual(parseTokenChanges({ uses_allowed: null }, 0), { usesAllowed: null });
    assert.deepEqual(parseTokenChanges({}, 0), {});
    invalid(() => parseTokenChanges({ uses_allowed: -1 }, 0));
  });
});

describe('media admin rules', () => {
  it('splits MXC URIs by server, each once, ignoring what is not one', () => {
    assert.deepEqual(parseMxc('mxc://a.example/abc_-1'), {
      serverName: 'a.example',
      mediaId: 'abc_-1',
    });
    assert.equal(parseMxc('https://a.example/x'), undefined);
    assert.deepEqual(
      splitRoomMedia(['mxc://me/a', 'mxc://me/a', 'mxc://you/b', 'junk', 'mxc://me/c'], 'me'),
      { local: ['mxc://me/a', 'mxc://me/c'], remote: ['mxc://you/b'] },
    );
  });

  it('reads the bulk deletion and statistics parameters', () => {
    invalid(() => parseBulkDelete({}), 'M_MISSING_PARAM');
    assert.deepEqual(parseBulkDelete({ before_ts: '5' }), {
      beforeTs: 5,
      sizeGt: 0,
      keepProfiles: true,
    });
    assert.equal(parseBulkDelete({ before_ts: '5', keep_profiles: 'false' }).keepProfiles, false);
    const stats = parseStatisticsQuery({});
    assert.deepEqual(
      [stats.orderBy, stats.dir, stats.fromTs, stats.untilTs, stats.searchTerm],
      ['media_length', 'f', 0, null, null],
    );
    invalid(() => parseStatisticsQuery({ from_ts: '10', until_ts: '5' }));
    invalid(() => parseStatisticsQuery({ order_by: 'size' }));
  });
});
