import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_SYNC_FILTER,
  MAX_FILTER_LIMIT,
  applyEventFields,
  eventMatchesFilter,
  filterBlocksEverything,
  isInlineFilter,
  matchesWildcard,
  parseInlineJson,
  parseRoomEventFilter,
  parseSyncFilter,
  roomMatchesFilter,
  splitPropertyPath,
} from '../../src/sync/filters.js';

const badJson = { status: 400, errcode: 'M_BAD_JSON' };
const invalidParam = { status: 400, errcode: 'M_INVALID_PARAM' };

describe('filter validation', () => {
  it('reads a complete filter', () => {
    const filter = parseSyncFilter({
      event_fields: ['type', 'content.body'],
      event_format: 'federation',
      presence: { not_types: ['*'] },
      account_data: { types: ['m.push_rules'], limit: 5 },
      room: {
        rooms: ['!a:x'],
        not_rooms: ['!b:x'],
        include_leave: true,
        timeline: { limit: 20, senders: ['@u:x'], contains_url: false },
        state: { lazy_load_members: true, include_redundant_members: true },
        ephemeral: { not_senders: ['@spam:x'] },
        account_data: { types: ['m.tag'] },
      },
    });
    assert.deepEqual(filter.eventFields, ['type', 'content.body']);
    assert.equal(filter.eventFormat, 'federation');
    assert.deepEqual(filter.presence.notTypes, ['*']);
    assert.equal(filter.accountData.limit, 5);
    assert.deepEqual(filter.room.rooms, ['!a:x']);
    assert.deepEqual(filter.room.notRooms, ['!b:x']);
    assert.equal(filter.room.includeLeave, true);
    assert.equal(filter.room.timeline.limit, 20);
    assert.deepEqual(filter.room.timeline.senders, ['@u:x']);
    assert.equal(filter.room.timeline.containsUrl, false);
    assert.equal(filter.room.state.lazyLoadMembers, true);
    assert.equal(filter.room.state.includeRedundantMembers, true);
    assert.deepEqual(filter.room.ephemeral.notSenders, ['@spam:x']);
    assert.deepEqual(filter.room.accountData.types, ['m.tag']);
  });

  it('defaults to everything, in client format, without lazy loading', () => {
    for (const filter of [DEFAULT_SYNC_FILTER, parseSyncFilter({ room: null, presence: {} })]) {
      assert.equal(filter.eventFields, undefined);
      assert.equal(filter.eventFormat, 'client');
      assert.equal(filter.room.includeLeave, false);
      assert.equal(filter.room.rooms, undefined);
      assert.equal(filter.room.timeline.limit, undefined);
      assert.equal(filter.room.timeline.types, undefined);
      assert.equal(filter.room.state.lazyLoadMembers, false);
      assert.deepEqual(filter.presence.notTypes, []);
    }
  });

  it('ignores include_redundant_members without lazy_load_members, as the spec says', () => {
    const filter = parseSyncFilter({ room: { state: { include_redundant_members: true } } });
    assert.equal(filter.room.state.includeRedundantMembers, false);
  });

  it('clamps a large limit and keeps a small one', () => {
    const big = parseSyncFilter({ room: { timeline: { limit: 1e9 } } });
    assert.equal(big.room.timeline.limit, MAX_FILTER_LIMIT);
    assert.equal(parseSyncFilter({ presence: { limit: 0 } }).presence.limit, 0);
    assert.equal(parseSyncFilter({ presence: { limit: 3 } }).presence.limit, 3);
  });

  it('keeps unknown keys from failing a filter (newer spec versions, MSCs)', () => {
    const filter = parseSyncFilter({ 'org.example.x': 1, room: { timeline: { future: [] } } });
    assert.equal(filter.room.timeline.limit, undefined);
  });

  const refusals: [string, unknown][] = [
    ['a filter that is not an object', []],
    ['a string filter', 'x'],
    ['event_fields not a list', { event_fields: 'type' }],
    ['event_fields with a number', { event_fields: ['type', 1] }],
    ['an unknown event_format', { event_format: 'xml' }],
    ['presence not an object', { presence: [] }],
    ['room not an object', { room: 'all' }],
    ['rooms not a list', { room: { rooms: '!a:x' } }],
    ['a room ID without !', { room: { not_rooms: ['a:x'] } }],
    ['include_leave not a boolean', { room: { include_leave: 'yes' } }],
    ['timeline not an object', { room: { timeline: 5 } }],
    ['a string limit', { room: { timeline: { limit: '10' } } }],
    ['a fractional limit', { room: { timeline: { limit: 1.5 } } }],
    ['a negative limit', { room: { state: { limit: -1 } } }],
    ['types not a list', { room: { timeline: { types: 'm.room.message' } } }],
    ['not_types with a number', { presence: { not_types: [1] } }],
    ['a sender without @', { account_data: { senders: ['u:x'] } }],
    ['contains_url not a boolean', { room: { timeline: { contains_url: 1 } } }],
    ['lazy_load_members not a boolean', { room: { state: { lazy_load_members: 'true' } } }],
    ['ephemeral rooms not a list', { room: { ephemeral: { rooms: {} } } }],
  ];

  for (const [what, value] of refusals) {
    it(`refuses ${what}: M_BAD_JSON in a body, M_INVALID_PARAM in a query`, () => {
      assert.throws(() => parseSyncFilter(value), badJson);
      assert.throws(() => parseSyncFilter(value, 'query'), invalidParam);
    });
  }

  it('names the faulty field in the error', () => {
    assert.throws(() => parseSyncFilter({ room: { timeline: { limit: 'x' } } }), {
      message: /room\.timeline\.limit/,
    });
  });

  it('reads a RoomEventFilter on its own, for /messages', () => {
    const filter = parseRoomEventFilter({ lazy_load_members: true, types: ['m.room.*'] });
    assert.equal(filter.lazyLoadMembers, true);
    assert.deepEqual(filter.types, ['m.room.*']);
    assert.throws(() => parseRoomEventFilter({ rooms: [1] }), invalidParam);
  });

  it('tells an inline filter from a filter ID and parses its JSON', () => {
    assert.equal(isInlineFilter('{"room":{}}'), true);
    assert.equal(isInlineFilter('17'), false);
    assert.deepEqual(parseInlineJson('{"room":{}}'), { room: {} });
    assert.throws(() => parseInlineJson('{"room":'), invalidParam);
  });
});

