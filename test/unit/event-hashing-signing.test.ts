import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  addContentHash,
  contentHash,
  eventIdFor,
  referenceHash,
  roomIdFor,
} from '../../src/events/hashing.js';
import type { JsonObject, Pdu } from '../../src/events/pdu.js';
import {
  hashAndSignEvent,
  signEvent,
  signingKeyFromSeed,
  signJson,
  verifyEventSignature,
  verifyJsonSignature,
} from '../../src/events/signing.js';
import { roomVersion } from '../../src/events/room-versions.js';

const V10 = roomVersion('10');
const V11 = roomVersion('11');
const V12 = roomVersion('12');

// The spec appendix's "Cryptographic Test Vectors" key.
const KEY = signingKeyFromSeed('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1', 'ed25519:1');
const SERVER = 'domain';

/** Event IDs of room versions 4+: `$` + 43 characters of unpadded URL-safe base64 (32 bytes). */
const EVENT_ID = /^\$[A-Za-z0-9_-]{43}$/;

function pdu(overrides: Partial<Pdu> = {}): Pdu {
  return {
    type: 'm.room.message',
    room_id: '!r:domain',
    sender: '@u:domain',
    origin_server_ts: 1000,
    content: { body: 'hello', msgtype: 'm.text' },
    prev_events: ['$prev'],
    auth_events: ['$auth'],
    depth: 2,
    hashes: { sha256: '' },
    signatures: {},
    ...overrides,
  };
}

describe('JSON signing: the spec test vectors', () => {
  it('signs the empty object', () => {
    assert.deepEqual(signJson({}, SERVER, KEY), {
      signatures: {
        domain: {
          'ed25519:1':
            'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ',
        },
      },
    });
  });

  it('signs the object with data values', () => {
    assert.deepEqual(signJson({ one: 1, two: 'Two' }, SERVER, KEY), {
      one: 1,
      signatures: {
        domain: {
          'ed25519:1':
            'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw',
        },
      },
      two: 'Two',
    });
  });
});

describe('JSON signing: rules', () => {
  it('does not cover signatures and unsigned, keeps both, and keeps other signatures', () => {
    const input = {
      one: 1,
      two: 'Two',
      unsigned: { age_ts: 5 },
      signatures: { other: { 'ed25519:x': 'sig' }, domain: { 'ed25519:0': 'old' } },
    };
    const signed = signJson(input, SERVER, KEY);
    assert.equal(
      signed.signatures.domain?.['ed25519:1'],
      'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw',
    );
    assert.equal(signed.signatures.domain?.['ed25519:0'], 'old');
    assert.deepEqual(signed.signatures.other, { 'ed25519:x': 'sig' });
    assert.deepEqual(signed.unsigned, { age_ts: 5 });
    // The input is left as it was.
    assert.deepEqual(input.signatures.domain, { 'ed25519:0': 'old' });
  });

  it('verifies its own signatures, and only with the right server, key and data', () => {
    const signed = signJson({ one: 1, unsigned: { a: 1 } }, SERVER, KEY);
    const verifyWith = (object: JsonObject, server = SERVER, keyId = KEY.keyId) =>
      verifyJsonSignature(object, server, keyId, KEY.publicKeyBase64);
    assert.equal(verifyWith(signed), true);
    assert.equal(verifyWith({ ...signed, unsigned: { a: 2 } }), true);
    assert.equal(verifyWith({ ...signed, one: 2 }), false);
    assert.equal(verifyWith(signed, 'other'), false);
    assert.equal(verifyWith(signed, SERVER, 'ed25519:2'), false);
    const otherKey = signingKeyFromSeed(Buffer.alloc(32, 7).toString('base64'), 'ed25519:1');
    assert.equal(verifyJsonSignature(signed, SERVER, 'ed25519:1', otherKey.publicKeyBase64), false);
  });

  it('treats malformed signatures, keys and unknown algorithms as not signed', () => {
    const signed = signJson({ one: 1 }, SERVER, KEY);
    const signature = signed.signatures.domain?.['ed25519:1'] ?? '';
    const withSignature = (value: unknown) =>
      ({ one: 1, signatures: { domain: { 'ed25519:1': value } } }) as JsonObject;
    const check = (object: JsonObject, key = KEY.publicKeyBase64, keyId = 'ed25519:1') =>
      verifyJsonSignature(object, SERVER, keyId, key);
    assert.equal(check(withSignature(signature + '==')), true, 'padded base64 is accepted');
    assert.equal(check(withSignature(signature.slice(0, -2))), false);
    assert.equal(check(withSignature('!' + signature.slice(1))), false);
    // Buffer.from would skip these characters and decode the valid signature.
    assert.equal(check(withSignature(signature.slice(0, 10) + '*' + signature.slice(10))), false);
    assert.equal(check(withSignature(signature.slice(0, 10) + ' ' + signature.slice(10))), false);
    assert.equal(check(withSignature(42)), false);
    assert.equal(check({ one: 1 }), false);
    assert.equal(check({ one: 1, signatures: 'x' }), false);
    assert.equal(check(signed, 'not*base64'), false);
    assert.equal(check(signed, KEY.publicKeyBase64.slice(0, 20)), false);
    assert.equal(
      check(
        { one: 1, signatures: { domain: { 'curve25519:1': signature } } },
        undefined,
        'curve25519:1',
      ),
      false,
    );
  });
});

