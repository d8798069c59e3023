import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  STREAM_NAMES,
  encodeSyncToken,
  isAfter,
  maxPositions,
  parseSyncToken,
  parseSyncTokenWithVersions,
  samePositions,
  zeroPositions,
  type StreamPositions,
} from '../../src/sync/stream-token.js';

/** Distinct positions per stream, so a swapped order cannot go unnoticed. */
function samplePositions(): StreamPositions {
  const positions = { ...zeroPositions() };
  STREAM_NAMES.forEach((stream, index) => (positions[stream] = (index + 1) * 11));
  return positions;
}

const invalidParam = { status: 400, errcode: 'M_INVALID_PARAM' };

describe('sync tokens', () => {
  it('round-trip every stream position, in a short URL-safe string', () => {
    const positions = samplePositions();
    const token = encodeSyncToken(positions);
    assert.deepEqual(parseSyncToken(token), positions);
    assert.match(token, /^[A-Za-z0-9_.~-]+$/);
    assert.equal(encodeURIComponent(token), token);
    assert.ok(token.length < 64, token);
  });

  it('round-trip zero and the largest safe integer', () => {
    const positions = { ...zeroPositions(), roomEvents: Number.MAX_SAFE_INTEGER };
    assert.deepEqual(parseSyncToken(encodeSyncToken(positions)), positions);
    assert.deepEqual(parseSyncToken(encodeSyncToken(zeroPositions())), zeroPositions());
  });

  it('refuse to encode a position the server should never have', () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) {
      assert.throws(() => encodeSyncToken({ ...zeroPositions(), typing: bad }), /typing/);
    }
  });

  it('answer every malformed token with 400 M_INVALID_PARAM', () => {
    const good = encodeSyncToken(samplePositions());
    const parts = good.split('_');
    const tooBig = parts.map((part, i) => (i === 1 ? '9007199254740993' : part)).join('_');
    const malformed: unknown[] = [
      '',
      'garbage',
      's',
      's1',
      's1_',
      `${good}_5`, // too many parts
      parts.slice(0, -1).join('_'), // too few parts
      good.replace('s1_', 's0_'),
      good.replace('s1_', 's2_'), // a version this server does not know
      good.replace('s1_', 'S1_'),
      good.replace('s1_', 't1_'),
      good.replace('_11_', '_-11_'), // negative
      good.replace('_11_', '_1.5_'), // not an integer
      good.replace('_11_', '_1e3_'),
      good.replace('_11_', '_011_'), // not canonical
      good.replace('_11_', '_+11_'),
      good.replace('_11_', '__'),
      good.replace('_11_', '_ 11_'),
      good.replace('_11_', '_0x1_'),
      tooBig, // beyond 2^53
      good.replace('_11_', `_${'9'.repeat(40)}_`),
      `${good} `,
      `${good}\n`,
      'x'.repeat(10_000),
      undefined,
      null,
      42,
      [good, good], // a repeated query parameter
    ];
    for (const token of malformed) {
      assert.throws(() => parseSyncToken(token), invalidParam, String(token));
    }
  });

  it('read a token of an older format with fewer streams, the new ones at 0', () => {
    const versions = { 1: 6, 2: STREAM_NAMES.length };
    const parsed = parseSyncTokenWithVersions('s1_1_2_3_4_5_6', versions);
    assert.deepEqual(parsed, {
      roomEvents: 1,
      accountData: 2,
      receipts: 3,
      typing: 4,
      presence: 5,
      toDevice: 6,
      deviceLists: 0,
      invites: 0,
    });
    // The old version still needs exactly its own number of parts.
    assert.throws(() => parseSyncTokenWithVersions('s1_1_2_3_4_5', versions), invalidParam);
    assert.throws(() => parseSyncTokenWithVersions('s1_1_2_3_4_5_6_7_8', versions), invalidParam);
  });

  it('refuse a version table claiming more streams than exist', () => {
    const tooMany =
      's1_' +
      Array(STREAM_NAMES.length + 1)
        .fill('0')
        .join('_');
    const versions = { 1: STREAM_NAMES.length + 1 };
    assert.throws(() => parseSyncTokenWithVersions(tooMany, versions), invalidParam);
  });
});

describe('stream positions', () => {
  it('maxPositions takes the later position of each stream', () => {
    const a = { ...zeroPositions(), roomEvents: 5, typing: 1 };
    const b = { ...zeroPositions(), roomEvents: 3, typing: 9, invites: 2 };
    assert.deepEqual(maxPositions(a, b), {
      ...zeroPositions(),
      roomEvents: 5,
      typing: 9,
      invites: 2,
    });
  });

  it('isAfter is true when any one stream is beyond, and not for equal positions', () => {
    const base = samplePositions();
    assert.equal(isAfter(base, base), false);
    for (const stream of STREAM_NAMES) {
      assert.equal(isAfter({ ...base, [stream]: base[stream] + 1 }, base), true, stream);
      assert.equal(isAfter({ ...base, [stream]: base[stream] - 1 }, base), false, stream);
    }
  });

  it('samePositions compares every stream', () => {
    const base = samplePositions();
    assert.equal(samePositions(base, { ...base }), true);
    assert.equal(samePositions(base, { ...base, invites: 0 }), false);
  });
});
