/**
 * GET /sync: what changed for a user between two stream positions, and the
 * long-poll that waits until something does.
 *
 * The upper bound of every read is the notifier's position, taken before
 * storage is read: the notifier only learns of events once they have
 * committed, so nothing below it is still in flight, and a change arriving
 * after it is seen by the wait (never lost between the read and the wait).
 *
 * Rooms: the user's membership events up to the upper bound say which rooms
 * the response covers and how. A room joined at both points gets the events
 * after `since`; a room newly joined (or every room, on an initial or
 * full-state sync) gets the state at the start of its timeline; invites and
 * knocks get stripped state; rooms left since `since` get the events up to the
 * leave. Every other stream (account data, receipts, typing, presence,
 * to-device, device lists) is a provider (sync-streams.ts) that adds its part;
 * the fields the spec requires are present even when no provider fills them.
 */
import { blocksInvites } from '../rooms/invite-permission.js';
import { stateMapKey } from '../events/auth-rules.js';
import type { JsonObject } from '../events/pdu.js';
import type { EventViews, Viewer } from './event-views.js';
import {
  membershipHistories,
  withMembershipAt,
  type MembershipStep,
} from './membership-at-event.js';
import type {
  AccountDataReader,
  MembershipHistoryReader,
  MembershipReader,
  RoomStateReader,
  StateHistoryReader,
} from '../storage/readers.js';
import type { EventRecord, MembershipEvent, RoomStore, StateIds } from '../storage/storage.js';
import {
  DEFAULT_TIMELINE_LIMIT,
  applyEventFields,
  eventMatchesFilter,
  roomMatchesFilter,
  type SyncFilter,
} from './filters.js';
import { mapConcurrently } from '../util/map-concurrently.js';
import type { Notifier } from './notifier.js';
import type { RoomHistory } from './room-history.js';
import {
  orderProviders,
  type JoinedRoomSection,
  type StreamContext,
  type SyncResponseParts,
  type SyncStreamProvider,
  type SyncTopLevel,
} from './sync-streams.js';
import { encodeSyncToken, samePositions, type StreamPositions } from './stream-token.js';
import {
  MAX_HEROES,
  ROOM_NAME_STATE,
  lazyLoadedState,
  namesTheRoom,
  roomsHaveChanges,
  stateBefore,
  stateDelta,
  strippedState,
  accountDataEventsOf,
  strippedStateIds,
  withoutTimelineEvents,
  type SyncRooms,
} from './sync-response.js';

export interface SyncRequest {
  viewer: Viewer;
  since: StreamPositions | undefined;
  filter: SyncFilter;
  fullState: boolean;
  /**
   * v1.16's `use_state_after` (MSC4222): the state up to the END of the timeline, as
   * `state_after`, instead of up to its start as `state`.
   */
  useStateAfter?: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** The two points a sync covers: after `since` (absent: from the beginning), up to `upper`. */
interface SyncWindow {
  since: StreamPositions | undefined;
  upper: StreamPositions;
  fullState: boolean;
}

interface RoomMemberships {
  /** The user's latest membership event in each room, at the upper bound. */
  atUpper: Map<string, MembershipEvent>;
  /** The same at `since` (empty on an initial sync). */
  atSince: Map<string, MembershipEvent>;
  /** Each room's memberships up to the upper bound, oldest first (`unsigned.membership`). */
  histories: Map<string, MembershipStep[]>;
}

/**
 * Rooms whose sections are read at once: on PostgreSQL their round trips
 * overlap across the pool (10 connections by default); more would only queue.
 */
const ROOMS_IN_FLIGHT = 8;

/**
 * The user's memberships (current and as events) and forgotten rooms, rooms'
 * state (current, at a position, after an event), events, member counts and
 * heroes, and the rooms' account data: reads only.
 */
export interface SyncServiceStorage {
  rooms: RoomStateReader &
    StateHistoryReader &
    MembershipReader &
    MembershipHistoryReader &
    Pick<RoomStore, 'someMembers'>;
  accountData: AccountDataReader;
}

export class SyncService {
  /** Run in an order that honours each one's `after`. */
  private readonly providers: readonly SyncStreamProvider[];

