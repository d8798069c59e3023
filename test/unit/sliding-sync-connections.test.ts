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
