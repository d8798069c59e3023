/** The pure parts of the space hierarchy: child order, the walk, pages, tokens, visibility. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../src/events/pdu.js';
import {
  decodeCursor,
  encodeCursor,
  hasValidVia,
  mayViewRoom,
  orderedChildren,
  pageOf,
  walkHierarchy,
  type RoomAccess,
  type WalkedRoom,
} from '../../src/rooms/hierarchy.js';
import { allowedRoomIds } from '../../src/rooms/restricted-join.js';
import type { EventRecord } from '../../src/storage/storage.js';

function child(stateKey: string, content: JsonObject, ts = 1, type = 'm.space.child') {
  return {
    eventId: `$${stateKey}`,
    roomId: '!space',
    streamOrdering: 1,
    pdu: {
      type,
      state_key: stateKey,
      sender: '@a:x',
      origin_server_ts: ts,
      content,
      prev_events: [],
      auth_events: [],
      depth: 1,
      hashes: { sha256: '' },
      signatures: {},
    },
  } as EventRecord;
}

const via = ['x'];
const keys = (events: EventRecord[]) => events.map((e) => e.pdu.state_key);

describe('space children', () => {
  it('keeps only m.space.child events with a non-empty via of strings', () => {
    assert.equal(hasValidVia({ via }), true);
    assert.equal(hasValidVia({ via: [] }), false);
    assert.equal(hasValidVia({}), false);
    assert.equal(hasValidVia({ via: 'x' }), false);
    assert.equal(hasValidVia({ via: ['x', 1] }), false);
    const events = [child('!a', { via }), child('!b', {}), child('!c', { via }, 1, 'm.room.name')];
    assert.deepEqual(keys(orderedChildren(events)), ['!a']);
  });

  it('orders by order, then origin_server_ts, then room ID; invalid orders count as none', () => {
    const events = [
      child('!late', { via }, 5),
      child('!tie-b', { via }, 3),
      child('!tie-a', { via }, 3),
      child('!z-order', { via, order: 'b' }, 9),
      child('!a-order', { via, order: 'a' }, 10),
      child('!bad-order', { via, order: '\u00e9' }, 1),
      child('!long-order', { via, order: 'a'.repeat(51) }, 2),
      child('!number-order', { via, order: 1 }, 4),
    ];
    assert.deepEqual(keys(orderedChildren(events)), [
      '!a-order',
      '!z-order',
      '!bad-order',
      '!long-order',
      '!tie-a',
      '!tie-b',
      '!number-order',
      '!late',
    ]);
  });
});

/** A space graph: room → children; rooms missing from it cannot be loaded. */
function loaderOf(graph: Record<string, string[]>) {
  const loads: string[] = [];
  const load = async (roomId: string): Promise<WalkedRoom | undefined> => {
    loads.push(roomId);
    const childIds = graph[roomId];
    return childIds ? { roomId, childIds } : undefined;
  };
  return { load, loads };
}

async function walked(graph: Record<string, string[]>, maxDepth = 50): Promise<string[]> {
  const rooms: string[] = [];
  for await (const room of walkHierarchy('!root', maxDepth, loaderOf(graph).load)) {
    rooms.push(room.roomId);
  }
  return rooms;
}

describe('hierarchy walk', () => {
  const tree = {
    '!root': ['!a', '!b'],
    '!a': ['!a1', '!a2'],
    '!a1': ['!a1x'],
    '!a1x': [],
    '!a2': [],
    '!b': ['!b1'],
    '!b1': [],
  };

  it('is depth first, children in their order', async () => {
    assert.deepEqual(await walked(tree), ['!root', '!a', '!a1', '!a1x', '!a2', '!b', '!b1']);
  });

  it('stops walking into children at max_depth', async () => {
    assert.deepEqual(await walked(tree, 0), ['!root']);
    assert.deepEqual(await walked(tree, 1), ['!root', '!a', '!b']);
    assert.deepEqual(await walked(tree, 2), ['!root', '!a', '!a1', '!a2', '!b', '!b1']);
  });

  it('shows each room once and ends on cycles', async () => {
    const cyclic = { '!root': ['!a', '!b'], '!a': ['!root', '!b'], '!b': ['!a', '!root'] };
    assert.deepEqual(await walked(cyclic), ['!root', '!a', '!b']);
  });

  it('skips rooms it cannot load and what only they lead to', async () => {
    const graph = { '!root': ['!remote', '!c'], '!c': [] };
    const { load, loads } = loaderOf(graph);
    const rooms: string[] = [];
    for await (const room of walkHierarchy('!root', 50, load)) rooms.push(room.roomId);
    assert.deepEqual(rooms, ['!root', '!c']);
    assert.deepEqual(loads, ['!root', '!remote', '!c']);
  });
});

