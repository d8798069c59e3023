import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MatrixError } from '../../src/protocol/errors.js';
import {
  lazyUsersOf,
  matchesListFilters,
  mergeRoomConfigs,
  orderByRecency,
  parseSlidingSyncRequest,
  requiredStateKey,
  resolveRequiredState,
  roomsInRanges,
  roomsInScope,
  wantsState,
} from '../../src/sliding-sync/sliding-sync-rules.js';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof MatrixError);
    assert.equal(err.status, 400);
    return err.errcode;
  }
  assert.fail('expected a 400');
}

describe('parseSlidingSyncRequest', () => {
  it('reads the shapes matrix-rust-sdk sends, ignoring unknown fields', () => {
    const request = parseSlidingSyncRequest({
      conn_id: 'room-list',
      txn_id: 'old-sdk',
      unknown_field: 1,
      lists: {
        all_rooms: {
          ranges: [[0, 19]],
          timeline_limit: 1,
          required_state: [['m.room.member', '$LAZY']],
          filters: { is_invite: false, spaces: ['!s:x'], not_room_types: ['m.space', null] },
          include_heroes: true,
        },
      },
      room_subscriptions: { '!a:x': { timeline_limit: 20, required_state: [['*', '*']] } },
      extensions: {
        to_device: { enabled: true, since: '12' },
        e2ee: { enabled: true },
        receipts: { enabled: true, rooms: ['!a:x'] },
        typing: { enabled: true, lists: ['*'] },
      },
    });
    assert.equal(request.connId, 'room-list');
    assert.equal(request.txnId, 'old-sdk');
    const list = request.lists.get('all_rooms')!;
    assert.deepEqual(list.ranges, [[0, 19]]);
    assert.equal(list.timelineLimit, 1);
    assert.deepEqual(list.filters, {
      isDm: undefined,
      isEncrypted: undefined,
      isInvite: false,
      roomTypes: undefined,
      notRoomTypes: ['m.space', null],
    });
    assert.equal(request.roomSubscriptions.get('!a:x')!.timelineLimit, 20);
    assert.deepEqual(request.extensions.toDevice, { enabled: true, limit: undefined, since: 12 });
    assert.equal(request.extensions.e2ee.enabled, true);
    assert.deepEqual(request.extensions.receipts.rooms, ['!a:x']);
    assert.equal(request.extensions.receipts.lists, '*');
    assert.equal(request.extensions.typing.lists, '*');
    assert.equal(request.extensions.accountData.enabled, false);
  });

  it('reads the newer single range and {include} required_state', () => {
    const request = parseSlidingSyncRequest({
      lists: { l: { range: [2, 5], required_state: { include: [['m.room.name', '']] } } },
    });
    const list = request.lists.get('l')!;
    assert.deepEqual(list.ranges, [[2, 5]]);
    assert.deepEqual(list.requiredState, [['m.room.name', '']]);
    assert.equal(request.connId, '');
    assert.equal(parseSlidingSyncRequest({ pos: 'p1' }).bodyPos, 'p1');
  });

  it('refuses fields of the wrong type', () => {
    assert.equal(
      refusal(() => parseSlidingSyncRequest([])),
      'M_BAD_JSON',
    );
    assert.equal(
      refusal(() => parseSlidingSyncRequest({ conn_id: 5 })),
      'M_BAD_JSON',
    );
    assert.equal(
      refusal(() => parseSlidingSyncRequest({ lists: [] })),
      'M_BAD_JSON',
    );
    const list = (l: unknown) => () => parseSlidingSyncRequest({ lists: { l } });
    assert.equal(refusal(list({ ranges: [[0]] })), 'M_BAD_JSON');
    assert.equal(refusal(list({ ranges: [[-1, 3]] })), 'M_BAD_JSON');
    assert.equal(refusal(list({ ranges: [[5, 3]] })), 'M_INVALID_PARAM');
    assert.equal(refusal(list({ timeline_limit: 'x' })), 'M_BAD_JSON');
    assert.equal(refusal(list({ required_state: [['a']] })), 'M_BAD_JSON');
    assert.equal(refusal(list({ required_state: [['a', 1]] })), 'M_BAD_JSON');
    assert.equal(refusal(list({ filters: { is_dm: 'yes' } })), 'M_BAD_JSON');
    assert.equal(
      refusal(() => parseSlidingSyncRequest({ room_subscriptions: { nope: {} } })),
      'M_INVALID_PARAM',
    );
    assert.equal(
      refusal(() => parseSlidingSyncRequest({ extensions: { to_device: { since: 'abc' } } })),
      'M_INVALID_PARAM',
    );
    assert.equal(
      refusal(() => parseSlidingSyncRequest({ extensions: { receipts: { rooms: 'all' } } })),
      'M_BAD_JSON',
    );
  });

  it('reads timeout and set_presence from the body (the MSC’s newer form)', () => {
    const request = parseSlidingSyncRequest({ timeout: 30_000, set_presence: 'unavailable' });
    assert.equal(request.bodyTimeoutMs, 30_000);
    assert.equal(request.bodySetPresence, 'unavailable');
    const none = parseSlidingSyncRequest({ timeout: null, set_presence: null });
    assert.equal(none.bodyTimeoutMs, undefined);
    assert.equal(none.bodySetPresence, undefined);
    assert.equal(
      refusal(() => parseSlidingSyncRequest({ timeout: '30000' })),
      'M_BAD_JSON',
    );
    assert.equal(
      refusal(() => parseSlidingSyncRequest({ timeout: 1.5 })),
      'M_BAD_JSON',
    );
    assert.equal(
      refusal(() => parseSlidingSyncRequest({ set_presence: true })),
      'M_BAD_JSON',
    );
    // The MSC: an unknown value is 400 M_INVALID_PARAM.
    assert.equal(
      refusal(() => parseSlidingSyncRequest({ set_presence: 'busy' })),
      'M_INVALID_PARAM',
    );
  });

  it('caps the timeline limit', () => {
    const request = parseSlidingSyncRequest({ lists: { l: { timeline_limit: 10 ** 9 } } });
    assert.equal(request.lists.get('l')!.timelineLimit, 1000);
  });
});