  constructor(
    private readonly storage: SyncServiceStorage,
    private readonly views: EventViews,
    private readonly history: RoomHistory,
    private readonly notifier: Notifier,
    /** Resolves once the notifier knows the newest position in storage. */
    private readonly ready: Promise<void>,
    /** The other streams' parts of the response (sync-streams.ts), in any order. */
    providers: readonly SyncStreamProvider[] = [],
  ) {
    this.providers = orderProviders(providers);
  }

  async sync(request: SyncRequest): Promise<JsonObject> {
    await this.ready;
    const deadline = Date.now() + request.timeoutMs;
    for (;;) {
      const upper = this.notifier.currentPositions();
      const since = request.since && clampTo(request.since, upper);
      const window = { since, upper, fullState: request.fullState };
      // A long-poll that resumes from the newest position (the usual case) has nothing to read yet.
      const nothingNew = since !== undefined && !request.fullState && samePositions(since, upper);
      const built = nothingNew ? undefined : await this.build(request, window);
      if (built && (!since || request.fullState || built.changed)) return built.response;
      const joinedRoomIds =
        built?.joinedRoomIds ??
        (await this.storage.rooms.roomsWithMembership(request.viewer.userId, 'join'));
      // Nothing changed: the streamless parts (key counts) are still sent as they stand.
      const answer = async () =>
        built?.response ??
        (await this.assemble(request, window, emptyRooms(), joinedRoomIds)).response;
      const waitMs = deadline - Date.now();
      if (waitMs <= 0) return answer();
      const woken = await this.notifier.wait({
        userId: request.viewer.userId,
        roomIds: joinedRoomIds,
        since: upper,
        timeoutMs: waitMs,
        signal: request.signal,
      });
      if (woken.reason !== 'changed') return answer();
    }
  }

  private async build(request: SyncRequest, window: SyncWindow) {
    const { userId } = request.viewer;
    const memberships = await this.membershipsOf(userId, window);
    const forgotten = new Set(await this.storage.rooms.forgottenRooms(userId));
    const joinedRoomIds: string[] = [];
    const wanted: [string, MembershipEvent][] = [];
    for (const [roomId, now] of memberships.atUpper) {
      if (now.membership === 'join') joinedRoomIds.push(roomId);
      if (roomMatchesFilter(roomId, request.filter.room)) wanted.push([roomId, now]);
    }
    const freshRoomIds = new Set<string>();
    // Each room's section is its own reads: a few rooms at once, placed in order after.
    const sections = await mapConcurrently(wanted, ROOMS_IN_FLIGHT, ([roomId, now]) =>
      this.roomSection(request, window, roomId, now, {
        before: memberships.atSince.get(roomId),
        forgotten: forgotten.has(roomId),
        freshRoomIds,
        memberships: memberships.histories.get(roomId) ?? [],
      }),
    );
    const rooms = emptyRooms();
    wanted.forEach(([roomId], i) => {
      const placed = sections[i];
      if (placed) rooms[placed.kind][roomId] = placed.section;
    });
    return this.assemble(request, window, rooms, joinedRoomIds, freshRoomIds);
  }

