/**
 * DeactivationLeaves with fakes (the leave itself is MembershipService's, as
 * POST /rooms/{roomId}/leave; the e2e suite deactivation.test.ts sees it): every joined, invited and knocked room gets a
 * leave; a room refusing its leave does not stop the others nor keep the user
 * queued; a storage failure keeps the user queued for the next start.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { DeactivationLeaves } from '../../src/account/deactivation-leaves.js';
import { MatrixError } from '../../src/protocol/errors.js';
import type { Storage } from '../../src/storage/storage.js';

const USER = '@zoe:test';

function harness(memberships: Record<string, string[]>, fail: Record<string, Error> = {}) {
  const queued = new Set([USER]);
  const sent: { roomId: string; userId: string }[] = [];
  const storage = {
    users: {
      pendingDeactivationLeaves: async () => [...queued],
      finishDeactivationLeaves: async (userId: string) => void queued.delete(userId),
    },
    rooms: {
      roomsWithMembership: async (_userId: string, membership: string) =>
        memberships[membership] ?? [],
    },
  } as unknown as Storage;
  const membership = {
    leave: async (userId: string, roomId: string) => {
      if (fail[roomId]) throw fail[roomId];
      sent.push({ roomId, userId });
    },
  };
  const leaves = new DeactivationLeaves(storage, membership, pino({ level: 'silent' }));
  return { leaves, queued, sent };
}

describe('deactivation leaves', () => {
  it('leaves every joined room, rejects invites, withdraws knocks, then unqueues', async () => {
    const joined = Array.from({ length: 20 }, (_, i) => `!j${i}`);
    const h = harness({ join: joined, invite: ['!i'], knock: ['!k'], ban: ['!b'] });
    await h.leaves.resume();
    await h.leaves.idle();
    assert.deepEqual(
      h.sent.map((s) => s.roomId),
      [...joined, '!i', '!k'],
      'not the room banned from',
    );
    assert.ok(
      h.sent.every((s) => s.userId === USER),
      'the user leaves by themselves',
    );
    assert.equal(h.queued.size, 0);
  });

  it('skips a room that refuses the leave, and still finishes', async () => {
    const refused = new MatrixError(403, 'M_FORBIDDEN', 'refused');
    const h = harness({ join: ['!a', '!b', '!c'] }, { '!b': refused });
    h.leaves.kick(USER);
    await h.leaves.idle();
    assert.deepEqual(
      h.sent.map((s) => s.roomId),
      ['!a', '!c'],
    );
    assert.equal(h.queued.size, 0, 'the deactivation is done');
  });

  it('keeps the user queued when storage fails, for the next start', async () => {
    const h = harness({ join: ['!a', '!b'], invite: ['!c'] }, { '!b': new Error('disk') });
    h.leaves.kick(USER);
    await h.leaves.idle();
    assert.deepEqual(h.queued, new Set([USER]));
    assert.ok(!h.sent.some((s) => s.roomId === '!c'), 'the pass stopped');
  });

  it('leaves nothing more once closed, and keeps the user queued', async () => {
    const h = harness({ join: ['!a'] });
    await h.leaves.close();
    h.leaves.kick(USER);
    await h.leaves.idle();
    assert.deepEqual(h.sent, []);
    assert.deepEqual(h.queued, new Set([USER]));
  });
});
