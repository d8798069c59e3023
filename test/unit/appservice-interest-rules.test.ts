/** Which events, rooms and users interest a service; transaction bodies and retry delays. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRegistration } from '../../src/appservice/registration-rules.js';
import {
  applyToRoomInterest,
  interestedInEvent,
  interestedInRoom,
  type InterestEvent,
  type RoomInterest,
} from '../../src/appservice/interest-rules.js';
import { retryDelayMs, transactionBody } from '../../src/appservice/transaction-rules.js';

const registration = (extra: Record<string, unknown> = {}) =>
  parseRegistration(
    {
      id: 'irc',
      url: 'http://127.0.0.1:9000',
      as_token: 'a',
      hs_token: 'h',
      sender_localpart: 'ircbot',
      namespaces: {
        users: [{ regex: '@irc_.*:hs', exclusive: true }],
        aliases: [{ regex: '#irc_.*:hs', exclusive: true }],
        rooms: [{ regex: '!bridged.*:hs', exclusive: false }],
      },
      ...extra,
    },
    'irc.yaml',
  );

const emptyRoom = (): RoomInterest => ({
  localAliases: new Set(),
  canonicalAliases: [],
  joinedUsers: new Set(),
});

const message = (sender: string, roomId = '!r:hs'): InterestEvent => ({
  roomId,
  type: 'm.room.message',
  sender,
  content: { body: 'hi' },
});

const member = (userId: string, membership: string, sender = userId): InterestEvent => ({
  roomId: '!r:hs',
  type: 'm.room.member',
  sender,
  stateKey: userId,
  content: { membership },
});

describe('application service interest', () => {
  const irc = registration();

  it('follows senders, membership targets, room IDs and aliases', () => {
    assert.ok(interestedInEvent(irc, message('@irc_bob:hs'), emptyRoom(), 'hs'));
    assert.ok(interestedInEvent(irc, message('@ircbot:hs'), emptyRoom(), 'hs'), 'its own user');
    assert.ok(!interestedInEvent(irc, message('@alice:hs'), emptyRoom(), 'hs'));
    assert.ok(!interestedInEvent(irc, message('@xirc_bob:hs'), emptyRoom(), 'hs'), 'anchored');
    assert.ok(
      interestedInEvent(irc, member('@irc_bob:hs', 'invite', '@alice:hs'), emptyRoom(), 'hs'),
    );
    assert.ok(interestedInEvent(irc, message('@alice:hs', '!bridged1:hs'), emptyRoom(), 'hs'));
    const aliased = { ...emptyRoom(), canonicalAliases: ['#irc_libera:hs'] };
    assert.ok(interestedInRoom(irc, '!r:hs', aliased));
    const local = { ...emptyRoom(), localAliases: new Set(['#irc_x:hs']) };
    assert.ok(interestedInRoom(irc, '!r:hs', local));
    assert.ok(!interestedInRoom(irc, '!r:hs', { ...emptyRoom(), canonicalAliases: ['#other:hs'] }));
  });

  it('rolls a room forward: its users joining and leaving, a new canonical alias', () => {
    const room = emptyRoom();
    applyToRoomInterest(irc, room, member('@irc_bob:hs', 'join'), 'hs');
    applyToRoomInterest(irc, room, member('@alice:hs', 'join'), 'hs');
    assert.deepEqual([...room.joinedUsers], ['@irc_bob:hs'], 'only its users are tracked');
    assert.ok(interestedInEvent(irc, message('@alice:hs'), room, 'hs'), 'a room its user is in');
    applyToRoomInterest(irc, room, member('@irc_bob:hs', 'leave'), 'hs');
    assert.ok(!interestedInEvent(irc, message('@alice:hs'), room, 'hs'), 'not once it left');

    const alias: InterestEvent = {
      roomId: '!r:hs',
      type: 'm.room.canonical_alias',
      sender: '@alice:hs',
      stateKey: '',
      content: { alias: '#irc_a:hs', alt_aliases: ['#b:hs', 3] },
    };
    applyToRoomInterest(irc, room, alias, 'hs');
    assert.deepEqual(room.canonicalAliases, ['#irc_a:hs', '#b:hs']);
    applyToRoomInterest(irc, room, { ...alias, content: {} }, 'hs');
    assert.deepEqual(room.canonicalAliases, []);
  });
});

describe('application service transactions', () => {
  const content = {
    events: [{ event_id: '$1' }],
    ephemeral: [{ type: 'm.typing' }],
    toDevice: [{ type: 'm.room_key_request', to_user_id: '@irc_a:hs', to_device_id: 'D' }],
    deviceLists: { changed: ['@alice:hs'], left: [] },
    oneTimeKeyCounts: { '@irc_a:hs': { D: { signed_curve25519: 3 } } },
    unusedFallbackKeys: { '@irc_a:hs': { D: ['signed_curve25519'] } },
  };

  it('puts ephemeral events under the name the registration asks for', () => {
    assert.deepEqual(Object.keys(transactionBody(registration(), content)), ['events']);
    const stable = transactionBody(registration({ receive_ephemeral: true }), content);
    assert.deepEqual(Object.keys(stable).sort(), [
      'de.sorunome.msc2409.to_device',
      'ephemeral',
      'events',
    ]);
    const unstable = transactionBody(
      registration({ 'de.sorunome.msc2409.push_ephemeral': true }),
      content,
    );
    assert.deepEqual(unstable['de.sorunome.msc2409.ephemeral'], content.ephemeral);
    assert.equal(unstable.ephemeral, undefined);
  });

  it('adds the MSC3202 fields as Synapse names them, only when set', () => {
    const body = transactionBody(registration({ 'org.matrix.msc3202': true }), content);
    assert.deepEqual(body['org.matrix.msc3202.device_lists'], { changed: ['@alice:hs'], left: [] });
    assert.deepEqual(
      body['org.matrix.msc3202.device_one_time_keys_count'],
      content.oneTimeKeyCounts,
    );
    assert.deepEqual(
      body['org.matrix.msc3202.device_one_time_key_counts'],
      content.oneTimeKeyCounts,
    );
    assert.deepEqual(
      body['org.matrix.msc3202.device_unused_fallback_key_types'],
      content.unusedFallbackKeys,
    );
    const bare = transactionBody(registration({ 'org.matrix.msc3202': true }), {
      events: [],
      ephemeral: [],
      toDevice: [],
    });
    assert.deepEqual(Object.keys(bare), ['events']);
  });

  it('backs off from 1 s, doubling, up to 5 minutes', () => {
    assert.deepEqual([1, 2, 3, 4].map(retryDelayMs), [1_000, 2_000, 4_000, 8_000]);
    assert.equal(retryDelayMs(9), 256_000);
    assert.equal(retryDelayMs(10), 300_000);
    assert.equal(retryDelayMs(1_000), 300_000);
  });
});