  /** The room's section of the response and where it goes, or nothing to say of it. */
  private async roomSection(
    request: SyncRequest,
    window: SyncWindow,
    roomId: string,
    now: MembershipEvent,
    room: {
      before?: MembershipEvent;
      forgotten: boolean;
      freshRoomIds: Set<string>;
      memberships: readonly MembershipStep[];
    },
  ): Promise<{ kind: keyof SyncRooms; section: unknown } | undefined> {
    const { before, memberships } = room;
    const changed = !window.since || now.streamOrdering > window.since.roomEvents;
    const placed = (kind: keyof SyncRooms, section: unknown) =>
      section === undefined ? undefined : { kind, section };
    switch (now.membership) {
      case 'join': {
        const newlyJoined = !window.since || before?.membership !== 'join';
        const fresh = newlyJoined || window.fullState;
        if (fresh) room.freshRoomIds.add(roomId);
        // full_state sends all the state, but the timeline still starts at `since` (sync.yaml).
        const after = newlyJoined ? 0 : window.since!.roomEvents;
        const joined = await this.joinedRoom(request, window, roomId, {
          fresh,
          after,
          memberships,
        });
        return placed('join', joined);
      }
      case 'invite':
        if (!(changed || window.fullState)) return undefined;
        if (await this.fromIgnored(request.viewer.userId, now)) return undefined;
        // Invite blocking (v1.18): stored invites are not served while it is on.
        if (await blocksInvites(this.storage, request.viewer.userId)) return undefined;
        return placed('invite', await this.invitedRoom(now));
      case 'knock':
        if (!(changed || window.fullState)) return undefined;
        return placed('knock', await this.knockedRoom(now));
      default: {
        // leave or ban. An incremental sync always tells of a room left since;
        // an initial or full-state one lists left rooms only when the filter asks.
        const tell = window.since && changed ? true : request.filter.room.includeLeave;
        if (!tell || room.forgotten) return undefined;
        return placed('leave', await this.leftRoom(request, window, now, before, memberships));
      }
    }
  }

  /** The rooms with every provider's part added: the whole response. */
  private async assemble(
    request: SyncRequest,
    window: SyncWindow,
    rooms: SyncRooms,
    joinedRoomIds: string[],
    freshRoomIds: ReadonlySet<string> = new Set(),
  ) {
    const parts = new ResponseParts(
      window,
      rooms.join as Record<string, JoinedRoomSection>,
      request.useStateAfter ? 'state_after' : 'state',
    );
    const context: StreamContext = {
      viewer: request.viewer,
      since: window.since,
      upper: window.upper,
      fullState: window.fullState,
      filter: request.filter,
      joinedRoomIds,
      freshRoomIds,
    };
    let changed = roomsHaveChanges(rooms);
    for (const provider of this.providers) {
      if (hasNothingToAdd(provider, context)) continue;
      if (await provider.contribute(context, parts)) changed = true;
    }
    rooms.join = Object.fromEntries(parts.joinedRooms);
    const next = { ...window.upper, ...parts.heldBack };
    return { response: responseShell(window, rooms, parts.top, next), joinedRoomIds, changed };
  }

  private async membershipsOf(userId: string, window: SyncWindow): Promise<RoomMemberships> {
    const events = await this.storage.rooms.membershipEventsOf(userId, window.upper.roomEvents);
    const atUpper = new Map<string, MembershipEvent>();
    const atSince = new Map<string, MembershipEvent>();
    const sincePosition = window.since?.roomEvents ?? 0;
    for (const event of events) {
      atUpper.set(event.roomId, event);
      if (event.streamOrdering <= sincePosition) atSince.set(event.roomId, event);
    }
    return { atUpper, atSince, histories: membershipHistories(events) };
  }

  /** A joined room's section; undefined when an incremental sync has nothing new in it. */
  private async joinedRoom(
    request: SyncRequest,
    window: SyncWindow,
    roomId: string,
    {
      fresh,
      after,
      memberships,
    }: { fresh: boolean; after: number; memberships: readonly MembershipStep[] },
  ): Promise<JsonObject | undefined> {
    const section = await this.roomTimelineAndState(request, window, roomId, {
      after,
      upTo: window.upper.roomEvents,
      fresh,
    });
    if (!fresh && section.timeline.length === 0 && section.state.size === 0) return undefined;
    // Members, a name or an alias changed: the counts or the need for heroes may have.
    const touchesSummary = [...section.timeline, ...section.stateEvents].some((e) =>
      SUMMARY_STATE_TYPES.has(e.pdu.type),
    );
    const summary =
      fresh || touchesSummary ? await this.summary(roomId, request.viewer) : undefined;
    const heroes = summary?.['m.heroes'] as string[] | undefined;
    if (heroes && request.filter.room.state.lazyLoadMembers) {
      await this.addHeroMembers(roomId, section, heroes, request);
    }
    return {
      ...(await this.renderRoom(request, window, roomId, section, memberships)),
      ...(summary ? { summary } : {}),
      ...emptyRoomParts(),
    };
  }

