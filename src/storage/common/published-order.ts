/**
 * The published room directory's order, as every backend keeps it: by
 * (published_ts, room_id), a total order that does not move when rooms gain
 * or lose members, so keyset pagination over it never repeats or skips a
 * room. A token names a place in that order and the direction to go from
 * there; both backends issue the same tokens.
 */
import type { PublishedRoom, PublishedRoomsScan } from '../storage.js';

/** A place in the directory's order. */
export interface Place {
  ts: number;
  roomId: string;
}

export type Direction = 'forward' | 'backward';

/** Before every published room (timestamps are never negative). */
export const START: Place = { ts: -1, roomId: '' };

export interface DirectoryRow {
  room_id: string;
  published_ts: number;
}

const DIRECTION_CODES = { forward: 'f', backward: 'b' } as const;

function encodeToken(direction: Direction, at: Place): string {
  const code = DIRECTION_CODES[direction];
  return Buffer.from(JSON.stringify([code, at.ts, at.roomId])).toString('base64url');
}

/** Where a token says to go; undefined when it is not a token of this order. */
export function decodeToken(token: string): { direction: Direction; at: Place } | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 3) return undefined;
    const [code, ts, roomId] = value as unknown[];
    if (code !== 'f' && code !== 'b') return undefined;
    if (!Number.isSafeInteger(ts) || typeof roomId !== 'string') return undefined;
    return { direction: code === 'f' ? 'forward' : 'backward', at: { ts: ts as number, roomId } };
  } catch {
    return undefined;
  }
}

/** A scan's rows, nearest first, with the tokens that go on from each. */
export function toScan(direction: Direction, rows: DirectoryRow[]): PublishedRoomsScan {
  return {
    direction,
    rooms: rows.map((row): PublishedRoom => {
      const at = { ts: row.published_ts, roomId: row.room_id };
      return {
        roomId: row.room_id,
        laterToken: encodeToken('forward', at),
        earlierToken: encodeToken('backward', at),
      };
    }),
  };
}