describe('required_state', () => {
  const none = new Set<string>();

  it('resolves $ME, * keys, and ["*","*"]', () => {
    const wanted = resolveRequiredState(
      [
        ['m.room.member', '$ME'],
        ['m.space.child', '*'],
        ['m.room.name', ''],
      ],
      '@me:x',
    );
    assert.ok(wantsState(wanted, 'm.room.member', '@me:x', none));
    assert.ok(!wantsState(wanted, 'm.room.member', '@other:x', none));
    assert.ok(wantsState(wanted, 'm.space.child', '!any:x', none));
    assert.ok(wantsState(wanted, 'm.room.name', '', none));
    assert.ok(!wantsState(wanted, 'm.room.topic', '', none));
    const all = resolveRequiredState([['*', '*']], '@me:x');
    assert.ok(wantsState(all, 'anything', 'at all', none));
    const anyType = resolveRequiredState([['*', '']], '@me:x');
    assert.ok(wantsState(anyType, 'm.room.topic', '', none));
    assert.ok(!wantsState(anyType, 'm.room.member', '@me:x', none));
  });

  it('$LAZY loads only the timeline members', () => {
    const wanted = resolveRequiredState([['m.room.member', '$LAZY']], '@me:x');
    const lazy = lazyUsersOf([
      { sender: '@a:x', type: 'm.room.message' },
      { sender: '@b:x', type: 'm.room.member', stateKey: '@c:x' },
    ]);
    assert.deepEqual([...lazy].sort(), ['@a:x', '@b:x', '@c:x']);
    assert.ok(wantsState(wanted, 'm.room.member', '@c:x', lazy));
    assert.ok(!wantsState(wanted, 'm.room.member', '@me:x', lazy), 'own membership only via $ME');
    assert.ok(!wantsState(wanted, 'm.room.name', '', lazy));
  });

  it('merges configs and keys them canonically', () => {
    const merged = mergeRoomConfigs([
      { requiredState: [['a', '']], timelineLimit: 1 },
      {
        requiredState: [
          ['b', ''],
          ['a', ''],
        ],
        timelineLimit: 20,
      },
    ]);
    assert.equal(merged.timelineLimit, 20);
    assert.deepEqual(merged.requiredState, [
      ['a', ''],
      ['b', ''],
    ]);
    assert.equal(
      requiredStateKey([
        ['b', ''],
        ['a', ''],
      ]),
      requiredStateKey([
        ['a', ''],
        ['b', ''],
        ['a', ''],
      ]),
    );
    assert.notEqual(requiredStateKey([['a', '']]), requiredStateKey([['a', '*']]));
  });
});

