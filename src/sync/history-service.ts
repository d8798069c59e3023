/**
 * Reading a room's history: GET /messages (paging backwards and forwards with
 * tokens that interchange with sync's `prev_batch` and `next_batch`) and
 * GET /context (the events around one event).
 *
 * Who may read: a member reads up to now, a former member up to their leave
 * (unless they forgot the room), anyone else only a `world_readable` room;
 * within that, history visibility (RoomHistory's check) decides event by event.
 *
 * Paging back past the oldest event held of a room joined over federation
 * asks other servers for the earlier history first (federation/backfill.ts);
 * it is stored at positions below everything the room held (negative ones),
 * so the tokens already given out stay valid and the next page reads on.
 */
import { stateMapKey } from '../events/auth/auth-state.js';
import { stateMapKeyType } from '../events/auth-rules.js';
import type { JsonObject } from '../events/pdu.js';
import { errors } from '../protocol/errors.js';
import { currentStateEvent, isWorldReadable } from '../rooms/current-membership.js';
import type { EventViews, Viewer } from './event-views.js';
import type {
  MembershipHistoryReader,
  RoomStateReader,
  StateHistoryReader,
} from '../storage/readers.js';
import type { EventRecord, StateIds } from '../storage/storage.js';
import { DEFAULT_TIMELINE_LIMIT, eventMatchesFilter, type RoomEventFilter } from './filters.js';
import type { Notifier } from './notifier.js';
import type { HistoryPage, RoomHistory } from './room-history.js';
import { encodeSyncToken, parsePaginationToken } from './stream-token.js';
import { lazyLoadedState } from './sync-response.js';

export interface MessagesRequest {
  viewer: Viewer;
  roomId: string;
  dir: 'b' | 'f';
  from?: string;
  to?: string;
  limit?: number;
  filter?: RoomEventFilter;
  /**
   * Synapse's admin privilege (the Admin API's /messages): every event of the
   * room, whatever the viewer's membership and the history visibility.
   */
  asServerAdmin?: boolean;
}

export interface ContextRequest {
  viewer: Viewer;
  roomId: string;
  eventId: string;
  limit?: number;
  filter?: RoomEventFilter;
}

/** Fetches a room's history from before its oldest held event (federation/backfill.ts). */
export interface HistoryBackfill {
  /** True when it stored events (the room is read again), false when there were none to get. */
  backfill(roomId: string): Promise<boolean>;
}

/** The lowest position of all: a read from it includes backfilled history (negative positions). */
const EARLIEST = Number.MIN_SAFE_INTEGER;
/** Backfills one /messages may wait for while its page is not full. */
const MAX_BACKFILL_ROUNDS = 3;

/** Rooms' state (current, at a position, after an event), events, forgotten rooms: reads only. */
export interface HistoryServiceStorage {
  rooms: RoomStateReader & StateHistoryReader & MembershipHistoryReader;
}

export class HistoryService {
  private backfiller: HistoryBackfill | undefined;

  constructor(
    private readonly storage: HistoryServiceStorage,
    private readonly views: EventViews,
    private readonly history: RoomHistory,
    private readonly notifier: Notifier,
  ) {}

  /** Federation, once built: /messages then backfills rooms joined over it. */
  useBackfill(backfiller: HistoryBackfill): void {
    this.backfiller = backfiller;
  }

  async messages(request: MessagesRequest): Promise<JsonObject> {
    const { viewer, roomId } = request;
    const now = this.notifier.currentPositions();
    const readableUpTo = request.asServerAdmin
      ? await this.existingRoomUpTo(roomId, now.roomEvents)
      : await this.readableUpTo(roomId, viewer.userId, now.roomEvents);
    const from =
      request.from === undefined
        ? request.dir === 'b'
          ? now.roomEvents
          : EARLIEST
        : positionOf(request.from);
    const to = request.to === undefined ? undefined : positionOf(request.to);
    const limit = request.limit ?? DEFAULT_TIMELINE_LIMIT;
    const read = {
      roomId,
      userId: viewer.userId,
      limit,
      filter: request.filter,
      allVisible: request.asServerAdmin,
    };
    const readPage = () =>
      request.dir === 'b'
        ? this.history.newest({
            ...read,
            after: to ?? EARLIEST,
            upTo: Math.min(from, readableUpTo),
          })
        : this.history.oldest({
            ...read,
            after: from,
            upTo: Math.min(to ?? readableUpTo, readableUpTo),
          });
    let page = await readPage();
    if (request.dir === 'b' && to === undefined) {
      page = await this.withBackfill(roomId, page, readPage, Math.min(from, readableUpTo));
    }
    const chunk = request.dir === 'b' ? [...page.events].reverse() : page.events;
    const token = (position: number) => encodeSyncToken({ ...now, roomEvents: position });
    const response: JsonObject = {
      start: request.from ?? token(from),
      chunk: await this.render(chunk, viewer),
    };
    // No `end` once there is nothing further: the client has reached the room's first event.
    if (page.resumeAt !== undefined) response.end = token(page.resumeAt);
    if (request.filter?.lazyLoadMembers && chunk.length > 0) {
      response.state = await this.membersOfSenders(roomId, chunk, viewer);
    }
    return response;
  }

