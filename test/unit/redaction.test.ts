import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../src/events/pdu.js';
import { redactEvent } from '../../src/events/redaction.js';
import { MatrixError } from '../../src/protocol/errors.js';
import { roomVersion, type RoomVersion } from '../../src/events/room-versions.js';

const V10 = roomVersion('10');
const V11 = roomVersion('11');
const V12 = roomVersion('12');

/** An event with every top-level key any algorithm knows, plus ones none keeps. */
function event(type: string, content: JsonObject, extra: JsonObject = {}): JsonObject {
  return {
    event_id: '$e',
    type,
    room_id: '!r:x',
    sender: '@a:x',
    state_key: '',
    content,
    hashes: { sha256: 'h' },
    signatures: { x: { 'ed25519:1': 's' } },
    depth: 4,
    prev_events: ['$p'],
    auth_events: ['$a'],
    origin: 'x',
    origin_server_ts: 1,
    membership: 'join',
    prev_state: [],
    unsigned: { age: 5 },
    age_ts: 7,
    custom_top_level: true,
    ...extra,
  };
}

function redactedContent(type: string, content: JsonObject, version: RoomVersion): JsonObject {
  return redactEvent(event(type, content), version).content as JsonObject;
}

describe('redaction: top-level keys', () => {
  const common = [
    'auth_events',
    'content',
    'depth',
    'event_id',
    'hashes',
    'origin_server_ts',
    'prev_events',
    'room_id',
    'sender',
    'signatures',
    'state_key',
    'type',
  ];

  it('v10 (v9 algorithm) also keeps origin, membership and prev_state', () => {
    const keys = Object.keys(redactEvent(event('m.room.message', {}), V10)).sort();
    assert.deepEqual(keys, [...common, 'membership', 'origin', 'prev_state'].sort());
  });

  it('v11 and v12 drop origin, membership and prev_state', () => {
    for (const version of [V11, V12]) {
      const keys = Object.keys(redactEvent(event('m.room.message', {}), version)).sort();
      assert.deepEqual(keys, common, `room version ${version.id}`);
    }
  });

  it('keeps the values of kept keys unchanged', () => {
    const redacted = redactEvent(event('m.room.message', {}), V11);
    assert.deepEqual(redacted.signatures, { x: { 'ed25519:1': 's' } });
    assert.deepEqual(redacted.prev_events, ['$p']);
    assert.equal(redacted.depth, 4);
  });

  it('drops the top-level redacts of pre-v11 redaction events', () => {
    const redaction = event('m.room.redaction', { reason: 'spam' }, { redacts: '$x' });
    assert.equal('redacts' in redactEvent(redaction, V10), false);
    assert.deepEqual(redactEvent(redaction, V10).content, {});
  });

  it('always emits content, even when the event had none', () => {
    const withoutContent = event('m.room.message', {});
    delete withoutContent.content;
    assert.deepEqual(redactEvent(withoutContent, V11).content, {});
  });
});

