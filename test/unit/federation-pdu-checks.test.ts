/** The PDU checks on receipt that need no storage: format, event ID, signatures, content hash. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventIdFor, roomIdFor } from '../../src/events/hashing.js';
import type { JsonObject, Pdu } from '../../src/events/pdu.js';
import { redactEvent } from '../../src/events/redaction.js';
import { roomVersion } from '../../src/events/room-versions.js';
import { hashAndSignEvent, signJson, signingKeyFromSeed } from '../../src/events/signing.js';
import {
  checkContentHash,
  checkPduFormat,
  checkSignatures,
  requiredSigners,
  signedByAnyKey,
} from '../../src/federation/pdu-checks.js';
import { buildEvent, knownKey, LOCAL, REMOTE, REMOTE_KEY } from '../support/federation-events.js';

const V10 = roomVersion('10');
const V11 = roomVersion('11');
const V12 = roomVersion('12');
const ROOM = '!room:remote.example';
const ALICE = '@alice:remote.example';

/** A message signed by remote.example after the overrides are applied. */
function message(overrides: Partial<Pdu> = {}, version = V11): Pdu {
  const base: Pdu = {
    type: 'm.room.message',
    room_id: ROOM,
    sender: ALICE,
    origin_server_ts: 1_700_000_000_000,
    content: { msgtype: 'm.text', body: 'hello' },
    prev_events: ['$prev'],
    auth_events: ['$auth'],
    depth: 3,
    hashes: { sha256: '' },
    signatures: {},
    ...overrides,
  };
  return hashAndSignEvent(base, REMOTE, REMOTE_KEY, version) as Pdu;
}

function reason(json: unknown, version = V11, room?: string): string {
  const result = checkPduFormat(json, version, room);
  assert.equal(result.ok, false, 'expected the format check to fail');
  return result.ok ? '' : result.reason;
}

describe('PDU format', () => {
  it('accepts a well-formed event and names it by its reference hash', () => {
    const pdu = message();
    const result = checkPduFormat(pdu, V11, ROOM);
    assert.ok(result.ok);
    assert.equal(result.value.eventId, eventIdFor(pdu, V11));
    assert.equal(result.value.roomId, ROOM);
  });

  it('refuses each field of the wrong type or missing', () => {
    const pdu = message() as unknown as JsonObject;
    const without = (key: string) => {
      const copy = { ...pdu };
      delete copy[key];
      return copy;
    };
    assert.match(reason('not an object'), /JSON object/);
    assert.match(reason(without('type')), /type is missing/);
    assert.match(reason({ ...pdu, type: 5 }), /type must be a string/);
    assert.match(reason({ ...pdu, sender: 'alice' }), /sender is not a valid user ID/);
    assert.match(reason(without('room_id')), /room_id is missing/);
    assert.match(reason({ ...pdu, room_id: 'room' }), /room_id must be a room ID/);
    assert.match(reason({ ...pdu, origin_server_ts: '1' }), /origin_server_ts/);
    assert.match(reason({ ...pdu, content: [] }), /content must be an object/);
    assert.match(reason({ ...pdu, state_key: 7 }), /state_key must be a string/);
    assert.match(reason({ ...pdu, depth: -1 }), /depth must not be negative/);
    assert.match(reason({ ...pdu, depth: 1.5 }), /depth must be an integer/);
    assert.match(reason({ ...pdu, depth: 2 ** 60 }), /depth must be an integer/);
    assert.match(reason(without('hashes')), /hashes.sha256/);
    assert.match(reason({ ...pdu, signatures: { x: { k: 1 } } }), /signatures/);
    assert.match(reason({ ...pdu, unsigned: 'x' }), /unsigned/);
    assert.match(reason({ ...pdu, redacts: 'nope' }), /redacts/);
  });

  it('limits prev_events to 20 and auth_events to 10, each an event ID', () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `$e${i}`);
    assert.ok(checkPduFormat(message({ prev_events: ids(20), auth_events: ids(10) }), V11).ok);
    assert.match(reason(message({ prev_events: ids(21) })), /more than 20/);
    assert.match(reason(message({ auth_events: ids(11) })), /more than 10/);
    assert.match(reason(message({ prev_events: ['no-sigil'] })), /prev_events must be/);
    assert.match(reason(message({ auth_events: [`$${'a'.repeat(255)}`] })), /auth_events/);
  });

  it('limits IDs, types and state keys to 255 bytes', () => {
    assert.match(reason(message({ type: 'x'.repeat(256) })), /type is longer/);
    assert.match(reason(message({ state_key: 'é'.repeat(128) })), /state_key is longer/);
    assert.ok(checkPduFormat(message({ state_key: 'é'.repeat(127) }), V11).ok);
    assert.match(reason(message({ room_id: `!${'r'.repeat(255)}` })), /room_id is longer/);
  });

  it('limits the PDU to 65,536 bytes of canonical JSON', () => {
    const big = message({ content: { body: 'x'.repeat(65_536) } });
    assert.match(reason(big), /larger than 65536 bytes/);
  });

  it('refuses values canonical JSON cannot hold', () => {
    assert.match(reason({ ...message(), content: { n: 0.5 } }), /not canonical JSON/);
    assert.match(reason({ ...message(), content: { n: 2 ** 60 } }), /not canonical JSON/);
    assert.match(reason({ ...message(), content: { s: '\uD800' } }), /not canonical JSON/);
  });

  it('checks the room the caller expects', () => {
    assert.match(reason(message(), V11, '!other:remote.example'), /not !other/);
  });

  it('keeps only the unsigned keys a remote may set', () => {
    const result = checkPduFormat(message({ unsigned: { age: 5, replaces_state: '$x' } }), V11);
    assert.ok(result.ok);
    assert.deepEqual(result.value.pdu.unsigned, { age: 5 });
  });

  it('v12: the create event has no room_id, its ID gives the room ID', () => {
    const create = buildEvent(V12, undefined, {
      type: 'm.room.create',
      sender: ALICE,
      stateKey: '',
      content: { room_version: '12' },
      prev: [],
      auth: [],
    });
    const result = checkPduFormat(create.pdu, V12);
    assert.ok(result.ok);
    assert.equal(result.value.roomId, roomIdFor(create.pdu, V12));
    assert.equal(result.value.roomId, `!${create.eventId.slice(1)}`);
    assert.match(reason({ ...create.pdu, room_id: ROOM }, V12), /has no room_id/);
    // In v11 the create event needs its room_id.
    assert.match(reason(create.pdu, V11), /room_id is missing/);
  });

  it('v12: auth_events must not list the create event', () => {
    const roomId = '!abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ';
    const listed = message({ room_id: roomId, auth_events: [`$${roomId.slice(1)}`] }, V12);
    assert.match(reason(listed, V12), /must not list the create event/);
  });
});

