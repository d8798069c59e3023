/** The pure E2EE rules: key forms, identity changes, the better backup key. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkCrossSigningKey,
  checkDeviceKeys,
  checkSameIdentity,
  isBetterBackupKey,
  lastPerAlgorithm,
  parseKeyMap,
} from '../../src/e2ee/key-rules.js';
import { MatrixError } from '../../src/protocol/errors.js';
import type { BackupKeyRecord } from '../../src/storage/storage.js';

const errcode = (errcodeWanted: string) => (err: unknown) =>
  err instanceof MatrixError && err.errcode === errcodeWanted;

const device = {
  user_id: '@a:x',
  device_id: 'D',
  algorithms: ['m.olm.v1.curve25519-aes-sha2'],
  keys: { 'ed25519:D': 'edkey', 'curve25519:D': 'curvekey' },
  signatures: { '@a:x': { 'ed25519:D': 'sig' } },
};

describe('E2EE key rules', () => {
  it('accepts the caller’s own device keys, in canonical JSON', () => {
    assert.equal(checkDeviceKeys(device, '@a:x', 'D'), JSON.stringify(sortKeys(device)));
    assert.throws(() => checkDeviceKeys(device, '@b:x', 'D'), errcode('M_INVALID_PARAM'));
    assert.throws(() => checkDeviceKeys(device, '@a:x', 'E'), errcode('M_INVALID_PARAM'));
    assert.throws(
      () => checkDeviceKeys({ ...device, keys: { k: 1 } }, '@a:x', 'D'),
      errcode('M_BAD_JSON'),
    );
  });

  it('lets signatures change but not identity keys', () => {
    const stored = checkDeviceKeys(device, '@a:x', 'D');
    const resigned = { ...device, signatures: { '@a:x': { 'ed25519:D': 'other' } } };
    checkSameIdentity(stored, checkDeviceKeys(resigned, '@a:x', 'D'));
    const swapped = { ...device, keys: { ...device.keys, 'curve25519:D': 'new' } };
    assert.throws(
      () => checkSameIdentity(stored, checkDeviceKeys(swapped, '@a:x', 'D')),
      errcode('M_INVALID_PARAM'),
    );
  });

  it('splits key IDs into algorithm and ID, keeping the last fallback key per algorithm', () => {
    const keys = parseKeyMap({ 'alg:ONE': { key: 'a' }, 'alg:TWO': 'b', 'other:X': 'c' }, 'f');
    assert.deepEqual(
      keys.map((k) => [k.algorithm, k.keyId, k.keyJson]),
      [
        ['alg', 'ONE', '{"key":"a"}'],
        ['alg', 'TWO', '"b"'],
        ['other', 'X', '"c"'],
      ],
    );
    assert.deepEqual(
      lastPerAlgorithm(keys).map((k) => k.keyId),
      ['TWO', 'X'],
    );
    assert.throws(() => parseKeyMap({ nocolon: 'a' }, 'f'), errcode('M_BAD_JSON'));
    assert.throws(() => parseKeyMap({ 'alg:': 'a' }, 'f'), errcode('M_BAD_JSON'));
    assert.throws(() => parseKeyMap({ 'alg:A': 5 }, 'f'), errcode('M_BAD_JSON'));
  });

  it('checks cross-signing keys: owner, usage, one ed25519 key named by itself', () => {
    const key = { user_id: '@a:x', usage: ['master'], keys: { 'ed25519:PUB': 'PUB' } };
    assert.equal(checkCrossSigningKey(key, 'master', '@a:x'), key);
    assert.throws(
      () => checkCrossSigningKey(key, 'self_signing', '@a:x'),
      errcode('M_INVALID_PARAM'),
    );
    assert.throws(() => checkCrossSigningKey(key, 'master', '@b:x'), errcode('M_INVALID_PARAM'));
    const misnamed = { ...key, keys: { 'ed25519:OTHER': 'PUB' } };
    assert.throws(
      () => checkCrossSigningKey(misnamed, 'master', '@a:x'),
      errcode('M_INVALID_PARAM'),
    );
    const two = { ...key, keys: { 'ed25519:PUB': 'PUB', 'ed25519:P2': 'P2' } };
    assert.throws(() => checkCrossSigningKey(two, 'master', '@a:x'), errcode('M_INVALID_PARAM'));
  });

  it('ranks backup keys: verified, then lower first index, then fewer forwards; ties keep the stored one', () => {
    const key = (isVerified: boolean, firstMessageIndex: number, forwardedCount: number) =>
      ({ isVerified, firstMessageIndex, forwardedCount }) as BackupKeyRecord;
    assert.equal(isBetterBackupKey(key(true, 9, 9), key(false, 0, 0)), true);
    assert.equal(isBetterBackupKey(key(false, 0, 0), key(true, 9, 9)), false);
    assert.equal(isBetterBackupKey(key(false, 1, 9), key(false, 2, 0)), true);
    assert.equal(isBetterBackupKey(key(false, 3, 0), key(false, 2, 9)), false);
    assert.equal(isBetterBackupKey(key(false, 2, 0), key(false, 2, 1)), true);
    assert.equal(isBetterBackupKey(key(false, 2, 1), key(false, 2, 1)), false);
  });
});

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => [k, sortKeys(v)]),
  );
}
