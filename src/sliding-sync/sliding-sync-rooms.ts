/**
 * One room of a sliding sync response: its timeline, required_state, name,
 * avatar, heroes, counts and stripped state, built from what the connection
 * last sent of it (connections.ts RoomSent).
 *
 * A room not sent before on the connection is `initial`: its newest events
 * and the required state whole. One sent before gets the events after what
 * it was sent up to and the required state that changed since (all of it
 * again when its `required_state` changed). A larger `timeline_limit` than
 * last time sends the newest events again, flagged `expanded_timeline` (as
 * Synapse does for a room that moves from the room list, timeline 1, to a
 * subscription, timeline 20). A room sent as an invite or knock and joined
 * since is initial again, as Synapse sends a newly joined room.
 *
 * Three forms, by the user's membership (as the MSC and Synapse shape them):
 * - invite, knock: the stripped state after the membership event, with that
 *   event last (`invite_state`, which Ruma reads and from whose own member
 *   event matrix-rust-sdk tells a knock; `stripped_state`, the MSC's newer name);
 * - leave or ban without ever having joined (an invite withdrawn, a knock
 *   refused): only that membership event, in `required_state` and `timeline`,
 *   so the client learns of it (matrix-rust-sdk reads the user's own member
 *   event there) and nothing of a room the user never was in;
 * - otherwise a member's view, read up to the user's leave when they left.
 */
import { stateMapKey, splitStateMapKey } from '../events/auth-rules.js';
import type { JsonObject } from '../events/pdu.js';
import type { EventViews, Viewer } from '../sync/event-views.js';
import { withMembershipAt, type MembershipStep } from '../sync/membership-at-event.js';
import type { RoomHistory } from '../sync/room-history.js';
import { encodeSyncToken, type StreamPositions } from '../sync/stream-token.js';
import { MAX_HEROES, stateDelta, strippedState, strippedStateIds } from '../sync/sync-response.js';
import type { MembershipEvent, EventRecord, RoomStore, StateIds } from '../storage/storage.js';
import type { RoomSent } from './connections.js';
import {
  lazyUsersOf,
  configStateKey,
  resolveRequiredState,
  wantsState,
  type RoomConfig,
  type StateWanted,
} from './sliding-sync-rules.js';

export type SlidingRoomStorage = Pick<
  RoomStore,
  | 'getEvents'
  | 'currentStateIdsFor'
  | 'stateIdsAt'
  | 'stateIdsAfter'
  | 'memberCounts'
  | 'someMembers'
>;

/** What the response knows of a room before building it. */
export interface RoomInput {
  roomId: string;
  membership: MembershipEvent;
  /** Whether the user was joined at some point (a leave without: an invite withdrawn, a knock refused). */
  everJoined: boolean;
  /** The user's memberships in the room, oldest first: each timeline event's `unsigned.membership`. */
  memberships: readonly MembershipStep[];
  config: RoomConfig;
  previous: RoomSent | undefined;
  isDm: boolean;
  /** The position of the room's latest event the user may see. */
  latest: number;
  counts: { notificationCount: number; highlightCount: number };
}

export interface BuiltRoom {
  /** Undefined: nothing to say of the room in this response. */
  json: JsonObject | undefined;
  sent: RoomSent;
}

type RoomForm = 'stripped' | 'rejection' | 'member';

/** Which of the three forms (module comment) the room takes. */
export function roomForm(room: Pick<RoomInput, 'membership' | 'everJoined'>): RoomForm {
  const { membership } = room.membership;
  if (membership === 'invite' || membership === 'knock') return 'stripped';
  if (membership !== 'join' && !room.everJoined) return 'rejection';
  return 'member';
}

/** Never negative (Ruma reads a UInt): a position from before a room was rejoined, say. */
function stamp(position: number): number {
  return Math.max(0, position);
}

export class SlidingRoomBuilder {
  constructor(
    private readonly storage: SlidingRoomStorage,
    private readonly views: EventViews,
    private readonly history: RoomHistory,
  ) {}