describe('PDU signatures', () => {
  const keys = (server: string, keyId: string) => knownKey(server, keyId);

  it("requires the sender's server, and a restricted join's authoriser's", () => {
    assert.deepEqual(requiredSigners(message()), [REMOTE]);
    const join = message({
      type: 'm.room.member',
      state_key: ALICE,
      content: { membership: 'join', join_authorised_via_users_server: `@bob:${LOCAL}` },
    });
    assert.deepEqual(requiredSigners(join), [REMOTE, LOCAL]);
  });

  it("does not require the sender's server for an invite from a third-party invite", () => {
    const invite = message({
      type: 'm.room.member',
      state_key: '@carol:other.example',
      content: { membership: 'invite', third_party_invite: { signed: {} } },
    });
    assert.deepEqual(requiredSigners(invite), []);
  });

  it('accepts a valid signature, on the full event or a redacted copy', () => {
    const pdu = message();
    const full = checkSignatures(pdu, V11, keys);
    assert.ok(full.ok);
    assert.deepEqual([...full.value], [REMOTE]);
    assert.ok(checkSignatures(redactEvent(pdu, V11), V11, keys).ok);
  });

  it('refuses an event whose covered fields were changed after signing', () => {
    const result = checkSignatures({ ...message(), depth: 99 }, V11, keys);
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.reason, /does not verify/);
  });

  it('refuses an event without a signature of its server, or only with unknown keys', () => {
    const unsigned = checkSignatures({ ...message(), signatures: {} }, V11, keys);
    assert.match(unsigned.ok ? '' : unsigned.reason, /not signed by remote.example/);
    const unknown = checkSignatures(message(), V11, () => undefined);
    assert.match(unknown.ok ? '' : unknown.reason, /No known key/);
  });

  it('skips signatures by unknown keys when a known one verifies', () => {
    const pdu = message();
    const extra = {
      ...pdu,
      signatures: { [REMOTE]: { ...pdu.signatures[REMOTE], 'ed25519:old': 'AAAA' } },
    };
    assert.ok(checkSignatures(extra, V11, keys).ok);
  });

  it("checks a third-party invite's signed block against any of the public keys", () => {
    const identity = signingKeyFromSeed('aWRlbnRpdHktc2VydmVyLWtleS1zZWVkLTMyYnl0ZXM', 'ed25519:0');
    const signed = signJson({ mxid: '@carol:x', token: 't' }, 'id.example', identity);
    assert.ok(signedByAnyKey(signed, ['bad', identity.publicKeyBase64]));
    assert.equal(signedByAnyKey(signed, [REMOTE_KEY.publicKeyBase64]), false);
    assert.equal(signedByAnyKey({ mxid: 'x' }, [identity.publicKeyBase64]), false);
  });
});

describe('PDU content hash', () => {
  it('keeps an event whose hash matches, padded or not', () => {
    const pdu = message();
    assert.deepEqual(checkContentHash(pdu, V10), { pdu, redacted: false });
    const padded = { ...pdu, hashes: { sha256: `${pdu.hashes.sha256}=` } };
    assert.equal(checkContentHash(padded, V10).redacted, false);
  });

  it('keeps our own redacted copy when the hash does not match', () => {
    const tampered = { ...message(), content: { msgtype: 'm.text', body: 'changed' } };
    const result = checkContentHash(tampered, V11);
    assert.equal(result.redacted, true);
    assert.deepEqual(result.pdu, redactEvent(tampered, V11));
    assert.deepEqual(result.pdu.content, {});
    // The signature still verifies on what we keep: it covers the redacted form.
    assert.ok(checkSignatures(result.pdu, V11, knownKey).ok);
  });
});
