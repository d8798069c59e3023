import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../src/events/pdu.js';
import { signingKeyFromSeed, signJson, verifyJsonSignature } from '../../src/events/signing.js';
import {
  MAX_KEY_TRUST_MS,
  checkKeyResponse,
  freshForNotary,
  keyTrustedUntil,
  keyValidAt,
  notarySigned,
  ownDocumentDue,
  ownKeyDocument,
  parseMinimumValidUntil,
  parseNotaryQueryBody,
} from '../../src/federation/key-rules.js';
import { MatrixError } from '../../src/protocol/errors.js';

const SERVER = 'remote.example';
const KEY1 = signingKeyFromSeed(Buffer.alloc(32, 1).toString('base64'), 'ed25519:k1');
const KEY2 = signingKeyFromSeed(Buffer.alloc(32, 2).toString('base64'), 'ed25519:k2');
const NOTARY_KEY = signingKeyFromSeed(Buffer.alloc(32, 3).toString('base64'), 'ed25519:n');
const OLD_PUBLIC = signingKeyFromSeed(Buffer.alloc(32, 4).toString('base64'), 'x').publicKeyBase64;

function unsignedResponse(overrides: JsonObject = {}): JsonObject {
  return {
    server_name: SERVER,
    valid_until_ts: 5_000_000,
    verify_keys: { 'ed25519:k1': { key: KEY1.publicKeyBase64 } },
    old_verify_keys: { 'ed25519:old': { key: OLD_PUBLIC, expired_ts: 1_000 } },
    ...overrides,
  };
}

const signed = (object: JsonObject, ...keys: (typeof KEY1)[]) =>
  keys.reduce<JsonObject>((acc, key) => signJson(acc, SERVER, key) as JsonObject, object);

function reason(result: ReturnType<typeof checkKeyResponse>): string {
  assert.equal(result.ok, false);
  return (result as { reason: string }).reason;
}

function badJson(fn: () => unknown, errcode = 'M_BAD_JSON'): void {
  assert.throws(fn, (err: unknown) => err instanceof MatrixError && err.errcode === errcode);
}

describe('checkKeyResponse', () => {
  it('takes a response signed by its verify key, with its old keys', () => {
    const response = signed(unsignedResponse(), KEY1);
    const result = checkKeyResponse(response, SERVER);
    assert.ok(result.ok);
    assert.equal(result.checked.validUntilTs, 5_000_000);
    assert.deepEqual(result.checked.keys, [
      { keyId: 'ed25519:k1', publicKey: KEY1.publicKeyBase64, expiredTs: null },
      { keyId: 'ed25519:old', publicKey: OLD_PUBLIC, expiredTs: 1_000 },
    ]);
    assert.equal(result.checked.response, response);
  });

  it('needs every verify key to have signed it', () => {
    const two = unsignedResponse({
      verify_keys: {
        'ed25519:k1': { key: KEY1.publicKeyBase64 },
        'ed25519:k2': { key: KEY2.publicKeyBase64 },
      },
    });
    assert.ok(checkKeyResponse(signed(two, KEY1, KEY2), SERVER).ok);
    assert.match(reason(checkKeyResponse(signed(two, KEY1), SERVER)), /ed25519:k2/);
  });

  it('refuses a response tampered with after signing', () => {
    const response = { ...signed(unsignedResponse(), KEY1), valid_until_ts: 9_000_000 };
    assert.match(reason(checkKeyResponse(response, SERVER)), /not signed/);
  });

  it('refuses a response signed by another key than it lists', () => {
    const response = signed(unsignedResponse(), KEY2);
    assert.match(reason(checkKeyResponse(response, SERVER)), /not signed/);
  });

  it('refuses another server name, a missing valid_until_ts and broken keys', () => {
    assert.match(
      reason(checkKeyResponse(signed(unsignedResponse(), KEY1), 'x.example')),
      /server_name/,
    );
    const noValidity = unsignedResponse();
    delete noValidity.valid_until_ts;
    assert.match(reason(checkKeyResponse(signed(noValidity, KEY1), SERVER)), /valid_until_ts/);
    const floatValidity = unsignedResponse({ valid_until_ts: 1.5 });
    assert.match(reason(checkKeyResponse(floatValidity, SERVER)), /valid_until_ts/);
    const noKey = unsignedResponse({ verify_keys: { 'ed25519:k1': {} } });
    assert.match(reason(checkKeyResponse(signed(noKey, KEY1), SERVER)), /has no key/);
    const noExpiry = unsignedResponse({ old_verify_keys: { 'ed25519:old': { key: OLD_PUBLIC } } });
    assert.match(reason(checkKeyResponse(signed(noExpiry, KEY1), SERVER)), /expired_ts/);
    assert.match(reason(checkKeyResponse('text', SERVER)), /not a JSON object/);
    assert.match(reason(checkKeyResponse(null, SERVER)), /not a JSON object/);
  });

  it('leaves other algorithms out, and needs one ed25519 key', () => {
    const mixed = unsignedResponse({
      verify_keys: {
        'ed25519:k1': { key: KEY1.publicKeyBase64 },
        'curve9:x': { key: 'abc' },
      },
    });
    const result = checkKeyResponse(signed(mixed, KEY1), SERVER);
    assert.ok(result.ok);
    assert.deepEqual(
      result.checked.keys.map((key) => key.keyId),
      ['ed25519:k1', 'ed25519:old'],
    );
    const none = unsignedResponse({ verify_keys: { 'curve9:x': { key: 'abc' } } });
    assert.match(reason(checkKeyResponse(none, SERVER)), /no ed25519 key/);
  });

  it('counts a key in both lists as current', () => {
    const both = unsignedResponse({
      old_verify_keys: { 'ed25519:k1': { key: KEY1.publicKeyBase64, expired_ts: 10 } },
    });
    const result = checkKeyResponse(signed(both, KEY1), SERVER);
    assert.ok(result.ok);
    assert.deepEqual(result.checked.keys, [
      { keyId: 'ed25519:k1', publicKey: KEY1.publicKeyBase64, expiredTs: null },
    ]);
  });

  it('treats a response with no canonical form as unsigned', () => {
    const floats = { ...signed(unsignedResponse(), KEY1), extra: 0.5 };
    assert.match(reason(checkKeyResponse(floats, SERVER)), /not signed/);
  });
});