  /**
   * sync.yaml: "When lazy-loading room members is enabled, the membership
   * events for the heroes MUST be included in the state, unless they are
   * redundant" (already in this section's state or timeline).
   */
  private async addHeroMembers(
    roomId: string,
    section: RoomSection,
    heroes: string[],
    request: SyncRequest,
  ): Promise<void> {
    const inSection = new Set([...section.timeline, ...section.stateEvents].map((e) => e.eventId));
    const wanted = heroes.map((userId) => ({ type: 'm.room.member', stateKey: userId }));
    const current = await this.storage.rooms.currentStateIdsFor(roomId, wanted);
    const missing = [...current.values()].filter((eventId) => !inSection.has(eventId));
    const events = await this.storage.rooms.getEvents(missing);
    const stateFilter = request.filter.room.state;
    for (const event of events) {
      if (!eventMatchesFilter(event.pdu, stateFilter, roomId)) continue;
      section.stateEvents.push(event);
      section.state.set(stateMapKey(event.pdu.type, event.pdu.state_key!), event.eventId);
    }
  }

  /** A room the user has left or been banned from: its events up to the leave. */
  private async leftRoom(
    request: SyncRequest,
    window: SyncWindow,
    leave: MembershipEvent,
    before: MembershipEvent | undefined,
    memberships: readonly MembershipStep[],
  ): Promise<JsonObject> {
    const wasJoined = window.since !== undefined && before?.membership === 'join';
    const section = await this.roomTimelineAndState(request, window, leave.roomId, {
      after: wasJoined ? window.since!.roomEvents : 0,
      upTo: leave.streamOrdering,
      fresh: !wasJoined,
    });
    return {
      ...(await this.renderRoom(request, window, leave.roomId, section, memberships)),
      account_data: { events: await this.roomAccountData(request, leave.roomId) },
    };
  }

  /**
   * A left room's section carries "the private data that this user has attached
   * to this room" (sync.yaml), whole, as Synapse sends it: it is kept after leaving.
   */
  private async roomAccountData(request: SyncRequest, roomId: string): Promise<JsonObject[]> {
    const records = await this.storage.accountData.whole(request.viewer.userId, [roomId], false);
    const filter = request.filter.room.accountData;
    return accountDataEventsOf(records, roomId).filter((event) =>
      eventMatchesFilter(event, filter, roomId),
    );
  }

  /** The spec's ignoring of users: invites from an ignored user are not sent. */
  private async fromIgnored(userId: string, invite: MembershipEvent): Promise<boolean> {
    const ignored = await this.history.ignoredBy(userId);
    if (ignored.size === 0) return false;
    const event = await this.storage.rooms.getEvent(invite.eventId);
    return event !== undefined && ignored.has(event.pdu.sender);
  }

  private async invitedRoom(invite: MembershipEvent): Promise<JsonObject> {
    return { invite_state: { events: await this.strippedStateAt(invite) } };
  }

  private async knockedRoom(knock: MembershipEvent): Promise<JsonObject> {
    return { knock_state: { events: await this.strippedStateAt(knock) } };
  }

  /** The room's stripped state after the membership event, with that event last. */
  private async strippedStateAt(membership: MembershipEvent) {
    const state = (await this.storage.rooms.stateIdsAfter(membership.eventId)) ?? new Map();
    const ids = [...strippedStateIds(state), membership.eventId];
    const events = await this.storage.rooms.getEvents(ids);
    // federation joins: an invite or knock to a room we are not in carries the room's state itself.
    const own = events.at(-1);
    const carried = own?.eventId === membership.eventId ? carriedRoomState(own) : undefined;
    if (carried) return [...carried, strippedState(own!)];
    return events.map(strippedState);
  }

