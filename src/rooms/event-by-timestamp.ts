/**
 * `GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event` (v1.6) and
 * Synapse's admin twin: the room's event nearest a time, from an index.
 *
 * As Synapse: when no event here lies that way, or the one found is next to
 * a gap of history we do not hold (some of its prev_events are missing, as
 * after a join over federation), the room's other servers are asked
 * (`/timestamp_to_event` over federation, once `useRemote` gave the lookup);
 * their answer, checked, wins when it is closer. What other servers ask of
 * us is answered from what we hold only (`local`), so servers never ask each
 * other in circles.
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

export interface FoundEvent {
  eventId: string;
  originServerTs: number;
}

/** The room's other servers, asked over federation (federation/remote-timestamps.ts). */
export interface RemoteTimestamps {
  /** The event they name nearest the time that way, fetched and checked; undefined when none does. */
  nearest(roomId: string, query: TimestampQuery): Promise<FoundEvent | undefined>;
}

/** The query's `ts` (a whole number of milliseconds) and `dir` (`f` or `b`), both required. Pure. */
export function parseTimestampQuery(query: unknown): TimestampQuery {
  const ts = requiredIntegerQuery(query, 'ts');
  const direction = queryString(query, 'dir');
  if (direction === undefined) throw errors.missingParam('dir');
  if (direction !== 'f' && direction !== 'b') throw errors.invalidParam("dir must be 'f' or 'b'");
  return { ts, direction };
}

/**
 * The nearer of two answers to the time (the local one on a tie); a remote
 * one that does not lie the way asked does not count. Pure.
 */
export function nearerEvent(
  { ts, direction }: TimestampQuery,
  local: FoundEvent | undefined,
  remote: FoundEvent | undefined,
): FoundEvent | undefined {
  const towards =
    remote && (direction === 'f' ? remote.originServerTs >= ts : remote.originServerTs <= ts);
  if (!remote || !towards) return local;
  if (!local) return remote;
  const distance = (event: FoundEvent) => Math.abs(event.originServerTs - ts);
  return distance(remote) < distance(local) ? remote : local;
}

export interface EventByTimestampStorage extends CurrentStateStorage {
  rooms: CurrentStateStorage['rooms'] & Pick<RoomStore, 'eventNearTimestamp' | 'heldEvents'>;
}

export class EventByTimestampService {
  private remote: RemoteTimestamps | undefined;

  constructor(private readonly storage: EventByTimestampStorage) {}

  /** Other servers are asked from now on (federation is built after us). */
  useRemote(remote: RemoteTimestamps): void {
    this.remote = remote;
  }

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
  async find(roomId: string, query: TimestampQuery) {
    const local = await this.local(roomId, query);
    const found = (await this.mayBeCloserElsewhere(local))
      ? nearerEvent(query, local, await this.remote?.nearest(roomId, query))
      : local;
    if (!found) {
      const way = query.direction === 'f' ? 'forward' : 'backward';
      throw errors.notFound(`Unable to find event from ${query.ts} in ${way} direction`);
    }
    return { event_id: found.eventId, origin_server_ts: found.originServerTs };
  }

  /** The nearest event this server holds, without asking anyone (what federation serves). */
  async local(roomId: string, { ts, direction }: TimestampQuery): Promise<FoundEvent | undefined> {
    return this.storage.rooms.eventNearTimestamp(roomId, ts, direction);
  }

  /** Nothing found here, or what was found borders history we lack (some prev_events missing). */
  private async mayBeCloserElsewhere(local: FoundEvent | undefined): Promise<boolean> {
    if (!this.remote) return false;
    if (!local) return true;
    const [event] = await this.storage.rooms.heldEvents([local.eventId]);
    const prevs = event?.pdu.prev_events ?? [];
    if (prevs.length === 0) return false;
    const held = await this.storage.rooms.heldEvents(prevs);
    const placed = new Set(held.filter((e) => !e.outlier).map((e) => e.eventId));
    return prevs.some((id) => !placed.has(id));
  }
}