describe('key validity', () => {
  it('trusts a current key until valid_until_ts, 7 days after its fetch at most', () => {
    const soon = { validUntilTs: 10_000, expiredTs: null, fetchedTs: 5_000 };
    assert.equal(keyTrustedUntil(soon), 10_000);
    assert.equal(keyValidAt(soon, 10_000), true);
    assert.equal(keyValidAt(soon, 10_001), false);
    const forever = { validUntilTs: Number.MAX_SAFE_INTEGER, expiredTs: null, fetchedTs: 5_000 };
    assert.equal(keyTrustedUntil(forever), 5_000 + MAX_KEY_TRUST_MS);
  });

  it('trusts an old key until its expired_ts, whatever the response says', () => {
    const old = { validUntilTs: 90_000, expiredTs: 2_000, fetchedTs: 5_000 };
    assert.equal(keyTrustedUntil(old), 2_000);
    assert.equal(keyValidAt(old, 1_999), true);
    assert.equal(keyValidAt(old, 2_001), false);
  });

  it('serves a stored key as a notary while its response is valid long enough', () => {
    const current = { validUntilTs: 10_000, expiredTs: null, fetchedTs: 0 };
    assert.equal(freshForNotary(current, 10_000), true);
    assert.equal(freshForNotary(current, 10_001), false);
    assert.equal(freshForNotary({ ...current, expiredTs: 5 }, 10_001), true);
  });
});

