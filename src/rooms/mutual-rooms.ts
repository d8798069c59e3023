/**
 * GET /_matrix/client/v1/mutual_rooms (v1.19, MSC2666): the rooms the caller and
 * another user are both joined to, 100 per page as Synapse serves them.
 *
 * A `next_batch` is stateless: the last room ID served and when the token was
 * made, signed (HMAC) with the server's secret over the pair of users it was made
 * for. So nothing is stored, another query's token is refused, and a token is
 * refused once older than an hour (the spec asks that a batch token may expire;
 * the issue, that it lives at least 10 minutes).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isValidUserId } from '../events/auth/ids.js';
import type { MutualRoomStore } from '../domain/mutual-rooms.js';
import { errors } from '../protocol/errors.js';

/** Synapse's MUTUAL_ROOMS_BATCH_LIMIT. */
export const MUTUAL_ROOMS_PAGE = 100;
export const BATCH_TOKEN_LIFETIME_MS = 60 * 60 * 1000;

export interface MutualRoomsPage {
  joined: string[];
  count: number;
  next_batch?: string;
}

/** What a batch token says: the rooms after `after` are next; made at `issuedTs`. */
export interface BatchCursor {
  after: string;
  issuedTs: number;
}

export class MutualRoomsService {
  /** `secret`: a server secret; the tokens' key is derived from it, for this use only. */
  constructor(
    private readonly store: MutualRoomStore,
    secret: Buffer,
    private readonly now: () => number = Date.now,
  ) {
    this.key = createHmac('sha256', secret).update('weft mutual_rooms batch tokens').digest();
  }

  private readonly key: Buffer;

  async mutualRooms(
    requester: string,
    userId: string | undefined,
    from: string | undefined,
  ): Promise<MutualRoomsPage> {
    checkOtherUser(requester, userId);
    const cursor = from === undefined ? undefined : this.readToken(from, requester, userId);
    const rooms = await this.store.mutualRooms(requester, userId);
    // Rooms after the cursor's: a room joined meanwhile with a lower ID waits for a fresh
    // listing (as Synapse), no room is served twice.
    const rest = cursor ? rooms.filter((roomId) => roomId > cursor.after) : rooms;
    if (rest.length <= MUTUAL_ROOMS_PAGE) return { joined: rest, count: rooms.length };
    const joined = rest.slice(0, MUTUAL_ROOMS_PAGE);
    const after = joined[joined.length - 1]!;
    const next_batch = this.makeToken({ after, issuedTs: this.now() }, requester, userId);
    return { joined, count: rooms.length, next_batch };
  }

  makeToken(cursor: BatchCursor, requester: string, userId: string): string {
    const payload = Buffer.from(JSON.stringify([cursor.after, cursor.issuedTs])).toString(
      'base64url',
    );
    return `${payload}.${this.sign(payload, requester, userId)}`;
  }

  /** The cursor of a valid, unexpired token made for this pair of users; else 400. */
  private readToken(token: string, requester: string, userId: string): BatchCursor {
    const cursor = this.verify(token, requester, userId);
    if (!cursor) throw errors.invalidParam('Unknown from token');
    const age = this.now() - cursor.issuedTs;
    if (age > BATCH_TOKEN_LIFETIME_MS || age < 0) {
      throw errors.invalidParam('The from token has expired: list the rooms again');
    }
    return cursor;
  }

  private verify(token: string, requester: string, userId: string): BatchCursor | undefined {
    const [payload, signature, ...rest] = token.split('.');
    if (!payload || !signature || rest.length > 0) return undefined;
    const expected = Buffer.from(this.sign(payload, requester, userId));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      const parts = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
      if (!Array.isArray(parts) || parts.length !== 2) return undefined;
      const [after, issuedTs] = parts as unknown[];
      if (typeof after !== 'string' || !Number.isSafeInteger(issuedTs)) return undefined;
      return { after, issuedTs: issuedTs as number };
    } catch {
      return undefined;
    }
  }

  private sign(payload: string, requester: string, userId: string): string {
    // NUL cannot occur in user IDs: the three parts cannot be confused with others.
    const signed = `${payload}\0${requester}\0${userId}`;
    return createHmac('sha256', this.key).update(signed).digest('base64url');
  }
}

/** The spec's 400s: `user_id` missing, not a user ID (historical grammar allowed), or the caller's own. */
function checkOtherUser(requester: string, userId: string | undefined): asserts userId is string {
  // M_INVALID_PARAM, not M_MISSING_PARAM: the spec's 400 for this endpoint names the one code.
  if (userId === undefined) throw errors.invalidParam('Missing query parameter: user_id');
  if (!isValidUserId(userId)) throw errors.invalidParam('user_id is not a valid user ID');
  if (userId === requester) {
    throw errors.invalidParam('You cannot request a list of shared rooms with yourself');
  }
}