  /**
   * The timeline (newest events of the range, up to the filter's limit) and the
   * state that goes with it: for a fresh section, the state at the timeline's
   * start; for an incremental one, what changed in a gap the timeline skipped.
   */
  private async roomTimelineAndState(
    request: SyncRequest,
    window: SyncWindow,
    roomId: string,
    range: { after: number; upTo: number; fresh: boolean },
  ): Promise<RoomSection> {
    const timelineFilter = request.filter.room.timeline;
    const page = await this.history.newest({
      roomId,
      userId: request.viewer.userId,
      after: range.after,
      upTo: range.upTo,
      limit: timelineFilter.limit ?? DEFAULT_TIMELINE_LIMIT,
      filter: timelineFilter,
    });
    const timeline = page.events;
    const limited = page.resumeAt !== undefined;
    const startPosition = timeline[0] ? timeline[0].streamOrdering - 1 : range.upTo;
    const stateFilter = request.filter.room.state;
    const lazy = stateFilter.lazyLoadMembers;
    let state: StateIds = new Map();
    if (request.useStateAfter) {
      state = await this.stateAfterTimeline(request, roomId, timeline, range);
    } else if (range.fresh || limited || lazy) {
      const atStart = await this.stateAtTimelineStart(roomId, timeline, range.upTo);
      if (range.fresh) {
        // Lazy loading: only the senders' member events, and the user's own on a full section.
        state = lazy ? lazyLoadedState(atStart, timeline, [request.viewer.userId]) : atStart;
      } else {
        // A gap's state changes are sent whole, member events included even when lazy loading.
        state = limited
          ? stateDelta(await this.storage.rooms.stateIdsAt(roomId, range.after), atStart)
          : new Map();
        // Redundant member events are allowed by the spec; tracking what each device has seen could save them.
        if (lazy) for (const [key, id] of membersOfSenders(atStart, timeline)) state.set(key, id);
      }
    }
    // `state_after` is the whole update: clients read no state from the timeline then.
    if (!request.useStateAfter) state = withoutTimelineEvents(state, timeline);
    const stateEvents = (await this.storage.rooms.getEvents([...state.values()])).filter((e) =>
      eventMatchesFilter(e.pdu, stateFilter, roomId),
    );
    return { timeline, limited, prevBatchPosition: startPosition, state, stateEvents };
  }

  /**
   * `state_after`: all the state at the end of the range for a fresh section, else what
   * changed between `since` and the end (timeline events included, limited or not). Lazy
   * loading keeps the timeline senders' member events (and the user's own on a fresh one).
   */
  private async stateAfterTimeline(
    request: SyncRequest,
    roomId: string,
    timeline: EventRecord[],
    range: { after: number; upTo: number; fresh: boolean },
  ): Promise<StateIds> {
    const atEnd = await this.storage.rooms.stateIdsAt(roomId, range.upTo);
    const lazy = request.filter.room.state.lazyLoadMembers;
    if (range.fresh)
      return lazy ? lazyLoadedState(atEnd, timeline, [request.viewer.userId]) : atEnd;
    const changed = stateDelta(await this.storage.rooms.stateIdsAt(roomId, range.after), atEnd);
    if (lazy) for (const [key, id] of membersOfSenders(atEnd, timeline)) changed.set(key, id);
    return changed;
  }

  /** The state just before the timeline's first event (or at `upTo` when the timeline is empty). */
  private async stateAtTimelineStart(
    roomId: string,
    timeline: EventRecord[],
    upTo: number,
  ): Promise<StateIds> {
    if (!timeline[0]) return this.storage.rooms.stateIdsAt(roomId, upTo);
    // Our user's invites or knocks to a room joined later over federation were stored
    // without the room's state (federation/membership-writer.ts persistStateless): the
    // state before them is next to nothing. The room's state starts at the first event
    // held with it (the join, on send_join's state); the client reads the earlier
    // events from the timeline on top of it. Synapse keeps such events out of band.
    let start: StateIds | undefined;
    for (const event of timeline) {
      const after = await this.storage.rooms.stateIdsAfter(event.eventId);
      const before = stateBefore(event, after ?? new Map());
      start ??= before;
      if (event.pdu.type === 'm.room.create' || before.has(stateMapKey('m.room.create', ''))) {
        return before;
      }
    }
    return start!;
  }