describe('ownKeyDocument', () => {
  it('lists our key and old keys, valid until the given time, signed by our key', () => {
    const document = ownKeyDocument({
      serverName: 'us.example',
      signingKey: KEY1,
      oldKeys: [
        { key_id: 'ed25519:old', key: OLD_PUBLIC, expired_ts: 1234 },
        // Our current key among the old ones (a config mistake) is not listed twice.
        { key_id: 'ed25519:k1', key: KEY1.publicKeyBase64, expired_ts: 1 },
      ],
      validUntilTs: 99_999,
    });
    assert.equal(document.server_name, 'us.example');
    assert.equal(document.valid_until_ts, 99_999);
    assert.deepEqual(document.verify_keys, { 'ed25519:k1': { key: KEY1.publicKeyBase64 } });
    assert.deepEqual(document.old_verify_keys, {
      'ed25519:old': { key: OLD_PUBLIC, expired_ts: 1234 },
    });
    assert.equal(
      verifyJsonSignature(document, 'us.example', 'ed25519:k1', KEY1.publicKeyBase64),
      true,
    );
    assert.ok(checkKeyResponse(document, 'us.example').ok);
  });

  it('is made again once less than half its validity is left', () => {
    assert.equal(ownDocumentDue(1_000, 1_000, 0), false);
    assert.equal(ownDocumentDue(1_000, 1_000, 500), false);
    assert.equal(ownDocumentDue(1_000, 1_000, 501), true);
  });
});

describe('notarySigned', () => {
  const response = signJson(signed(unsignedResponse(), KEY1), 'notary.example', NOTARY_KEY);
  it('needs a signature by a configured key of the notary', () => {
    assert.equal(
      notarySigned(response, 'notary.example', { 'ed25519:n': NOTARY_KEY.publicKeyBase64 }),
      true,
    );
    assert.equal(
      notarySigned(response, 'notary.example', { 'ed25519:n': KEY2.publicKeyBase64 }),
      false,
    );
    assert.equal(
      notarySigned(response, 'other.example', { 'ed25519:n': NOTARY_KEY.publicKeyBase64 }),
      false,
    );
  });

  it('trusts a notary configured without keys', () => {
    assert.equal(notarySigned(response, 'notary.example', undefined), true);
  });
});

describe('notary queries', () => {
  const NOW = 1_000_000;

  it('reads server_keys, a server minimum being the largest asked (now when one is not)', () => {
    assert.deepEqual(
      parseNotaryQueryBody(
        {
          server_keys: {
            'a.example': { 'ed25519:1': { minimum_valid_until_ts: 2_000_000 } },
            'b.example': {},
            'c.example': {
              'ed25519:1': { minimum_valid_until_ts: 5 },
              'ed25519:2': { minimum_valid_until_ts: 7 },
            },
            'd.example': { 'ed25519:1': { minimum_valid_until_ts: 5 }, 'ed25519:2': {} },
          },
        },
        NOW,
      ),
      [
        { serverName: 'a.example', keyIds: ['ed25519:1'], minimumValidUntilTs: 2_000_000 },
        { serverName: 'b.example', keyIds: [], minimumValidUntilTs: NOW },
        { serverName: 'c.example', keyIds: ['ed25519:1', 'ed25519:2'], minimumValidUntilTs: 7 },
        { serverName: 'd.example', keyIds: ['ed25519:1', 'ed25519:2'], minimumValidUntilTs: NOW },
      ],
    );
    assert.deepEqual(parseNotaryQueryBody({ server_keys: {} }, NOW), []);
  });

  it('refuses malformed bodies with Matrix errors', () => {
    badJson(() => parseNotaryQueryBody(undefined, NOW), 'M_NOT_JSON');
    badJson(() => parseNotaryQueryBody([], NOW), 'M_NOT_JSON');
    badJson(() => parseNotaryQueryBody({}, NOW), 'M_MISSING_PARAM');
    badJson(() => parseNotaryQueryBody({ server_keys: [] }, NOW));
    badJson(() => parseNotaryQueryBody({ server_keys: { a: 1 } }, NOW));
    badJson(() => parseNotaryQueryBody({ server_keys: { a: { k: 'x' } } }, NOW));
    badJson(() =>
      parseNotaryQueryBody({ server_keys: { a: { k: { minimum_valid_until_ts: '1' } } } }, NOW),
    );
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`s${i}.example`, {}]));
    badJson(() => parseNotaryQueryBody({ server_keys: many }, NOW), 'M_INVALID_PARAM');
  });

  it('reads the GET form minimum_valid_until_ts', () => {
    assert.equal(parseMinimumValidUntil(undefined, NOW), NOW);
    assert.equal(parseMinimumValidUntil('1234', NOW), 1234);
    badJson(() => parseMinimumValidUntil('soon', NOW), 'M_INVALID_PARAM');
    badJson(() => parseMinimumValidUntil('99999999999999999', NOW), 'M_INVALID_PARAM');
  });
});
