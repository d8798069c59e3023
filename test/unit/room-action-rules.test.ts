/** The pure rules of the Admin API's room actions: identifiers, who sends the power levels, what they grant. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  forwardExtremitiesJson,
  grantedPowerLevels,
  parseRoomIdentifier,
  roomAdminCandidates,
} from '../../src/admin/room-action-rules.js';
import { MatrixError } from '../../src/protocol/errors.js';

const local = (userId: string) => userId.endsWith(':here');

describe('room action rules', () => {
  it('tells room IDs from aliases and refuses anything else', () => {
    assert.deepEqual(parseRoomIdentifier('!abc:here'), { roomId: '!abc:here' });
    assert.deepEqual(parseRoomIdentifier('#town:here'), { alias: '#town:here' });
    for (const bad of ['', '!', 'town', '#town', '#:here', '#town:', '@user:here']) {
      assert.throws(
        () => parseRoomIdentifier(bad),
        (err: unknown) => err instanceof MatrixError && err.errcode === 'M_INVALID_PARAM',
        bad,
      );
    }
  });

  it('orders local candidates by power, v12 creators first', () => {
    const powerLevels = {
      users: { '@low:here': 10, '@top:here': 100, '@far:there': 200, '@mid:here': 50 },
    };
    const state = { powerLevels, createSender: '@c:here', creatorsWithInfinitePower: [] };
    assert.deepEqual(roomAdminCandidates(state, local), ['@top:here', '@mid:here', '@low:here']);
    const v12 = { ...state, creatorsWithInfinitePower: ['@c:here', '@remote:there'] };
    assert.deepEqual(roomAdminCandidates(v12, local), [
      '@c:here',
      '@top:here',
      '@mid:here',
      '@low:here',
    ]);
  });

  it('without power levels, only a local creator has power', () => {
    const state = {
      powerLevels: undefined,
      createSender: '@c:here',
      creatorsWithInfinitePower: [],
    };
    assert.deepEqual(roomAdminCandidates(state, local), ['@c:here']);
    assert.deepEqual(roomAdminCandidates({ ...state, createSender: '@c:there' }, local), []);
  });

  it("grants the sender's level, or 100 when the sender has no entry", () => {
    const levels = { ban: 50, users: { '@a:here': 75 } };
    assert.deepEqual(grantedPowerLevels(levels, '@a:here', '@b:here'), {
      ban: 50,
      users: { '@a:here': 75, '@b:here': 75 },
    });
    // The original is left as it was.
    assert.deepEqual(levels.users, { '@a:here': 75 });
    assert.deepEqual(grantedPowerLevels(levels, '@creator:here', '@b:here').users, {
      '@a:here': 75,
      '@b:here': 100,
    });
    assert.deepEqual(grantedPowerLevels(undefined, '@c:here', '@b:here'), {
      users: { '@b:here': 100 },
    });
  });

  it("shapes the extremities as Synapse's answer", () => {
    const rows = [{ eventId: '$x', stateGroup: 4, depth: 9, streamOrdering: 30 }];
    assert.deepEqual(forwardExtremitiesJson(rows, new Map([['$x', 1234]])), {
      count: 1,
      results: [{ event_id: '$x', state_group: 4, depth: 9, received_ts: 1234 }],
    });
  });
});