  /**
   * A backward page that read all the room holds below `from`: while it is
   * so, the history before is fetched (a few rounds at most) and the page read
   * again. A full page that reached the oldest event backfills too, so that it
   * ends with an `end` token when there is more.
   */
  private async withBackfill(
    roomId: string,
    page: HistoryPage,
    readPage: () => Promise<HistoryPage>,
    upTo: number,
  ): Promise<HistoryPage> {
    const backfiller = this.backfiller;
    if (!backfiller) return page;
    let fetched = false;
    for (let round = 0; page.resumeAt === undefined && round < MAX_BACKFILL_ROUNDS; round++) {
      // The room's first event reached: nothing came before it.
      if (page.events[0]?.pdu.type === 'm.room.create') return page;
      // A failed backfill answers the client with what is held.
      fetched = await backfiller.backfill(roomId).catch(() => false);
      if (!fetched) return page;
      page = await readPage();
    }
    // Still short after the rounds, though the last one found more: an `end` below what
    // the page holds brings the client back for the rest.
    if (page.resumeAt === undefined && fetched) {
      const oldest = page.events[0];
      return { ...page, resumeAt: oldest ? oldest.streamOrdering - 1 : upTo };
    }
    return page;
  }

  async context(request: ContextRequest): Promise<JsonObject> {
    const { viewer, roomId, eventId } = request;
    const now = this.notifier.currentPositions();
    const readableUpTo = await this.readableUpTo(roomId, viewer.userId, now.roomEvents);
    const event = await this.visibleEvent(viewer, roomId, eventId, readableUpTo);
    const limit = request.limit ?? DEFAULT_TIMELINE_LIMIT;
    // As Synapse: half the limit before the event, the rest after.
    const beforeLimit = Math.floor(limit / 2);
    const read = { roomId, userId: viewer.userId, filter: request.filter };
    const before = await this.history.newest({
      ...read,
      limit: beforeLimit,
      after: EARLIEST,
      upTo: event.streamOrdering - 1,
    });
    const after = await this.history.oldest({
      ...read,
      limit: limit - beforeLimit,
      after: event.streamOrdering,
      upTo: readableUpTo,
    });
    const token = (position: number) => encodeSyncToken({ ...now, roomEvents: position });
    const startPosition = before.events[0]
      ? before.events[0].streamOrdering - 1
      : event.streamOrdering - 1;
    const endPosition = after.events.at(-1)?.streamOrdering ?? event.streamOrdering;
    // The spec: the state at the last event returned.
    const lastEvent = after.events.at(-1) ?? event;
    const stateIds = (await this.storage.rooms.stateIdsAfter(lastEvent.eventId)) ?? new Map();
    const everything = [...before.events, event, ...after.events];
    const wanted = request.filter?.lazyLoadMembers
      ? lazyLoadedState(stateIds, everything, [])
      : stateIds;
    // event_context.yaml: the filter applies to events_before, events_after and state.
    const filter = request.filter;
    const state = (await this.storage.rooms.getEvents([...wanted.values()])).filter(
      (e) => !filter || eventMatchesFilter(e.pdu, filter, roomId),
    );
    return {
      event: (await this.views.one(event, viewer)) as unknown as JsonObject,
      events_before: await this.render([...before.events].reverse(), viewer),
      events_after: await this.render(after.events, viewer),
      start: token(startPosition),
      end: token(endPosition),
      state: await this.render(state, viewer),
    };
  }

  /**
   * GET /rooms/{roomId}/event/{eventId}: one event, if the user may see it.
   * rooms.yaml answers 404 both for a missing event and one the user may not
   * read, the room refused as a whole included, so as not to tell which.
   */
  async event(viewer: Viewer, roomId: string, eventId: string): Promise<JsonObject> {
    const now = this.notifier.currentPositions();
    const readableUpTo = await this.readLimit(roomId, viewer.userId, now.roomEvents);
    if (readableUpTo === undefined) throw errors.notFound('Event not found');
    const event = await this.visibleEvent(viewer, roomId, eventId, readableUpTo);
    return (await this.views.one(event, viewer)) as unknown as JsonObject;
  }

  /**
   * The room's member events at a point: `at` (a sync or pagination token) or
   * now, and never later than what the user may read (a former member sees the
   * members as they were when they left).
   */
  async members(viewer: Viewer, roomId: string, at: string | undefined): Promise<EventRecord[]> {
    const now = this.notifier.currentPositions();
    const readableUpTo = await this.readableUpTo(roomId, viewer.userId, now.roomEvents);
    const position = Math.min(at === undefined ? now.roomEvents : positionOf(at), readableUpTo);
    const state = await this.storage.rooms.stateIdsAt(roomId, position);
    const memberIds = [...state].filter(([key]) => isMemberKey(key)).map(([, id]) => id);
    return this.storage.rooms.getEvents(memberIds);
  }