  /**
   * What the connection keeps of a room with nothing to say in this response
   * (it is then not built, and no bump stamp is read for it); undefined when
   * it has something.
   */
  unchanged(upper: StreamPositions, room: RoomInput): RoomSent | undefined {
    const { membership, previous, config } = room;
    if (!previous) return undefined;
    const form = roomForm(room);
    if (form !== 'member') {
      const sent = this.sentState(room, membership.streamOrdering, form === 'stripped');
      return previous.upTo >= membership.streamOrdering ? sent : undefined;
    }
    if (previous.stripped) return undefined;
    const upTo = membership.membership === 'join' ? upper.roomEvents : membership.streamOrdering;
    const sent = this.sentState(room, upTo, false);
    const nothingNew = previous.upTo >= Math.min(room.latest, upTo);
    const expanded = config.timelineLimit > previous.timelineLimit;
    if (!nothingNew || previous.stateKey !== sent.stateKey || expanded) return undefined;
    return sameCounts(previous, sent) ? { ...sent, upTo: previous.upTo } : undefined;
  }

  /**
   * The room's part of the response; `bumpStamp` for a joined room (others
   * use their membership's), awaited last: its read runs beside the room's.
   */
  async build(
    viewer: Viewer,
    upper: StreamPositions,
    room: RoomInput,
    bumpStamp: Promise<number>,
  ): Promise<BuiltRoom> {
    const kept = this.unchanged(upper, room);
    if (kept) return { json: undefined, sent: kept };
    const form = roomForm(room);
    if (form === 'stripped') return this.stripped(room);
    if (form === 'rejection') return this.rejection(viewer, room);
    return this.member(viewer, upper, room, bumpStamp);
  }

  /** An invite or knock: stripped state, sent when it is new to the connection. */
  private async stripped(room: RoomInput): Promise<BuiltRoom> {
    const { membership, config } = room;
    const state = (await this.storage.stateIdsAfter(membership.eventId)) ?? new Map();
    const events = await this.storage.getEvents([...strippedStateIds(state), membership.eventId]);
    const name = events.find((e) => e.pdu.type === 'm.room.name')?.pdu.content.name;
    const stripped = events.map(strippedState);
    return {
      json: {
        ...(typeof name === 'string' && name !== '' ? { name } : {}),
        initial: true,
        membership: membership.membership,
        invite_state: stripped,
        stripped_state: stripped,
        is_dm: room.isDm,
        bump_stamp: stamp(membership.streamOrdering),
        ...(config.timelineLimit > 0 ? { timeline: [] } : {}),
      },
      sent: this.sentState(room, membership.streamOrdering, true),
    };
  }

  /** A leave or ban in a room the user never joined: that event alone. */
  private async rejection(viewer: Viewer, room: RoomInput): Promise<BuiltRoom> {
    const { membership, config, previous } = room;
    const events = await this.storage.getEvents([membership.eventId]);
    return {
      json: {
        ...(previous ? {} : { initial: true }),
        membership: membership.membership,
        is_dm: room.isDm,
        required_state: await this.render(events, viewer),
        timeline: config.timelineLimit > 0 ? await this.renderTimeline(events, viewer, room) : [],
        limited: false,
        num_live: previous && config.timelineLimit > 0 ? events.length : 0,
        bump_stamp: stamp(membership.streamOrdering),
      },
      sent: this.sentState(room, membership.streamOrdering, false),
    };
  }