describe('event hashing and signing: the spec test vectors (room version 10 redaction)', () => {
  it('hashes and signs the minimal event', () => {
    const event = {
      room_id: '!x:domain',
      sender: '@a:domain',
      origin: 'domain',
      origin_server_ts: 1000000,
      signatures: {},
      hashes: {},
      type: 'X',
      content: {},
      prev_events: [],
      auth_events: [],
      depth: 3,
      unsigned: { age_ts: 1000000 },
    };
    assert.deepEqual(hashAndSignEvent(event, SERVER, KEY, V10), {
      auth_events: [],
      content: {},
      depth: 3,
      hashes: { sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' },
      origin: 'domain',
      origin_server_ts: 1000000,
      prev_events: [],
      room_id: '!x:domain',
      sender: '@a:domain',
      signatures: {
        domain: {
          'ed25519:1':
            'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg',
        },
      },
      type: 'X',
      unsigned: { age_ts: 1000000 },
    });
  });

  it('hashes the full content but signs the redacted event', () => {
    const event = {
      content: { body: 'Here is the message content' },
      event_id: '$0:domain',
      origin: 'domain',
      origin_server_ts: 1000000,
      type: 'm.room.message',
      room_id: '!r:domain',
      sender: '@u:domain',
      signatures: {},
      unsigned: { age_ts: 1000000 },
    };
    const signed = hashAndSignEvent(event, SERVER, KEY, V10);
    assert.deepEqual(signed, {
      ...event,
      hashes: { sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g' },
      signatures: {
        domain: {
          'ed25519:1':
            'Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA',
        },
      },
    });
    // The signature still holds once the body is redacted away, but not if kept data changes.
    const redacted = { ...signed, content: {} };
    assert.equal(
      verifyEventSignature(redacted, SERVER, 'ed25519:1', KEY.publicKeyBase64, V10),
      true,
    );
    const moved = { ...signed, origin_server_ts: 1 };
    assert.equal(verifyEventSignature(moved, SERVER, 'ed25519:1', KEY.publicKeyBase64, V10), false);
  });

  it('signs a different redacted form from v11 on, where origin is not kept', () => {
    const event = { type: 'X', origin: 'domain', content: {}, signatures: {} };
    const v10 = signEvent(event, SERVER, KEY, V10).signatures.domain?.['ed25519:1'];
    const v11 = signEvent(event, SERVER, KEY, V11).signatures.domain?.['ed25519:1'];
    assert.notEqual(v10, v11);
    const changedOrigin = { ...signEvent(event, SERVER, KEY, V11), origin: 'elsewhere' };
    assert.equal(
      verifyEventSignature(changedOrigin, SERVER, 'ed25519:1', KEY.publicKeyBase64, V11),
      true,
    );
  });
});

describe('content hash', () => {
  it('ignores unsigned, signatures and existing hashes', () => {
    const base = pdu();
    const hash = contentHash(base);
    assert.match(hash, /^[A-Za-z0-9+/]{43}$/);
    assert.equal(
      contentHash({ ...base, unsigned: { age: 1 }, signatures: { x: { 'ed25519:1': 's' } } }),
      hash,
    );
    assert.equal(contentHash({ ...base, hashes: { sha256: 'other' } }), hash);
  });

  it('covers content that redaction removes', () => {
    assert.notEqual(contentHash(pdu({ content: { body: 'other' } })), contentHash(pdu()));
  });

  it('addContentHash sets hashes.sha256 without changing the input', () => {
    const input = pdu();
    const hashed = addContentHash(input);
    assert.equal(hashed.hashes.sha256, contentHash(input));
    assert.equal(input.hashes.sha256, '');
  });
});

describe('reference hash and event IDs', () => {
  it('event IDs are $ + unpadded URL-safe base64 of the 32-byte reference hash', () => {
    const event = addContentHash(pdu());
    const eventId = eventIdFor(event, V11);
    assert.match(eventId, EVENT_ID);
    assert.equal(eventId, '$' + referenceHash(event, V11).toString('base64url'));
    assert.equal(referenceHash(event, V11).length, 32);
  });

  it('are deterministic, and independent of key order, signatures, unsigned and age_ts', () => {
    const event = addContentHash(pdu());
    const reordered = Object.fromEntries(Object.entries(event).reverse()) as Pdu;
    const decorated = { ...signJson(event, SERVER, KEY), unsigned: { age: 9 }, age_ts: 3 };
    const id = eventIdFor(event, V11);
    assert.equal(eventIdFor(event, V11), id);
    assert.equal(eventIdFor(reordered, V11), id);
    assert.equal(eventIdFor(decorated, V11), id);
  });

  it('do not change when redactable content changes, but do when the hash or kept data does', () => {
    const event = addContentHash(pdu());
    const id = eventIdFor(event, V11);
    assert.equal(eventIdFor({ ...event, content: {} }, V11), id);
    assert.notEqual(eventIdFor(addContentHash(pdu({ content: { body: 'x' } })), V11), id);
    assert.notEqual(eventIdFor({ ...event, depth: 3 }, V11), id);
  });

  it('depend on the redaction algorithm of the room version', () => {
    const event = { ...addContentHash(pdu()), origin: 'domain' };
    assert.notEqual(eventIdFor(event, V10), eventIdFor(event, V11));
    assert.equal(eventIdFor(event, V11), eventIdFor(event, V12));
  });

  it('match a reference hash computed by hand from the redacted canonical JSON', () => {
    const event = {
      type: 'X',
      content: { body: 'dropped' },
      hashes: { sha256: 'h' },
      unsigned: {},
    };
    // Redacted (v11): {"content":{},"hashes":{"sha256":"h"},"type":"X"}.
    const expected = createHashOf('{"content":{},"hashes":{"sha256":"h"},"type":"X"}');
    assert.equal(eventIdFor(event, V11), '$' + expected);
  });
});

describe('room IDs of room version 12', () => {
  const create = (): Pdu => {
    const event = pdu({ type: 'm.room.create', state_key: '', content: { room_version: '12' } });
    delete event.room_id;
    return addContentHash({ ...event, prev_events: [], auth_events: [], depth: 1 });
  };

  it('are the create event ID with the ! sigil', () => {
    const roomId = roomIdFor(create(), V12);
    assert.match(roomId, /^![A-Za-z0-9_-]{43}$/);
    assert.equal(roomId, '!' + eventIdFor(create(), V12).slice(1));
  });

  it('are refused for versions that do not derive them, and for other event types', () => {
    assert.throws(() => roomIdFor(create(), V11));
    assert.throws(() => roomIdFor({ ...create(), type: 'm.room.member' }, V12));
  });
});

function createHashOf(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64url');
}
