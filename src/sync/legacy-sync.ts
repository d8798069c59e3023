/**
 * The endpoints the spec deprecated in r0 but old clients still call:
 * GET /initialSync, GET /rooms/{roomId}/initialSync, GET /events (the event
 * stream long-poll, also used to peek into one room) and GET /events/{eventId}.
 *
 * Built on what /sync and /messages use: the Notifier bounds every read and
 * wakes the long-poll, RoomHistory reads events with history visibility
 * applied, HistoryService decides who may read a room, EventViews renders, and
 * every token is a sync token (so `end`, `start` and `from` interchange with
 * /sync and /messages).
 */
import { accountDataEventsOf } from './sync-response.js';
import type { JsonObject } from '../events/pdu.js';
import { MatrixError, errors } from '../protocol/errors.js';
import type { EventViews, Viewer } from './event-views.js';
import type {
  AccountDataReader,
  MembershipHistoryReader,
  RoomStateReader,
  StateHistoryReader,
} from '../storage/readers.js';
import type { DirectoryStore, EventRecord, MembershipEvent } from '../storage/storage.js';
import type { HistoryService } from './history-service.js';
import type { Notifier } from './notifier.js';
import type { RoomHistory } from './room-history.js';
import { encodeSyncToken, type StreamPositions } from './stream-token.js';

export interface InitialSyncRequest {
  viewer: Viewer;
  /** Messages per room. */
  limit: number;
  /** Whether rooms the user left (or was banned from) are listed too. */
  archived: boolean;
}

export interface EventStreamRequest {
  viewer: Viewer;
  /** The client's `from` token as sent, and parsed; absent: from now. */
  from?: { token: string; positions: StreamPositions };
  /** Peeking: only this room's events (the user need not be joined). */
  roomId?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** The most events one /events answer carries; a client further behind gets the rest at once on its next call. */
export const EVENT_STREAM_CHUNK_LIMIT = 100;
/** The memberships the spec's RoomInfo `membership` enum knows (no `knock`). */
const LEGACY_MEMBERSHIPS = new Set(['invite', 'join', 'leave', 'ban']);

/** A room's events to read for the stream: positions in (after, upTo]. */
interface StreamRange {
  roomId: string;
  after: number;
  upTo: number;
}

/**
 * The user's memberships and forgotten rooms, rooms' state at a position and
 * their events, the user's account data, and whether a room is published: reads only.
 */
export interface LegacySyncServiceStorage {
  rooms: RoomStateReader & StateHistoryReader & MembershipHistoryReader;
  accountData: AccountDataReader;
  directory: Pick<DirectoryStore, 'isPublished'>;
}

export class LegacySyncService {
  constructor(
    private readonly storage: LegacySyncServiceStorage,
    private readonly views: EventViews,
    private readonly history: RoomHistory,
    private readonly access: HistoryService,
    private readonly notifier: Notifier,
    /** Resolves once the notifier knows the newest position in storage. */
    private readonly ready: Promise<void>,
  ) {}

  /** GET /initialSync: every room the user is joined or invited to (and left, when `archived`). */
  async initialSync(request: InitialSyncRequest): Promise<JsonObject> {
    await this.ready;
    const now = this.notifier.currentPositions();
    const { userId } = request.viewer;
    const memberships = await this.latestMemberships(userId, now.roomEvents);
    const forgotten = new Set(await this.storage.rooms.forgottenRooms(userId));
    const rooms: JsonObject[] = [];
    for (const membership of memberships.values()) {
      if (!this.listedInInitialSync(membership, request.archived, forgotten)) continue;
      rooms.push(await this.roomInfo(request.viewer, membership, now, request.limit));
    }
    // Presence is left empty (present, as the spec requires): /sync is where clients read it.
    const accountData = await this.accountDataEvents(userId, undefined);
    return { end: encodeSyncToken(now), rooms, presence: [], account_data: accountData };
  }

  /**
   * GET /rooms/{roomId}/initialSync: the room as the user may read it, refused
   * (403) as /messages refuses, up to where /messages reads (a former member of
   * a room that is not world-readable: up to the leave, state as it was then);
   * a peeker without any membership gets no `membership` (as Synapse).
   */
  async roomInitialSync(viewer: Viewer, roomId: string, limit: number): Promise<JsonObject> {
    await this.ready;
    const now = this.notifier.currentPositions();
    const upTo = await this.access.readableUpTo(roomId, viewer.userId, now.roomEvents);
    const membership = (await this.latestMemberships(viewer.userId, now.roomEvents)).get(roomId);
    const snapshot = await this.snapshot(viewer, roomId, upTo, now, limit);
    return {
      ...snapshot,
      ...(membership && LEGACY_MEMBERSHIPS.has(membership.membership)
        ? { membership: membership.membership }
        : {}),
      presence: [],
    };
  }

