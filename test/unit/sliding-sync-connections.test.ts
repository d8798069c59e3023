import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewPosition } from '../../src/domain/sliding-sync-connections.js';
import { MatrixError } from '../../src/protocol/errors.js';
import {
  CONNECTION_EXPIRY_MS,
  SlidingSyncConnections,
  decodeState,
  encodeState,
  type ConnectionState,
} from '../../src/sliding-sync/connections.js';
import { zeroPositions } from '../../src/sync/stream-token.js';

const state: ConnectionState = {
  positions: { ...zeroPositions(), roomEvents: 42, toDevice: 7 },
  rooms: new Map([
    [
      '!a:x',
      {
        stateKey: '[["a",""]]',
        upTo: 40,
        timelineLimit: 1,
        notificationCount: 2,
        highlightCount: 1,
      },
    ],
    [
      '!b:x',
      {
        stateKey: '[["a",""]]',
        upTo: 41,
        timelineLimit: 20,
        notificationCount: 0,
        highlightCount: 0,
      },
    ],
    [
      '!invite:x',
      {
        stateKey: '[["a",""]]',
        upTo: 42,
        timelineLimit: 1,
        notificationCount: 0,
        highlightCount: 0,
        // Sent as an invite: joined, it is sent whole.
        stripped: true,
      },
    ],
  ]),
  listCounts: new Map([['all_rooms', 3]]),
};

describe('sliding sync connection state', () => {
  it('round-trips, storing each required_state once', () => {
    const text = encodeState(state);
    assert.equal(text.split('[[\\"a\\",\\"\\"]]').length - 1, 1);
    assert.deepEqual(decodeState(text), state);
  });

  it('round-trips where the counts hold and the rooms not counted', () => {
    const invite = state.rooms.get('!invite:x')!;
    const counted: ConnectionState = {
      ...state,
      rooms: new Map([
        ...state.rooms,
        ['!invite:x', { ...invite, uncounted: true }],
        ['!out:x', { ...state.rooms.get('!a:x')!, uncounted: true }],
      ]),
      countsAfter: 41,
    };
    assert.deepEqual(decodeState(encodeState(counted)), counted);
    // Stored before countsAfter was kept: no count is trusted (every one is read).
    assert.equal(decodeState(encodeState(state))!.countsAfter, undefined);
  });

  it('reads foreign or corrupt text as no state', () => {
    assert.equal(decodeState('not json'), undefined);
    assert.equal(decodeState('{"v":2}'), undefined);
    assert.equal(
      decodeState('{"v":1,"positions":{"roomEvents":-1},"configs":[],"rooms":{},"lists":{}}'),
      undefined,
    );
    assert.equal(
      decodeState('{"v":1,"positions":{},"configs":[],"rooms":{"!a":[3,1,1,0,0]},"lists":{}}'),
      undefined,
    );
    assert.equal(
      decodeState('{"v":1,"positions":{},"configs":[],"rooms":{},"lists":{},"c":"x"}'),
      undefined,
    );
  });

  it('saves with its base and limits, and refuses an unknown pos with M_UNKNOWN_POS', async () => {
    const saved: NewPosition[] = [];
    const limits: unknown[] = [];
    const connections = new SlidingSyncConnections(
      {
        loadPosition: async (_key, pos) => saved.find((p) => p.pos === pos)?.stateJson,
        savePosition: async (position, limit) => {
          saved.push(position);
          limits.push(limit);
        },
      },
      () => 10 * CONNECTION_EXPIRY_MS,
    );
    const key = { userId: '@u:x', deviceId: 'D', connId: 'c' };
    const pos = await connections.save(key, 'base', state);
    assert.equal(saved[0]!.basePos, 'base');
    assert.deepEqual(limits[0], {
      expireBefore: 9 * CONNECTION_EXPIRY_MS,
      maxConnectionsPerUser: 50,
    });
    assert.deepEqual(await connections.load(key, pos), state);
    await assert.rejects(connections.load(key, 'other'), (err: unknown) => {
      assert.ok(err instanceof MatrixError);
      assert.equal(err.status, 400);
      assert.equal(err.errcode, 'M_UNKNOWN_POS');
      return true;
    });
  });
});

describe('sliding sync positions issued before they are written', () => {
  const key = { userId: '@u:x', deviceId: 'D', connId: 'c' };

  it('answers the pos at once; a request that brings it back waits for its row', async () => {
    const rows = new Map<string, string>();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const connections = new SlidingSyncConnections({
      loadPosition: async (_key, pos) => rows.get(pos),
      savePosition: async (position) => {
        await held;
        rows.set(position.pos, position.stateJson);
      },
    });
    const pos = connections.issue(key, undefined, state);
    assert.equal(rows.size, 0, 'not written yet');
    const loaded = connections.load(key, pos);
    release();
    assert.deepEqual(await loaded, state);
    await connections.flush();
    assert.ok(rows.has(pos));
  });

  it('keeps states decoded, but a pos whose row is gone is unknown', async () => {
    const rows = new Map<string, string>();
    const connections = new SlidingSyncConnections({
      loadPosition: async (_key, pos) => rows.get(pos),
      savePosition: async (position) => {
        rows.set(position.pos, position.stateJson);
      },
    });
    const pos = await connections.save(key, undefined, state);
    assert.equal(await connections.load(key, pos), await connections.load(key, pos));
    rows.delete(pos);
    await assert.rejects(connections.load(key, pos), (err: unknown) => {
      assert.ok(err instanceof MatrixError);
      assert.equal(err.errcode, 'M_UNKNOWN_POS');
      return true;
    });
  });

  it('makes a pos whose row failed to be written unknown', async () => {
    const connections = new SlidingSyncConnections({
      loadPosition: async () => undefined,
      savePosition: async () => {
        throw new Error('disk full');
      },
    });
    const pos = connections.issue(key, 'base', state);
    await assert.rejects(connections.load(key, pos), (err: unknown) => {
      assert.ok(err instanceof MatrixError);
      assert.equal(err.errcode, 'M_UNKNOWN_POS');
      return true;
    });
    await connections.flush();
  });
});