describe('hierarchy pages', () => {
  async function* numbers(count: number) {
    for (let i = 0; i < count; i++) yield i;
  }

  it('skips the rooms served and says whether more follow', async () => {
    assert.deepEqual(await pageOf(numbers(5), 0, 2), { rooms: [0, 1], more: true });
    assert.deepEqual(await pageOf(numbers(5), 2, 2), { rooms: [2, 3], more: true });
    assert.deepEqual(await pageOf(numbers(5), 4, 2), { rooms: [4], more: false });
    assert.deepEqual(await pageOf(numbers(4), 2, 2), { rooms: [2, 3], more: false });
  });

  it('round-trips its tokens and refuses anything else', () => {
    const cursor = { roomId: '!r:x', suggestedOnly: true, maxDepth: 3, served: 20 };
    assert.deepEqual(decodeCursor(encodeCursor(cursor)), cursor);
    assert.equal(decodeCursor('not a token'), undefined);
    assert.equal(decodeCursor(''), undefined);
    const forged = (parts: unknown) => Buffer.from(JSON.stringify(parts)).toString('base64url');
    assert.equal(decodeCursor(forged(['!r:x', true, 3, -1])), undefined);
    assert.equal(decodeCursor(forged(['!r:x', true, 3, 0])), undefined);
    assert.equal(decodeCursor(forged(['!r:x', 'yes', 3, 2])), undefined);
    assert.equal(decodeCursor(forged({ roomId: '!r:x' })), undefined);
  });
});

describe('hierarchy visibility', () => {
  const closed: RoomAccess = {
    membership: undefined,
    joinRule: 'invite',
    worldReadable: false,
    allowRoomIds: [],
    knockRestricted: true,
  };
  const none = new Set<string>();

  it('shows rooms the requester is in or invited to, world-readable, public or knockable ones', () => {
    assert.equal(mayViewRoom(closed, none), false);
    assert.equal(mayViewRoom({ ...closed, membership: 'join' }, none), true);
    assert.equal(mayViewRoom({ ...closed, membership: 'invite' }, none), true);
    assert.equal(mayViewRoom({ ...closed, membership: 'leave' }, none), false);
    assert.equal(mayViewRoom({ ...closed, worldReadable: true }, none), true);
    assert.equal(mayViewRoom({ ...closed, joinRule: 'public' }, none), true);
    assert.equal(mayViewRoom({ ...closed, joinRule: 'knock' }, none), true);
    assert.equal(mayViewRoom({ ...closed, joinRule: 'knock_restricted' }, none), true);
    const old = { ...closed, joinRule: 'knock_restricted', knockRestricted: false };
    assert.equal(mayViewRoom(old, none), false);
  });

  it('shows restricted rooms to members of an allowed room only', () => {
    const restricted = { ...closed, joinRule: 'restricted', allowRoomIds: ['!space'] };
    assert.equal(mayViewRoom(restricted, none), false);
    assert.equal(mayViewRoom(restricted, new Set(['!other'])), false);
    assert.equal(mayViewRoom(restricted, new Set(['!space'])), true);
  });

  it('hides rooms from banned users', () => {
    const banned = { ...closed, membership: 'ban', joinRule: 'public', worldReadable: true };
    assert.equal(mayViewRoom(banned, none), false);
  });

  it('reads the allowed rooms of m.room_membership conditions only', () => {
    const content: JsonObject = {
      join_rule: 'restricted',
      allow: [
        { type: 'm.room_membership', room_id: '!a' },
        { type: 'm.other', room_id: '!b' },
        { type: 'm.room_membership' },
        'junk',
      ],
    };
    assert.deepEqual(allowedRoomIds(content), ['!a']);
    assert.deepEqual(allowedRoomIds({ allow: 'x' }), []);
    assert.deepEqual(allowedRoomIds(undefined), []);
  });
});