  /**
   * GET /events: the events after `from` in the user's rooms (or in the one
   * peeked room), waiting up to the timeout for some. As SyncService: the
   * notifier's positions are taken before storage is read and are what the wait
   * starts from, so an event committed in between wakes it at once.
   */
  async events(request: EventStreamRequest): Promise<JsonObject> {
    await this.ready;
    const deadline = Date.now() + request.timeoutMs;
    // Without `from`, the stream starts now; fixed once, so a wake-up's events are not skipped.
    const from = request.from?.positions ?? this.notifier.currentPositions();
    const start = request.from?.token ?? encodeSyncToken(from);
    for (;;) {
      const upper = this.notifier.currentPositions();
      const after = Math.min(from.roomEvents, upper.roomEvents);
      const read = await this.readStream(request, after, upper.roomEvents);
      const answer = async () => ({
        start,
        end: encodeSyncToken({ ...upper, roomEvents: read.end }),
        chunk: await this.render(read.events, request.viewer),
      });
      const waitMs = deadline - Date.now();
      if (read.events.length > 0 || waitMs <= 0) return answer();
      const woken = await this.notifier.wait({
        userId: request.viewer.userId,
        roomIds: read.wakingRoomIds,
        since: upper,
        timeoutMs: waitMs,
        signal: request.signal,
      });
      // On timeout the answer's `end` is `upper`: what was read, never a position beyond it.
      if (woken.reason !== 'changed') return answer();
    }
  }

  /**
   * GET /events/{eventId}: /rooms/{roomId}/event/{eventId} without the room.
   * The spec answers 404 both for an unknown event and for one the user may not
   * read, so that the answer does not tell which.
   */
  async event(viewer: Viewer, eventId: string): Promise<JsonObject> {
    const event = await this.storage.rooms.getEvent(eventId);
    if (!event) throw errors.notFound('Event not found');
    try {
      return await this.access.event(viewer, event.roomId, eventId);
    } catch (err) {
      if (err instanceof MatrixError && err.status === 403)
        throw errors.notFound('Event not found');
      throw err;
    }
  }

  private listedInInitialSync(
    membership: MembershipEvent,
    archived: boolean,
    forgotten: Set<string>,
  ): boolean {
    switch (membership.membership) {
      case 'join':
      case 'invite':
        return true;
      case 'leave':
      case 'ban':
        return archived && !forgotten.has(membership.roomId);
      default:
        // Knocks: the era's RoomInfo has no such membership (Synapse leaves them out too).
        return false;
    }
  }

  /** One entry of /initialSync's `rooms`. */
  private async roomInfo(
    viewer: Viewer,
    membership: MembershipEvent,
    now: StreamPositions,
    limit: number,
  ): Promise<JsonObject> {
    const { roomId } = membership;
    if (membership.membership === 'invite') return this.invitedRoomInfo(viewer, membership);
    // A joined room up to now; a left one up to the leave, with the state as it was then.
    const upTo = membership.membership === 'join' ? now.roomEvents : membership.streamOrdering;
    const snapshot = await this.snapshot(viewer, roomId, upTo, now, limit);
    return { ...snapshot, membership: membership.membership };
  }

  /** An invited room: the invite event (no messages or state: the invitee may not read them yet). */
  private async invitedRoomInfo(viewer: Viewer, invite: MembershipEvent): Promise<JsonObject> {
    const event = await this.storage.rooms.getEvent(invite.eventId);
    const info: JsonObject = {
      room_id: invite.roomId,
      membership: 'invite',
      visibility: await this.visibilityOf(invite.roomId),
    };
    if (event) {
      info.invite = (await this.views.one(event, viewer)) as unknown as JsonObject;
      // Not in the spec's schema, but Synapse sends it and clients of the era read it.
      info.inviter = event.pdu.sender;
    }
    return info;
  }