  private async renderRoom(
    request: SyncRequest,
    window: SyncWindow,
    roomId: string,
    section: RoomSection,
    memberships: readonly MembershipStep[],
  ): Promise<JsonObject> {
    const prevBatch = encodeSyncToken({ ...window.upper, roomEvents: section.prevBatchPosition });
    return {
      timeline: {
        events: await this.render(request, section.timeline, memberships),
        limited: section.limited,
        prev_batch: prevBatch,
      },
      [request.useStateAfter ? 'state_after' : 'state']: {
        events: await this.render(request, section.stateEvents),
      },
    };
  }

  /**
   * Events in the format and with the fields the filter asks for, without
   * `room_id` (sync's format). Timeline events (`memberships` given) carry the
   * user's membership at each (`unsigned.membership`, MSC4115), as Synapse's do;
   * state events do not, nor does the federation format.
   */
  private async render(
    request: SyncRequest,
    events: EventRecord[],
    memberships?: readonly MembershipStep[],
  ): Promise<JsonObject[]> {
    const { eventFields, eventFormat } = request.filter;
    if (eventFormat === 'federation') {
      return events.map(
        (e) => applyEventFields(e.pdu as unknown as JsonObject, eventFields) as JsonObject,
      );
    }
    const views = (await this.views.forClient(events, request.viewer)) as unknown as JsonObject[];
    const clientEvents = memberships
      ? withMembershipAt(
          views,
          events.map((e) => e.streamOrdering),
          memberships,
        )
      : views;
    return clientEvents.map((event) => {
      const withoutRoom: Partial<typeof event> = { ...event };
      delete withoutRoom.room_id;
      return applyEventFields(withoutRoom as unknown as JsonObject, eventFields) as JsonObject;
    });
  }

  /**
   * The member counts, and the heroes only for a room with neither a name nor a
   * canonical alias (sync.yaml requires them only then; with lazy loading each
   * hero costs a member event in the state).
   */
  private async summary(roomId: string, viewer: Viewer): Promise<JsonObject> {
    const counts = await this.storage.rooms.memberCounts(roomId);
    const memberCounts = {
      'm.joined_member_count': counts.joined,
      'm.invited_member_count': counts.invited,
    };
    if (await this.isNamed(roomId)) return memberCounts;
    // sync.yaml: "When no joined or invited members are available, this should consist of
    // the banned and left users". The viewer, joined, is one of the counted (one query either way).
    // By user ID, as Synapse sorts them (the spec says stream order).
    const former = counts.joined + counts.invited <= 1;
    const heroes = (await this.storage.rooms.someMembers(roomId, MAX_HEROES + 1, { former }))
      .filter((userId) => userId !== viewer.userId)
      .slice(0, MAX_HEROES);
    return { 'm.heroes': heroes, ...memberCounts };
  }

