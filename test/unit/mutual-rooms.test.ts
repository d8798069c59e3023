/**
 * The mutual rooms pages and their batch tokens (rooms/mutual-rooms.ts): 100 per
 * page, every room once, tokens bound to the pair of users, refused once older
 * than an hour and when forged; the 400s for user_id.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MatrixError } from '../../src/protocol/errors.js';
import {
  BATCH_TOKEN_LIFETIME_MS,
  MUTUAL_ROOMS_PAGE,
  MutualRoomsService,
} from '../../src/rooms/mutual-rooms.js';

const ALICE = '@alice:localhost';
const BOB = '@bob:localhost';
const ROOMS = Array.from({ length: 250 }, (_, i) => `!r${String(i).padStart(3, '0')}:localhost`);

function service(clock: { now: number }, rooms = ROOMS) {
  const store = { mutualRooms: async () => rooms };
  return new MutualRoomsService(store, Buffer.from('secret'), () => clock.now);
}

const invalidParam = (err: unknown) =>
  err instanceof MatrixError && err.status === 400 && err.errcode === 'M_INVALID_PARAM';

describe('mutual rooms pages', () => {
  it('serves every room once, 100 at a time, with the total count', async () => {
    const clock = { now: 1_000_000 };
    const mutual = service(clock);
    const seen: string[] = [];
    let from: string | undefined;
    let pages = 0;
    do {
      const page = await mutual.mutualRooms(ALICE, BOB, from);
      assert.equal(page.count, ROOMS.length);
      assert.ok(page.joined.length <= MUTUAL_ROOMS_PAGE);
      seen.push(...page.joined);
      from = page.next_batch;
      pages++;
    } while (from !== undefined);
    assert.equal(pages, 3);
    assert.deepEqual(seen, ROOMS);
  });

  it('answers a short list in one page without next_batch', async () => {
    const page = await service({ now: 0 }, ['!a:x']).mutualRooms(ALICE, BOB, undefined);
    assert.deepEqual(page, { joined: ['!a:x'], count: 1 });
  });

  it('keeps tokens for an hour, then refuses them', async () => {
    const clock = { now: 1_000_000 };
    const mutual = service(clock);
    const { next_batch: token } = await mutual.mutualRooms(ALICE, BOB, undefined);
    assert.ok(token);
    clock.now += 10 * 60 * 1000;
    assert.equal((await mutual.mutualRooms(ALICE, BOB, token)).joined[0], ROOMS[100]);
    clock.now += BATCH_TOKEN_LIFETIME_MS;
    await assert.rejects(mutual.mutualRooms(ALICE, BOB, token), invalidParam);
  });

  it('refuses tokens of another pair of users, forged or garbled ones', async () => {
    const clock = { now: 1_000_000 };
    const mutual = service(clock);
    const { next_batch: token } = await mutual.mutualRooms(ALICE, BOB, undefined);
    await assert.rejects(mutual.mutualRooms(ALICE, '@carol:localhost', token), invalidParam);
    await assert.rejects(mutual.mutualRooms(BOB, ALICE, token), invalidParam);
    const forged = service(clock).makeToken({ after: ROOMS[0]!, issuedTs: clock.now }, ALICE, BOB);
    const other = new MutualRoomsService(
      { mutualRooms: async () => ROOMS },
      Buffer.from('another secret'),
      () => clock.now,
    );
    await assert.rejects(other.mutualRooms(ALICE, BOB, forged), invalidParam);
    for (const bad of ['', 'garbage', `${token}x`, `x${token}`, 'a.b.c']) {
      await assert.rejects(mutual.mutualRooms(ALICE, BOB, bad), invalidParam, bad);
    }
  });

  it('refuses a missing, invalid or own user_id', async () => {
    const mutual = service({ now: 0 });
    for (const userId of [undefined, 'bob', '@bob', '@:localhost', ALICE]) {
      await assert.rejects(mutual.mutualRooms(ALICE, userId, undefined), invalidParam, userId);
    }
  });
});