  /** A room the user is in, or was kicked or banned from (read up to their leave). */
  private async member(
    viewer: Viewer,
    upper: StreamPositions,
    room: RoomInput,
    bumpStamp: Promise<number>,
  ): Promise<BuiltRoom> {
    const { roomId, membership, config } = room;
    // Sent before only as an invite or knock: the client has none of it yet.
    const previous = room.previous?.stripped ? undefined : room.previous;
    const upTo = membership.membership === 'join' ? upper.roomEvents : membership.streamOrdering;
    const sameConfig = previous?.stateKey === configStateKey(config);
    const expanded = previous !== undefined && config.timelineLimit > previous.timelineLimit;
    const after = !previous || expanded ? 0 : Math.min(previous.upTo, upTo);
    const before = previous && sameConfig ? previous.upTo : undefined;
    // Independent reads at once: on PostgreSQL, one round trip's wait instead of three.
    const [page, stateNow, stateBefore] = await Promise.all([
      this.history.newest({
        roomId,
        userId: viewer.userId,
        after,
        upTo,
        limit: config.timelineLimit,
      }),
      this.storage.stateIdsAt(roomId, upTo),
      before === undefined ? undefined : this.storage.stateIdsAt(roomId, before),
    ]);
    const timeline = page.events;
    const limited = page.resumeAt !== undefined;
    const stateIds = this.requiredStateIds(viewer, room, {
      stateNow,
      timeline,
      limited,
      before: stateBefore,
    });
    const [timelineJson, stateJson, details] = await Promise.all([
      this.renderTimeline(timeline, viewer, room),
      this.render(await this.storage.getEvents(stateIds), viewer),
      this.details(roomId, viewer, stateNow, previous === undefined),
    ]);
    const startPosition = timeline[0] ? timeline[0].streamOrdering - 1 : upTo;
    const live = previous ? timeline.filter((e) => e.streamOrdering > previous.upTo).length : 0;
    return {
      json: {
        ...details,
        ...(previous ? {} : { initial: true }),
        // The unstable name Element X reads, and the MSC's newer one.
        ...(expanded ? { unstable_expanded_timeline: true, expanded_timeline: true } : {}),
        membership: membership.membership,
        is_dm: room.isDm,
        required_state: stateJson,
        timeline: timelineJson,
        prev_batch: encodeSyncToken({ ...upper, roomEvents: startPosition }),
        limited,
        num_live: live,
        notification_count: room.counts.notificationCount,
        highlight_count: room.counts.highlightCount,
        bump_stamp: stamp(await bumpStamp),
      },
      sent: this.sentState(room, upTo, false),
    };
  }

  private sentState(room: RoomInput, upTo: number, stripped: boolean): RoomSent {
    return {
      stateKey: configStateKey(room.config),
      upTo,
      timelineLimit: room.config.timelineLimit,
      ...room.counts,
      ...(stripped ? { stripped: true } : {}),
    };
  }

  /**
   * The required state's event IDs: all of it when the room is sent whole,
   * else what changed since `before`, where the last response left it. `$LAZY` brings the members of
   * the timeline (its senders and membership targets; never the user, who
   * has `$ME`), and on a non-limited incremental response every membership
   * change. Members the client may already hold are sent again: redundant,
   * which the MSC allows, and never missing.
   */
  private requiredStateIds(
    viewer: Viewer,
    room: RoomInput,
    input: {
      stateNow: StateIds;
      timeline: EventRecord[];
      limited: boolean;
      /** The state where the last response left it; undefined: the room is sent whole. */
      before: StateIds | undefined;
    },
  ): string[] {
    const { requiredState, excludedState } = room.config;
    const wanted = resolveRequiredState(requiredState, viewer.userId, excludedState);
    const lazy = lazyUsersOf(
      input.timeline.map((e) => ({
        sender: e.pdu.sender,
        type: e.pdu.type,
        stateKey: e.pdu.state_key,
      })),
    );
    lazy.delete(viewer.userId);
    if (input.before === undefined) return selectState(input.stateNow, wanted, lazy);
    const delta = stateDelta(input.before, input.stateNow);
    const lazyInDelta = new Set(lazy);
    if (!input.limited) for (const userId of memberKeys(delta)) lazyInDelta.add(userId);
    lazyInDelta.delete(viewer.userId);
    const ids = new Set(selectState(delta, wanted, lazyInDelta));
    if (wanted.lazyMembers) {
      for (const userId of lazy) {
        const id = input.stateNow.get(stateMapKey('m.room.member', userId));
        if (id !== undefined) ids.add(id);
      }
    }
    return [...ids];
  }