describe('lists', () => {
  const room = { membership: 'join', isDm: false, isEncrypted: true, roomType: null };

  it('filters', () => {
    assert.ok(matchesListFilters(room, {}));
    assert.ok(!matchesListFilters(room, { isDm: true }));
    assert.ok(matchesListFilters(room, { isEncrypted: true }));
    assert.ok(!matchesListFilters(room, { isInvite: true }));
    assert.ok(matchesListFilters({ ...room, membership: 'invite' }, { isInvite: true }));
    assert.ok(!matchesListFilters(room, { notRoomTypes: [null] }));
    assert.ok(matchesListFilters(room, { notRoomTypes: ['m.space'] }));
    assert.ok(!matchesListFilters(room, { roomTypes: ['m.space'] }));
    assert.ok(matchesListFilters({ ...room, roomType: 'm.space' }, { roomTypes: ['m.space'] }));
  });

  it('orders by recency and selects ranges', () => {
    const ordered = orderByRecency([
      { roomId: '!a', recency: 3 },
      { roomId: '!b', recency: 9 },
      { roomId: '!c', recency: 5 },
    ]).map((r) => r.roomId);
    assert.deepEqual(ordered, ['!b', '!c', '!a']);
    assert.deepEqual(roomsInRanges(ordered, [[0, 1]]), ['!b', '!c']);
    assert.deepEqual(roomsInRanges(ordered, [[1, 99]]), ['!c', '!a']);
    assert.deepEqual(
      roomsInRanges(ordered, [
        [0, 0],
        [2, 2],
      ]),
      ['!b', '!a'],
    );
    assert.deepEqual(roomsInRanges(ordered, [[5, 9]]), []);
  });

  it('scopes extensions to lists and subscriptions', () => {
    const lists = new Map([
      ['all', ['!a', '!b']],
      ['invites', ['!i']],
    ]);
    const all = roomsInScope({ enabled: true, lists: '*', rooms: '*' }, lists, ['!s']);
    assert.deepEqual([...all].sort(), ['!a', '!b', '!i', '!s']);
    const some = roomsInScope({ enabled: true, lists: ['invites'], rooms: [] }, lists, ['!s']);
    assert.deepEqual([...some], ['!i']);
  });

  it('reads the MSC’s newer required_state: {type, state_key} objects, exclude, lazy_members', () => {
    const request = parseSlidingSyncRequest({
      lists: {
        l: {
          range: [0, 9],
          required_state: {
            include: [{ type: 'm.room.name', state_key: '' }, { type: 'm.space.child' }, {}],
            exclude: [{ type: 'm.room.create', state_key: '' }],
            lazy_members: true,
          },
          filters: { is_invited: true },
        },
      },
    });
    const list = request.lists.get('l')!;
    assert.deepEqual(list.requiredState, [
      ['m.room.name', ''],
      ['m.space.child', '*'],
      ['*', '*'],
      ['m.room.member', '$LAZY'],
    ]);
    assert.deepEqual(list.excludedState, [['m.room.create', '']]);
    assert.equal(list.filters.isInvite, true, 'is_invited, the newer name');
    const wanted = resolveRequiredState(list.requiredState, '@me:x', list.excludedState);
    const lazy = new Set(['@sender:x']);
    assert.ok(wantsState(wanted, 'm.room.topic', '', lazy), '{} matches everything');
    assert.ok(!wantsState(wanted, 'm.room.create', '', lazy), 'but what exclude names');
    // Lazy members are not filtered by exclude (the MSC).
    const noMembers = resolveRequiredState([['m.room.member', '$LAZY']], '@me:x', [
      ['m.room.member', '*'],
    ]);
    assert.ok(wantsState(noMembers, 'm.room.member', '@sender:x', lazy));
    assert.ok(!wantsState(noMembers, 'm.room.member', '@other:x', lazy));
    for (const bad of [
      { include: [{ type: 5 }] },
      { include: [{ state_key: [] }] },
      { include: 'all' },
      { include: [7] },
      { exclude: {} },
      { lazy_members: 'yes' },
    ]) {
      assert.equal(
        refusal(() => parseSlidingSyncRequest({ lists: { l: { required_state: bad } } })),
        'M_BAD_JSON',
        JSON.stringify(bad),
      );
    }
  });

  it('merges exclusions only where every config makes them, and keys configs by them', () => {
    const a = {
      requiredState: [['*', '*']] as const,
      excludedState: [['m.room.create', '']] as const,
    };
    const merged = mergeRoomConfigs([
      { ...a, timelineLimit: 1 },
      {
        ...a,
        excludedState: [
          ['m.room.create', ''],
          ['m.room.topic', ''],
        ],
        timelineLimit: 5,
      },
    ]);
    assert.deepEqual(merged.excludedState, [['m.room.create', '']]);
    assert.equal(merged.timelineLimit, 5);
    const none = mergeRoomConfigs([
      { ...a, timelineLimit: 1 },
      { requiredState: [], timelineLimit: 1 },
    ]);
    assert.equal(none.excludedState, undefined, 'one config wants it all: nothing excluded');
    assert.notEqual(
      requiredStateKey([['*', '*']], [['m.room.create', '']]),
      requiredStateKey([['*', '*']]),
    );
    assert.equal(requiredStateKey([['*', '*']], []), requiredStateKey([['*', '*']]));
  });
});