describe('redaction: content by event type', () => {
  it('strips all content of other event types', () => {
    for (const version of [V10, V11, V12]) {
      assert.deepEqual(
        redactedContent('m.room.message', { body: 'hi', msgtype: 'm.text' }, version),
        {},
      );
      assert.deepEqual(redactedContent('m.room.name', { name: 'n' }, version), {});
    }
  });

  it('m.room.member keeps membership and join_authorised_via_users_server', () => {
    const content = {
      membership: 'join',
      join_authorised_via_users_server: '@b:x',
      displayname: 'A',
      avatar_url: 'mxc://x/y',
    };
    for (const version of [V10, V11, V12]) {
      assert.deepEqual(redactedContent('m.room.member', content, version), {
        membership: 'join',
        join_authorised_via_users_server: '@b:x',
      });
    }
  });

  it('m.room.member keeps third_party_invite.signed from v11 on, not in v10', () => {
    const signed = { mxid: '@a:x', token: 't', signatures: { id: { 'ed25519:0': 'sig' } } };
    const content = { membership: 'invite', third_party_invite: { display_name: 'a@b', signed } };
    assert.deepEqual(redactedContent('m.room.member', content, V10), { membership: 'invite' });
    for (const version of [V11, V12]) {
      assert.deepEqual(redactedContent('m.room.member', content, version), {
        membership: 'invite',
        third_party_invite: { signed },
      });
    }
  });

  it('m.room.member without a signed block keeps no third_party_invite', () => {
    const content = { membership: 'invite', third_party_invite: { display_name: 'a@b' } };
    assert.deepEqual(redactedContent('m.room.member', content, V11), { membership: 'invite' });
  });

  it('m.room.create keeps only creator in v10, and all content from v11 on', () => {
    const content = { creator: '@a:x', room_version: '10', 'm.federate': false, type: 'm.space' };
    assert.deepEqual(redactedContent('m.room.create', content, V10), { creator: '@a:x' });
    const v12Content = { room_version: '12', additional_creators: ['@b:x'], predecessor: {} };
    assert.deepEqual(redactedContent('m.room.create', content, V11), content);
    assert.deepEqual(redactedContent('m.room.create', v12Content, V12), v12Content);
  });

  it('m.room.join_rules keeps join_rule and allow', () => {
    const allow = [{ type: 'm.room_membership', room_id: '!s:x' }];
    const content = { join_rule: 'restricted', allow, other: 1 };
    for (const version of [V10, V11, V12]) {
      assert.deepEqual(redactedContent('m.room.join_rules', content, version), {
        join_rule: 'restricted',
        allow,
      });
    }
  });

  it('m.room.power_levels keeps invite only from v11 on', () => {
    const kept = {
      ban: 50,
      events: { 'm.room.name': 50 },
      events_default: 0,
      kick: 50,
      redact: 50,
      state_default: 50,
      users: { '@a:x': 100 },
      users_default: 0,
    };
    const content = { ...kept, invite: 0, notifications: { room: 50 } };
    assert.deepEqual(redactedContent('m.room.power_levels', content, V10), kept);
    for (const version of [V11, V12]) {
      assert.deepEqual(redactedContent('m.room.power_levels', content, version), {
        ...kept,
        invite: 0,
      });
    }
  });

  it('m.room.history_visibility keeps history_visibility', () => {
    const content = { history_visibility: 'joined', other: 'x' };
    for (const version of [V10, V11, V12]) {
      assert.deepEqual(redactedContent('m.room.history_visibility', content, version), {
        history_visibility: 'joined',
      });
    }
  });

  it('m.room.redaction keeps content.redacts only from v11 on', () => {
    const content = { redacts: '$x', reason: 'spam' };
    assert.deepEqual(redactedContent('m.room.redaction', content, V10), {});
    for (const version of [V11, V12]) {
      assert.deepEqual(redactedContent('m.room.redaction', content, version), { redacts: '$x' });
    }
  });

  it('keeps a listed key whatever its value, and ignores inherited names', () => {
    assert.deepEqual(redactedContent('m.room.member', { membership: null }, V11), {
      membership: null,
    });
    assert.deepEqual(redactedContent('toString', { a: 1 }, V11), {});
    assert.deepEqual(redactedContent('__proto__', { a: 1 }, V11), {});
  });
});

describe('redaction: purity', () => {
  it('does not change the input and shares no objects with it', () => {
    const content = { creator: '@a:x', nested: { deep: [1, { x: 2 }] } };
    const input = event('m.room.create', content);
    const before = structuredClone(input);
    const redacted = redactEvent(input, V11);
    assert.deepEqual(input, before);
    assert.notEqual(redacted.content, input.content);
    const redactedNested = (redacted.content as { nested: { deep: unknown[] } }).nested;
    assert.deepEqual(redactedNested, content.nested);
    assert.notEqual(redactedNested, content.nested);
    assert.notEqual(redactedNested.deep, content.nested.deep);
    assert.notEqual(redacted.signatures, input.signatures);
  });

  it('copies an own __proto__ key as a key, without touching prototypes', () => {
    const content = JSON.parse('{"__proto__":{"polluted":true},"room_version":"11"}') as JsonObject;
    const redacted = redactEvent(event('m.room.create', content), V11).content as JsonObject;
    assert.ok(Object.hasOwn(redacted, '__proto__'));
    assert.equal(Object.getPrototypeOf(redacted), Object.prototype);
    assert.deepEqual(Object.keys(redacted), ['__proto__', 'room_version']);
  });

  it('refuses hostile nesting in kept content with M_BAD_JSON instead of overflowing', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as JsonObject;
    assert.throws(
      () => redactEvent(event('m.room.create', { deep }), V11),
      (error: unknown) => error instanceof MatrixError && error.errcode === 'M_BAD_JSON',
    );
  });
});