  /**
   * A room at a position: its newest `limit` events the user may see, the state
   * there, and tokens that page on with /messages (`start` backwards, left out
   * when there is nothing earlier, as the spec allows; `end` forwards).
   */
  private async snapshot(
    viewer: Viewer,
    roomId: string,
    upTo: number,
    now: StreamPositions,
    limit: number,
  ): Promise<JsonObject> {
    const page = await this.history.newest({
      roomId,
      userId: viewer.userId,
      after: 0,
      upTo,
      limit,
    });
    const token = (position: number) => encodeSyncToken({ ...now, roomEvents: position });
    const messages: JsonObject = {
      chunk: await this.render(page.events, viewer),
      end: token(upTo),
    };
    const first = page.events[0];
    if (page.resumeAt !== undefined)
      messages.start = token(first ? first.streamOrdering - 1 : page.resumeAt);
    const stateIds = await this.storage.rooms.stateIdsAt(roomId, upTo);
    const state = await this.storage.rooms.getEvents([...stateIds.values()]);
    return {
      room_id: roomId,
      messages,
      state: await this.render(state, viewer),
      visibility: await this.visibilityOf(roomId),
      account_data: await this.accountDataEvents(viewer.userId, roomId),
    };
  }

  /** The user's account data, global (no room) or of one room, as events. */
  private async accountDataEvents(userId: string, roomId: string | undefined) {
    const records = await this.storage.accountData.whole(userId, roomId ? [roomId] : [], !roomId);
    return accountDataEventsOf(records, roomId);
  }

  /**
   * The stream's events in (after, upTo], oldest first, at most
   * EVENT_STREAM_CHUNK_LIMIT, and the position they reach (the next `from`).
   */
  private async readStream(request: EventStreamRequest, after: number, upTo: number) {
    const { ranges, wakingRoomIds } = request.roomId
      ? await this.peekRange(request.viewer, request.roomId, after, upTo)
      : await this.userRanges(request.viewer.userId, after, upTo);
    let end = upTo;
    const events: EventRecord[] = [];
    for (const range of ranges) {
      const page = await this.history.oldest({
        roomId: range.roomId,
        userId: request.viewer.userId,
        after: range.after,
        upTo: range.upTo,
        limit: EVENT_STREAM_CHUNK_LIMIT,
      });
      events.push(...page.events);
      // A room read only part way: nothing beyond where it stopped can be answered yet.
      if (page.resumeAt !== undefined) end = Math.min(end, page.resumeAt);
    }
    const inOrder = events
      .filter((e) => e.streamOrdering <= end)
      .sort((a, b) => a.streamOrdering - b.streamOrdering);
    const chunk = inOrder.slice(0, EVENT_STREAM_CHUNK_LIMIT);
    if (chunk.length < inOrder.length) end = chunk.at(-1)!.streamOrdering;
    return { events: chunk, end, wakingRoomIds };
  }

  /**
   * Peeking with `room_id` (kept, as the spec's peeking_events.yaml still lists
   * it and it costs one range): allowed where /messages is (member, former
   * member up to the leave, or world-readable room).
   */
  private async peekRange(viewer: Viewer, roomId: string, after: number, upTo: number) {
    const readable = await this.access.readableUpTo(roomId, viewer.userId, upTo);
    return { ranges: [{ roomId, after, upTo: readable }], wakingRoomIds: [roomId] };
  }

  /**
   * What the user's stream covers, from their membership at `upTo`: joined
   * rooms' events; for a room left or banned from since `after`, its events up
   * to that; for an invite or knock since `after`, that one event.
   */
  private async userRanges(userId: string, after: number, upTo: number) {
    const ranges: StreamRange[] = [];
    const wakingRoomIds: string[] = [];
    for (const membership of (await this.latestMemberships(userId, upTo)).values()) {
      const { roomId, streamOrdering: at } = membership;
      if (membership.membership === 'join') {
        ranges.push({ roomId, after, upTo });
        wakingRoomIds.push(roomId);
      } else if (at > after) {
        const onlyItself = membership.membership === 'invite' || membership.membership === 'knock';
        ranges.push({ roomId, after: onlyItself ? at - 1 : after, upTo: at });
      }
    }
    return { ranges, wakingRoomIds };
  }

  /** The user's latest membership event in each room, up to a position. */
  private async latestMemberships(userId: string, upTo: number) {
    const latest = new Map<string, MembershipEvent>();
    // Oldest first: later events overwrite earlier ones.
    for (const event of await this.storage.rooms.membershipEventsOf(userId, upTo)) {
      latest.set(event.roomId, event);
    }
    return latest;
  }

  private async visibilityOf(roomId: string): Promise<'public' | 'private'> {
    return (await this.storage.directory.isPublished(roomId)) ? 'public' : 'private';
  }

  /** Client events with `room_id` (these endpoints mix rooms in one list). */
  private async render(events: EventRecord[], viewer: Viewer): Promise<JsonObject[]> {
    return (await this.views.forClient(events, viewer)) as unknown as JsonObject[];
  }
}
