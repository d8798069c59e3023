/**
 * One room of a sliding sync response: its timeline, required_state, name,
 * avatar, heroes, counts and stripped invite state, built from what the
 * connection last sent of it (connections.ts RoomSent).
 *
 * A room not sent before on the connection is `initial`: its newest events
 * and the required state whole. One sent before gets the events after what
 * it was sent up to and the required state that changed since (all of it
 * again when its `required_state` changed). A larger `timeline_limit` than
 * last time sends the newest events again, flagged
 * `unstable_expanded_timeline` (as Synapse does for a room that moves from
 * the room list, timeline 1, to a subscription, timeline 20).
 */
import { stateMapKey, splitStateMapKey } from '../events/auth-rules.js';
import type { JsonObject } from '../events/pdu.js';
import type { EventViews, Viewer } from '../sync/event-views.js';
import type { RoomHistory } from '../sync/room-history.js';
import { encodeSyncToken, type StreamPositions } from '../sync/stream-token.js';
import { MAX_HEROES, stateDelta, strippedState, strippedStateIds } from '../sync/sync-response.js';
import type { MembershipEvent, EventRecord, RoomStore, StateIds } from '../storage/storage.js';
import type { RoomSent } from './connections.js';
import {
  lazyUsersOf,
  requiredStateKey,
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
  config: RoomConfig;
  previous: RoomSent | undefined;
  isDm: boolean;
  bumpStamp: number;
  /** The position of the room's latest event the user may see. */
  latest: number;
  counts: { notificationCount: number; highlightCount: number };
}

export interface BuiltRoom {
  /** Undefined: nothing to say of the room in this response. */
  json: JsonObject | undefined;
  sent: RoomSent;
}

export class SlidingRoomBuilder {
  constructor(
    private readonly storage: SlidingRoomStorage,
    private readonly views: EventViews,
    private readonly history: RoomHistory,
  ) {}

  async build(viewer: Viewer, upper: StreamPositions, room: RoomInput): Promise<BuiltRoom> {
    if (room.membership.membership === 'invite') return this.invite(room);
    return this.member(viewer, upper, room);
  }

  /** An invite: stripped state, sent when the invite is new to the connection. */
  private async invite(room: RoomInput): Promise<BuiltRoom> {
    const { membership, previous, config } = room;
    const sent = this.sentState(room, membership.streamOrdering);
    if (previous && previous.upTo >= membership.streamOrdering) return { json: undefined, sent };
    const state = (await this.storage.stateIdsAfter(membership.eventId)) ?? new Map();
    const events = await this.storage.getEvents([...strippedStateIds(state), membership.eventId]);
    const name = events.find((e) => e.pdu.type === 'm.room.name')?.pdu.content.name;
    return {
      json: {
        ...(typeof name === 'string' ? { name } : {}),
        initial: true,
        invite_state: events.map(strippedState),
        is_dm: room.isDm,
        bump_stamp: room.bumpStamp,
        ...(config.timelineLimit > 0 ? { timeline: [] } : {}),
      },
      sent,
    };
  }

  /** A room the user is in, or was kicked or banned from (read up to their leave). */
  private async member(
    viewer: Viewer,
    upper: StreamPositions,
    room: RoomInput,
  ): Promise<BuiltRoom> {
    const { roomId, membership, previous, config } = room;
    const upTo = membership.membership === 'join' ? upper.roomEvents : membership.streamOrdering;
    const stateKey = requiredStateKey(config.requiredState);
    const sent = this.sentState(room, upTo);
    const sameConfig = previous?.stateKey === stateKey;
    const expanded = previous !== undefined && config.timelineLimit > previous.timelineLimit;
    const nothingNew = previous !== undefined && previous.upTo >= Math.min(room.latest, upTo);
    if (nothingNew && sameConfig && !expanded && sameCounts(previous, sent)) {
      return { json: undefined, sent: { ...sent, upTo: previous.upTo } };
    }
    const after = !previous || expanded ? 0 : Math.min(previous.upTo, upTo);
    const page = await this.history.newest({
      roomId,
      userId: viewer.userId,
      after,
      upTo,
      limit: config.timelineLimit,
    });
    const timeline = page.events;
    const limited = page.resumeAt !== undefined;
    const stateNow = await this.storage.stateIdsAt(roomId, upTo);
    const stateIds = await this.requiredStateIds(viewer, room, {
      stateNow,
      timeline,
      limited,
      whole: !previous || !sameConfig,
    });
    const [timelineJson, stateJson, details] = await Promise.all([
      this.render(timeline, viewer),
      this.render(await this.storage.getEvents(stateIds), viewer),
      this.details(roomId, viewer, stateNow),
    ]);
    const startPosition = timeline[0] ? timeline[0].streamOrdering - 1 : upTo;
    const live = previous ? timeline.filter((e) => e.streamOrdering > previous.upTo).length : 0;
    return {
      json: {
        ...details,
        ...(previous ? {} : { initial: true }),
        ...(expanded ? { unstable_expanded_timeline: true } : {}),
        is_dm: room.isDm,
        required_state: stateJson,
        timeline: timelineJson,
        prev_batch: encodeSyncToken({ ...upper, roomEvents: startPosition }),
        limited,
        num_live: live,
        notification_count: room.counts.notificationCount,
        highlight_count: room.counts.highlightCount,
        bump_stamp: room.bumpStamp,
      },
      sent,
    };
  }

  private sentState(room: RoomInput, upTo: number): RoomSent {
    return {
      stateKey: requiredStateKey(room.config.requiredState),
      upTo,
      timelineLimit: room.config.timelineLimit,
      ...room.counts,
    };
  }

  /**
   * The required state's event IDs: all of it when the room is sent whole,
   * else what changed since the last response. `$LAZY` brings the members of
   * the timeline (its senders and membership targets; never the user, who
   * has `$ME`), and on a non-limited incremental response every membership
   * change. Members the client may already hold are sent again: redundant,
   * which the MSC allows, and never missing.
   */
  private async requiredStateIds(
    viewer: Viewer,
    room: RoomInput,
    input: { stateNow: StateIds; timeline: EventRecord[]; limited: boolean; whole: boolean },
  ): Promise<string[]> {
    const wanted = resolveRequiredState(room.config.requiredState, viewer.userId);
    const lazy = lazyUsersOf(
      input.timeline.map((e) => ({
        sender: e.pdu.sender,
        type: e.pdu.type,
        stateKey: e.pdu.state_key,
      })),
    );
    lazy.delete(viewer.userId);
    if (input.whole) return selectState(input.stateNow, wanted, lazy);
    const before = await this.storage.stateIdsAt(room.roomId, room.previous!.upTo);
    const delta = stateDelta(before, input.stateNow);
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

  /** Name, avatar, heroes (for an unnamed room) and member counts, from the current state. */
  private async details(roomId: string, viewer: Viewer, state: StateIds): Promise<JsonObject> {
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
    return {
      ...(named ? { name } : { heroes: await this.heroes(roomId, viewer, state) }),
      ...(typeof avatar === 'string' && avatar !== '' ? { avatar } : {}),
      joined_count: counts.joined,
      invited_count: counts.invited,
    };
  }

  /** As /sync's summary: other members by user ID, former ones when nobody else is left. */
  private async heroes(roomId: string, viewer: Viewer, state: StateIds): Promise<JsonObject[]> {
    const counts = await this.storage.memberCounts(roomId);
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