  /**
   * Name, avatar, heroes (for an unnamed room) and member counts, from the
   * current state. On an incremental response a room without a name or
   * avatar says `null` (the MSC's "removed"; Ruma reads a null avatar so).
   */
  private async details(
    roomId: string,
    viewer: Viewer,
    state: StateIds,
    initial: boolean,
  ): Promise<JsonObject> {
    const ids = [stateMapKey('m.room.name', ''), stateMapKey('m.room.avatar', '')]
      .map((key) => state.get(key))
      .filter((id): id is string => id !== undefined);
    const events = await this.storage.getEvents(ids);
    const contentOf = (type: string) =>
      events.find((e) => e.pdu.type === type && e.redactedBy === undefined)?.pdu.content;
    const name = contentOf('m.room.name')?.name;
    const avatar = contentOf('m.room.avatar')?.url;
    const counts = await this.storage.memberCounts(roomId);
    const named = typeof name === 'string' && name !== '';
    const hasAvatar = typeof avatar === 'string' && avatar !== '';
    return {
      ...(named ? { name } : { heroes: await this.heroes(roomId, viewer, state, counts) }),
      ...(!named && !initial ? { name: null } : {}),
      ...(hasAvatar ? { avatar } : initial ? {} : { avatar: null }),
      joined_count: counts.joined,
      invited_count: counts.invited,
    };
  }

  /** As /sync's summary: other members by user ID, former ones when nobody else is left. */
  private async heroes(
    roomId: string,
    viewer: Viewer,
    state: StateIds,
    counts: { joined: number; invited: number },
  ): Promise<JsonObject[]> {
    const former = counts.joined + counts.invited <= 1;
    const userIds = (await this.storage.someMembers(roomId, MAX_HEROES + 1, { former }))
      .filter((userId) => userId !== viewer.userId)
      .slice(0, MAX_HEROES);
    const memberIds = userIds
      .map((userId) => state.get(stateMapKey('m.room.member', userId)))
      .filter((id): id is string => id !== undefined);
    const members = new Map(
      (await this.storage.getEvents(memberIds)).map((e) => [e.pdu.state_key, e.pdu.content]),
    );
    return userIds.map((userId) => {
      const content = members.get(userId);
      const displayname = content?.displayname;
      const avatarUrl = content?.avatar_url;
      return {
        user_id: userId,
        ...(typeof displayname === 'string' ? { displayname } : {}),
        ...(typeof avatarUrl === 'string' ? { avatar_url: avatarUrl } : {}),
      };
    });
  }

  /**
   * Timeline events as `render` gives them, with the user's membership at each
   * (`unsigned.membership`, MSC4115), which Synapse adds to sliding sync's
   * timelines as to /sync's. Not on `required_state`: Synapse neither.
   */
  private async renderTimeline(
    events: EventRecord[],
    viewer: Viewer,
    room: RoomInput,
  ): Promise<JsonObject[]> {
    const json = await this.render(events, viewer);
    const positions = events.map((e) => e.streamOrdering);
    return withMembershipAt(json, positions, room.memberships);
  }

  /** Client format with /sync's unsigned and bundled aggregations, without `room_id`. */
  private async render(events: EventRecord[], viewer: Viewer): Promise<JsonObject[]> {
    const clientEvents = await this.views.forClient(events, viewer);
    return clientEvents.map((event) => {
      const copy: Partial<typeof event> = { ...event };
      delete copy.room_id;
      return copy as unknown as JsonObject;
    });
  }
}

function sameCounts(a: RoomSent, b: RoomSent): boolean {
  return a.notificationCount === b.notificationCount && a.highlightCount === b.highlightCount;
}

function selectState(state: StateIds, wanted: StateWanted, lazy: ReadonlySet<string>): string[] {
  const ids: string[] = [];
  for (const [key, eventId] of state) {
    const { type, stateKey } = splitStateMapKey(key);
    if (wantsState(wanted, type, stateKey, lazy)) ids.push(eventId);
  }
  return ids;
}

function memberKeys(state: StateIds): string[] {
  const users: string[] = [];
  for (const key of state.keys()) {
    const { type, stateKey } = splitStateMapKey(key);
    if (type === 'm.room.member') users.push(stateKey);
  }
  return users;
}
