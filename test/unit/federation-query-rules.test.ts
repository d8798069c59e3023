/**
 * The Server-Server queries' pure rules: the bodies other servers send us, and
 * what we keep of their answers (only their own users, entries that name the
 * owner they are filed under).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MatrixError } from '../../src/protocol/errors.js';
import {
  describeErrorAnswer,
  parseKeysClaimBody,
  parseKeysQueryBody,
  readClaimAnswer,
  readKeysQueryAnswer,
  readProfileAnswer,
  requireLocalUser,
} from '../../src/federation/query-rules.js';

const OURS = 'a.test';

function errcodeOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof MatrixError);
    return err.errcode;
  }
  assert.fail('expected a MatrixError');
}

describe('federation query bodies', () => {
  it('takes our users only', () => {
    requireLocalUser('@alice:a.test', OURS);
    assert.equal(
      errcodeOf(() => requireLocalUser('@bob:b.test', OURS)),
      'M_INVALID_PARAM',
    );
    assert.equal(
      errcodeOf(() => requireLocalUser('alice', OURS)),
      'M_INVALID_PARAM',
    );
  });

  it('reads /user/keys/query bodies', () => {
    assert.deepEqual(parseKeysQueryBody({ device_keys: { '@alice:a.test': ['D1'] } }, OURS), {
      '@alice:a.test': ['D1'],
    });
    assert.equal(
      errcodeOf(() => parseKeysQueryBody({}, OURS)),
      'M_MISSING_PARAM',
    );
    assert.equal(
      errcodeOf(() => parseKeysQueryBody([], OURS)),
      'M_BAD_JSON',
    );
    assert.equal(
      errcodeOf(() => parseKeysQueryBody({ device_keys: { '@alice:a.test': [1] } }, OURS)),
      'M_BAD_JSON',
    );
    assert.equal(
      errcodeOf(() => parseKeysQueryBody({ device_keys: { '@bob:b.test': [] } }, OURS)),
      'M_INVALID_PARAM',
    );
  });

  it('reads /user/keys/claim bodies', () => {
    const claims = { '@alice:a.test': { D1: 'signed_curve25519' } };
    assert.deepEqual(parseKeysClaimBody({ one_time_keys: claims }, OURS), claims);
    assert.equal(
      errcodeOf(() => parseKeysClaimBody({ one_time_keys: { '@alice:a.test': ['x'] } }, OURS)),
      'M_BAD_JSON',
    );
    assert.equal(
      errcodeOf(() => parseKeysClaimBody({ one_time_keys: { '@alice:a.test': { D1: 5 } } }, OURS)),
      'M_BAD_JSON',
    );
    assert.equal(
      errcodeOf(() => parseKeysClaimBody({ one_time_keys: { '@b:b.test': {} } }, OURS)),
      'M_INVALID_PARAM',
    );
  });
});

describe('federation query answers', () => {
  const device = (userId: string, deviceId: string) => ({
    user_id: userId,
    device_id: deviceId,
    algorithms: [],
    keys: {},
  });

  it('keeps the asked users’ devices that name their owner, and their cross-signing keys', () => {
    const answer = readKeysQueryAnswer(['@bob:b.test', '@carol:b.test'], {
      device_keys: {
        '@bob:b.test': {
          GOOD: device('@bob:b.test', 'GOOD'),
          // Filed under another device ID, or naming another user: left out.
          MISFILED: device('@bob:b.test', 'OTHER'),
          STOLEN: device('@eve:b.test', 'STOLEN'),
          BROKEN: 'not an object',
        },
        // Not asked about: left out.
        '@mallory:c.test': { X: device('@mallory:c.test', 'X') },
      },
      master_keys: {
        '@bob:b.test': { user_id: '@bob:b.test', usage: ['master'], keys: {} },
        '@mallory:c.test': { user_id: '@mallory:c.test', usage: ['master'], keys: {} },
      },
      self_signing_keys: {
        // The wrong usage: left out.
        '@bob:b.test': { user_id: '@bob:b.test', usage: ['user_signing'], keys: {} },
      },
    });
    assert.deepEqual([...answer.keys()], ['@bob:b.test']);
    const bob = answer.get('@bob:b.test')!;
    assert.deepEqual(Object.keys(bob.devices), ['GOOD']);
    assert.deepEqual(bob.master?.usage, ['master']);
    assert.equal(bob.selfSigning, undefined);
  });

  it('reads a malformed answer as no users', () => {
    assert.equal(readKeysQueryAnswer(['@bob:b.test'], 'nonsense').size, 0);
    assert.equal(readKeysQueryAnswer(['@bob:b.test'], { device_keys: [] }).size, 0);
  });

  it('keeps only the claimed (user, device) pairs', () => {
    const claimed = readClaimAnswer(
      { '@bob:b.test': { D1: 'signed_curve25519', D2: 'signed_curve25519' } },
      {
        one_time_keys: {
          '@bob:b.test': {
            D1: { 'signed_curve25519:AAA': { key: 'k', signatures: {} } },
            D2: {},
            D3: { 'signed_curve25519:BBB': { key: 'k', signatures: {} } },
          },
          '@eve:b.test': { E: { 'signed_curve25519:CCC': { key: 'k', signatures: {} } } },
        },
      },
    );
    assert.deepEqual(claimed, {
      '@bob:b.test': { D1: { 'signed_curve25519:AAA': { key: 'k', signatures: {} } } },
    });
    assert.deepEqual(readClaimAnswer({ '@bob:b.test': { D1: 'x' } }, null), {});
  });

  it('drops the nulls a profile answer may carry', () => {
    assert.deepEqual(readProfileAnswer({ displayname: 'Bob', avatar_url: null }), {
      displayname: 'Bob',
    });
    assert.equal(readProfileAnswer('Bob'), undefined);
    assert.equal(readProfileAnswer([]), undefined);
  });

  it('describes an error answer', () => {
    assert.equal(
      describeErrorAnswer('b.test', 403, { errcode: 'M_FORBIDDEN', error: 'No' }),
      'b.test answered 403: No',
    );
    assert.equal(describeErrorAnswer('b.test', 500, undefined), 'b.test answered 500');
  });
});