  /** From the room store's cached current state entries and events: no query in the usual case. */
  private async isNamed(roomId: string): Promise<boolean> {
    const ids = await this.storage.rooms.currentStateIdsFor(roomId, [...ROOM_NAME_STATE]);
    return namesTheRoom(await this.storage.rooms.getEvents([...ids.values()]));
  }
}

/** The events whose change can change a room's summary. */
const SUMMARY_STATE_TYPES: ReadonlySet<string> = new Set([
  'm.room.member',
  ...ROOM_NAME_STATE.map((pair) => pair.type),
]);

/** The member events, in a state map, of the timeline's senders. */
function membersOfSenders(state: StateIds, timeline: EventRecord[]): StateIds {
  const members: StateIds = new Map();
  for (const sender of new Set(timeline.map((e) => e.pdu.sender))) {
    const key = stateMapKey('m.room.member', sender);
    const eventId = state.get(key);
    if (eventId !== undefined) members.set(key, eventId);
  }
  return members;
}

interface RoomSection {
  timeline: EventRecord[];
  limited: boolean;
  prevBatchPosition: number;
  state: StateIds;
  stateEvents: EventRecord[];
}

/** A provider whose stream has not moved since `since`, in a sync with no fresh room. */
function hasNothingToAdd(provider: SyncStreamProvider, context: StreamContext): boolean {
  const { stream } = provider;
  if (!provider.onlyChangesOfItsStream || stream === undefined) return false;
  if (!context.since || context.fullState || context.freshRoomIds.size > 0) return false;
  return context.since[stream] === context.upper[stream];
}

function emptyRooms(): SyncRooms {
  return { join: {}, invite: {}, leave: {}, knock: {} };
}

/** The top-level fields before any provider adds to them, in the spec's shape. */
function emptyTopLevel(window: SyncWindow): SyncTopLevel {
  return {
    presence: { events: [] },
    account_data: { events: [] },
    to_device: { events: [] },
    // The spec's prose: clients read an omitted count as "unchanged", so it is always sent.
    device_one_time_keys_count: { signed_curve25519: 0 },
    device_unused_fallback_key_types: [],
    ...(window.since ? { device_lists: { changed: [], left: [] } } : {}),
  };
}

/** The response: its rooms, the top-level fields, and the token to resume from. */
function responseShell(
  window: SyncWindow,
  rooms: SyncRooms,
  top = emptyTopLevel(window),
  next = window.upper,
) {
  return { next_batch: encodeSyncToken(next), rooms, ...top } as unknown as JsonObject & {
    rooms: SyncRooms;
  };
}

/** The parts providers add to: the top-level fields and the joined rooms' sections. */
class ResponseParts implements SyncResponseParts {
  readonly top: SyncTopLevel;
  readonly heldBack: SyncResponseParts['heldBack'] = {};
  private readonly sections: Map<string, JoinedRoomSection>;

  constructor(
    private readonly window: SyncWindow,
    sections: Record<string, JoinedRoomSection>,
    /** `use_state_after`: an empty section names its (empty) state `state_after`. */
    private readonly stateField: 'state' | 'state_after' = 'state',
  ) {
    this.top = emptyTopLevel(window);
    this.sections = new Map(Object.entries(sections));
  }

  get joinedRooms(): ReadonlyMap<string, JoinedRoomSection> {
    return this.sections;
  }

  joinedRoom(roomId: string): JoinedRoomSection {
    let section = this.sections.get(roomId);
    if (!section) {
      // Nothing happened in the timeline: an empty one, from which the client can page back.
      const prevBatch = encodeSyncToken(this.window.upper);
      section = {
        timeline: { events: [], limited: false, prev_batch: prevBatch },
        [this.stateField]: { events: [] },
        ...emptyRoomParts(),
      };
      this.sections.set(roomId, section);
    }
    return section;
  }
}

function emptyRoomParts() {
  return {
    ephemeral: { events: [] },
    account_data: { events: [] },
    // Filled by the push issue; present so clients show zero rather than stale counts.
    unread_notifications: { notification_count: 0, highlight_count: 0 },
  };
}

/** A token from before a database restore can be ahead of the server: read it as "now". */
function clampTo(since: StreamPositions, upper: StreamPositions): StreamPositions {
  const clamped = { ...since };
  for (const stream of Object.keys(since) as (keyof StreamPositions)[]) {
    clamped[stream] = Math.min(since[stream], upper[stream]);
  }
  return clamped;
}

// --- federation joins ---
/** The `invite_room_state` / `knock_room_state` a remote server gave with the event, stripped. */
function carriedRoomState(event: EventRecord): JsonObject[] | undefined {
  const unsigned = event.pdu.unsigned;
  const list = unsigned?.invite_room_state ?? unsigned?.knock_room_state;
  if (!Array.isArray(list)) return undefined;
  return list.flatMap((entry) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return [];
    const { type, state_key: stateKey, content, sender } = entry;
    if (typeof type !== 'string' || typeof stateKey !== 'string') return [];
    if (typeof content !== 'object' || content === null) return [];
    return [{ type, state_key: stateKey, content, sender: sender ?? '' } as JsonObject];
  });
}