describe('wildcards', () => {
  const cases: [string, string, boolean][] = [
    ['m.room.message', 'm.room.message', true],
    ['m.room.message', 'm.room.messag', false],
    ['m.room.message', 'm.room.*', true],
    ['m.room.message', 'm.*', true],
    ['m.room.message', '*', true],
    ['m.room.message', '*.message', true],
    ['m.room.message', 'm.*.message', true],
    ['m.room.message', 'm.*.member', false],
    ['m.room.message', 'm.*message*', true],
    ['m.a', 'm.a*a', false],
    ['m.aa', 'm.a*a', true],
    ['m.room.message', 'm.room.message.*', false],
    ['', '*', true],
  ];
  for (const [value, pattern, expected] of cases) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${value}`, () => {
      assert.equal(matchesWildcard(value, pattern), expected);
    });
  }
});

describe('event matching', () => {
  const message = {
    type: 'm.room.message',
    sender: '@alice:x',
    room_id: '!r:x',
    content: { body: 'hi' },
  };
  const image = { ...message, content: { url: 'mxc://x/y', body: 'pic' } };
  const timeline = (json: unknown) => parseRoomEventFilter(json);

  it('passes everything through an empty filter', () => {
    assert.equal(eventMatchesFilter(message, timeline({})), true);
    assert.equal(eventMatchesFilter(image, DEFAULT_SYNC_FILTER.presence), true);
  });

  it('filters by type with wildcards, not_types winning', () => {
    assert.equal(eventMatchesFilter(message, timeline({ types: ['m.room.*'] })), true);
    assert.equal(eventMatchesFilter(message, timeline({ types: ['m.call.*'] })), false);
    assert.equal(eventMatchesFilter(message, timeline({ types: [] })), false);
    const both = timeline({ types: ['m.room.*'], not_types: ['m.room.message'] });
    assert.equal(eventMatchesFilter(message, both), false);
    assert.equal(eventMatchesFilter({ ...message, type: 'm.room.topic' }, both), true);
    assert.equal(eventMatchesFilter(message, timeline({ not_types: ['*'] })), false);
  });

  it('filters by sender, not_senders winning', () => {
    assert.equal(eventMatchesFilter(message, timeline({ senders: ['@alice:x'] })), true);
    assert.equal(eventMatchesFilter(message, timeline({ senders: ['@bob:x'] })), false);
    const both = timeline({ senders: ['@alice:x'], not_senders: ['@alice:x'] });
    assert.equal(eventMatchesFilter(message, both), false);
    const senderless = { type: 'm.typing', content: {} };
    assert.equal(eventMatchesFilter(senderless, timeline({ senders: ['@alice:x'] })), false);
    assert.equal(eventMatchesFilter(senderless, timeline({ not_senders: ['@alice:x'] })), true);
  });

  it('filters by room, not_rooms winning, with the room given for room-less sync events', () => {
    assert.equal(eventMatchesFilter(message, timeline({ rooms: ['!r:x'] })), true);
    assert.equal(eventMatchesFilter(message, timeline({ rooms: ['!q:x'] })), false);
    const both = timeline({ rooms: ['!r:x'], not_rooms: ['!r:x'] });
    assert.equal(eventMatchesFilter(message, both), false);
    const syncEvent = { type: message.type, sender: message.sender, content: message.content };
    assert.equal(eventMatchesFilter(syncEvent, timeline({ rooms: ['!q:x'] }), '!r:x'), false);
    assert.equal(eventMatchesFilter(syncEvent, timeline({ rooms: ['!r:x'] }), '!r:x'), true);
  });

  it('filters by contains_url (a string url in the content)', () => {
    assert.equal(eventMatchesFilter(image, timeline({ contains_url: true })), true);
    assert.equal(eventMatchesFilter(message, timeline({ contains_url: true })), false);
    assert.equal(eventMatchesFilter(image, timeline({ contains_url: false })), false);
    assert.equal(eventMatchesFilter(message, timeline({ contains_url: false })), true);
    const numericUrl = { ...message, content: { url: 5 } };
    assert.equal(eventMatchesFilter(numericUrl, timeline({ contains_url: true })), false);
  });

  it('applies the room-level rooms / not_rooms', () => {
    const room = parseSyncFilter({ room: { rooms: ['!a:x', '!b:x'], not_rooms: ['!b:x'] } }).room;
    assert.equal(roomMatchesFilter('!a:x', room), true);
    assert.equal(roomMatchesFilter('!b:x', room), false);
    assert.equal(roomMatchesFilter('!c:x', room), false);
    assert.equal(roomMatchesFilter('!c:x', DEFAULT_SYNC_FILTER.room), true);
  });

  it('tells when a filter can match nothing', () => {
    assert.equal(filterBlocksEverything(timeline({ not_types: ['*'] })), true);
    assert.equal(filterBlocksEverything(timeline({ types: [] })), true);
    assert.equal(filterBlocksEverything(timeline({ rooms: [] })), true);
    assert.equal(filterBlocksEverything(timeline({ not_types: ['m.*'] })), false);
    assert.equal(filterBlocksEverything(timeline({})), false);
  });
});

describe('event_fields', () => {
  const event = {
    event_id: '$e',
    type: 'm.room.message',
    sender: '@a:x',
    content: {
      body: 'hi',
      msgtype: 'm.text',
      'm.relates_to': { rel_type: 'm.thread' },
      'a\\b': 1,
    },
    unsigned: { age: 5 },
  };

  it('splits dotted paths with \\. and \\\\ escapes, other backslashes kept', () => {
    assert.deepEqual(splitPropertyPath('content.body'), ['content', 'body']);
    assert.deepEqual(splitPropertyPath('content.m\\.relates_to'), ['content', 'm.relates_to']);
    assert.deepEqual(splitPropertyPath('content.a\\\\b'), ['content', 'a\\b']);
    assert.deepEqual(splitPropertyPath('a\\xb'), ['a\\xb']);
    assert.deepEqual(splitPropertyPath('a\\\\.b'), ['a\\', 'b']);
  });

  it('keeps only the listed fields', () => {
    assert.deepEqual(applyEventFields(event, ['type', 'content.body', 'content.m\\.relates_to']), {
      type: 'm.room.message',
      content: { body: 'hi', 'm.relates_to': { rel_type: 'm.thread' } },
    });
    assert.deepEqual(applyEventFields(event, ['content.a\\\\b']), { content: { 'a\\b': 1 } });
  });

  it('skips missing paths and paths through non-objects', () => {
    assert.deepEqual(applyEventFields(event, ['nope', 'content.nope', 'type.length']), {});
  });

  it('returns the event untouched without a list (or with an empty one)', () => {
    assert.equal(applyEventFields(event, undefined), event);
    assert.equal(applyEventFields(event, []), event);
  });

  it('never changes the input event, whatever the order of overlapping paths', () => {
    const before = structuredClone(event);
    const whole = applyEventFields(event, ['content', 'content.body', 'unsigned.age']);
    assert.deepEqual(whole.content, event.content);
    applyEventFields(event, ['content.body', 'content']);
    assert.deepEqual(event, before);
  });

  it('copies a __proto__ key as data, not as a prototype', () => {
    const hostile = JSON.parse('{"content":{"__proto__":{"polluted":true}}}') as object;
    const result = applyEventFields(hostile, ['content.__proto__.polluted']) as {
      content: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(result.content), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(result.content), Object.prototype);
  });
});
