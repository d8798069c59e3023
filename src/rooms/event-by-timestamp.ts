/**
 * `GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event` (v1.6) and
 * Synapse's admin twin: the room's event nearest a time, from an index.
 */
import { errors } from '../protocol/errors.js';
import { queryString, requiredIntegerQuery } from '../protocol/params.js';
import type { RoomStore } from '../storage/storage.js';
import {
  currentMembership,
  isWorldReadable,
  type CurrentStateStorage,
} from './current-membership.js';

export interface TimestampQuery {
  ts: number;
  direction: 'f' | 'b';
}

/** The query's `ts` (a whole number of milliseconds) and `dir` (`f` or `b`), both required. Pure. */
export function parseTimestampQuery(query: unknown): TimestampQuery {
  const ts = requiredIntegerQuery(query, 'ts');
  const direction = queryString(query, 'dir');
  if (direction === undefined) throw errors.missingParam('dir');
  if (direction !== 'f' && direction !== 'b') throw errors.invalidParam("dir must be 'f' or 'b'");
  return { ts, direction };
}

export interface EventByTimestampStorage extends CurrentStateStorage {
  rooms: CurrentStateStorage['rooms'] & Pick<RoomStore, 'eventNearTimestamp'>;
}

export class EventByTimestampService {
  constructor(private readonly storage: EventByTimestampStorage) {}

  /**
   * For a client: members (and, as Synapse, those who have left, whose history
   * stays theirs) or anyone when the room is world-readable.
   */
  async forUser(userId: string, roomId: string, query: TimestampQuery) {
    const membership = await currentMembership(this.storage, roomId, userId);
    if (membership !== 'join' && membership !== 'leave') {
      if (!(await isWorldReadable(this.storage, roomId))) {
        throw errors.forbidden(
          `User ${userId} not in room ${roomId}, and room previews are disabled`,
        );
      }
    }
    return this.find(roomId, query);
  }

  /** For a server admin: any room the server has. */
  async find(roomId: string, { ts, direction }: TimestampQuery) {
    const found = await this.storage.rooms.eventNearTimestamp(roomId, ts, direction);
    if (!found) {
      const way = direction === 'f' ? 'forward' : 'backward';
      throw errors.notFound(`Unable to find event from ${ts} in ${way} direction`);
    }
    return { event_id: found.eventId, origin_server_ts: found.originServerTs };
  }
}