  /**
   * The room's state as the user may read it (GET /rooms/{roomId}/state): the
   * current state for a member (and in a world-readable room), the state when
   * they left for a former member ("If the user has left the room then the
   * state is taken from the state of the room when they left"); 403 for anyone else.
   */
  async state(userId: string, roomId: string): Promise<EventRecord[]> {
    return this.storage.rooms.getEvents([...(await this.readableState(roomId, userId)).values()]);
  }

  /** One entry of the state the user may read; 404 when there is none. */
  async stateEvent(
    userId: string,
    roomId: string,
    type: string,
    stateKey: string,
  ): Promise<EventRecord> {
    const eventId = (await this.readableState(roomId, userId)).get(stateMapKey(type, stateKey));
    const event = eventId === undefined ? undefined : await this.storage.rooms.getEvent(eventId);
    if (!event) throw errors.notFound('No such state event');
    return event;
  }

  private async readableState(roomId: string, userId: string): Promise<StateIds> {
    const upTo = await this.readableUpTo(roomId, userId, Number.MAX_SAFE_INTEGER);
    return upTo === Number.MAX_SAFE_INTEGER
      ? this.storage.rooms.currentStateIds(roomId)
      : this.storage.rooms.stateIdsAt(roomId, upTo);
  }

  /** The event, if it is in the room and the user may see it; 404 otherwise (as Synapse). */
  private async visibleEvent(
    viewer: Viewer,
    roomId: string,
    eventId: string,
    readableUpTo: number,
  ): Promise<EventRecord> {
    const event = await this.storage.rooms.getEvent(eventId);
    const visible =
      event &&
      event.roomId === roomId &&
      event.streamOrdering <= readableUpTo &&
      (await this.history.isVisible(viewer.userId, event));
    if (!visible) throw errors.notFound('Event not found');
    return event;
  }

  /**
   * The last position the user may read the room at, as Synapse decides it: now
   * for a member and in a world-readable room, the leave for a former member who
   * left (not one who was banned) and has not forgotten the room since; anyone
   * else (invitees too) is refused with 403, as /messages and /members specify.
   */
  async readableUpTo(roomId: string, userId: string, now: number): Promise<number> {
    const upTo = await this.readLimit(roomId, userId, now);
    if (upTo === undefined) throw errors.forbidden('You are not allowed to read this room');
    return upTo;
  }

  /**
   * readableUpTo's answer, undefined when the user may not read the room (or it
   * is unknown): for the endpoints that answer that with 404, not 403.
   */
  async readLimit(roomId: string, userId: string, now: number): Promise<number | undefined> {
    if (!(await this.storage.rooms.getRoom(roomId))) return undefined;
    // The current member event: one index lookup (a leave stored after `now` still bounds the read).
    const member = await currentStateEvent(this.storage, roomId, 'm.room.member', userId);
    const membership = member?.pdu.content.membership;
    if (membership === 'join') return now;
    // A forgotten room is no worse than one never joined: world-readable still reads.
    if (await isWorldReadable(this.storage, roomId)) return now;
    // leaving.yaml: after /forget "a user will no longer be able to retrieve history for this room".
    if (membership === 'leave' && !(await this.isForgotten(roomId, userId))) {
      return Math.min(member!.streamOrdering, now);
    }
    return undefined;
  }

  /** A server admin reads any room up to now; an unknown room is 404. */
  private async existingRoomUpTo(roomId: string, now: number): Promise<number> {
    if (!(await this.storage.rooms.getRoom(roomId))) throw errors.notFound('Unknown room');
    return now;
  }

  /** Forgetting lasts until the user's next membership event (room-store clears it then). */
  private async isForgotten(roomId: string, userId: string): Promise<boolean> {
    return (await this.storage.rooms.forgottenRooms(userId)).includes(roomId);
  }

  private async membersOfSenders(
    roomId: string,
    chunk: EventRecord[],
    viewer: Viewer,
  ): Promise<JsonObject[]> {
    const newest = chunk.reduce((a, b) => (a.streamOrdering > b.streamOrdering ? a : b));
    const state = await this.storage.rooms.stateIdsAt(roomId, newest.streamOrdering);
    const members = [...lazyLoadedState(state, chunk, [])].filter(([key]) => isMemberKey(key));
    const events = await this.storage.rooms.getEvents(members.map(([, id]) => id));
    return this.render(events, viewer);
  }

  private async render(events: EventRecord[], viewer: Viewer): Promise<JsonObject[]> {
    return (await this.views.forClient(events, viewer)) as unknown as JsonObject[];
  }
}

function isMemberKey(key: string): boolean {
  return stateMapKeyType(key) === 'm.room.member';
}

/** A pagination token: sync's token format; only its room-event position matters here. */
function positionOf(token: string): number {
  return parsePaginationToken(token).roomEvents;
}
