/**
 * Simplified sliding sync (MSC4186): the room lists a connection asks for,
 * ordered by recency and cut to its ranges, its room subscriptions, and the
 * extensions, as what changed since the connection's `pos`.
 *
 * As /sync (sync-service.ts), the upper bound of every read is the
 * notifier's position taken before storage is read, and a request that finds
 * nothing new waits on the notifier until something concerning the user or
 * their rooms commits, then reads again.
 *
 * Which rooms a list holds (the MSC's rules, as Synapse and Tuwunel apply
 * them): every room the user is joined to, invited to or knocked on, or was
 * kicked or banned from (a knock refused too); a room they left themselves
 * only if this connection already sent it; never a forgotten room, and never
 * an invite while the user blocks invites or one from a user they ignore. A
 * list's order is recency: for a joined room the position of its latest event
 * (kept in memory from the notifier's changes, room-recency.ts, so a woken
 * long-poll reads no position from storage), for the others the position of
 * the user's membership event (nothing after it is theirs to see).
 */
import { blocksInvites } from '../rooms/invite-permission.js';
import type { ConnectionKey, SlidingSyncStore } from '../domain/sliding-sync-connections.js';
import { stateMapKey } from '../events/auth-rules.js';
import type { JsonObject } from '../events/pdu.js';
import type { AccountDataReader } from '../storage/readers.js';
import type { MembershipEvent, RoomStore } from '../storage/storage.js';
import type { EventViews, Viewer } from '../sync/event-views.js';
import { membershipHistories, type MembershipStep } from '../sync/membership-at-event.js';
import type { Notifier } from '../sync/notifier.js';
import type { RoomHistory } from '../sync/room-history.js';
import { samePositions, type StreamPositions } from '../sync/stream-token.js';
import { orderProviders, type SyncStreamProvider } from '../sync/sync-streams.js';
import { mapConcurrently } from '../util/map-concurrently.js';
import { SlidingSyncConnections, type ConnectionState, type RoomSent } from './connections.js';
import {
  extensionsHaveNews,
  extensionsJson,
  runProviders,
  type ExtensionResult,
} from './sliding-sync-extensions.js';
import { RoomRecency } from './room-recency.js';
import {
  SlidingRoomBuilder,
  type RoomInput,
  type SlidingRoomStorage,
} from './sliding-sync-rooms.js';
import {
  BUMP_EVENT_TYPES,
  matchesListFilters,
  mergeRoomConfigs,
  orderByRecency,
  roomsInRanges,
  roomsInScope,
  type ListConfig,
  type RoomConfig,
  type RoomFacts,
  type SlidingSyncRequest,
} from './sliding-sync-rules.js';

export interface SlidingSyncCall {
  viewer: Viewer;
  request: SlidingSyncRequest;
  /** The `pos` query parameter: absent for a new connection. */
  pos: string | undefined;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface SlidingSyncStorage {
  rooms: SlidingRoomStorage & Pick<RoomStore, 'membershipEventsOf' | 'forgottenRooms'>;
  accountData: AccountDataReader;
  slidingSync: SlidingSyncStore;
}

/** Rooms built at once: on PostgreSQL their round trips overlap across the pool. */
const ROOMS_IN_FLIGHT = 8;

/** A room that may be in the lists, with what ordering and filters read of it. */
interface Candidate {
  roomId: string;
  membership: MembershipEvent;
  /** Whether the user was ever joined to the room (up to the response's bound). */
  everJoined: boolean;
  /** The user's memberships in the room, oldest first (timeline events' `unsigned.membership`). */
  memberships: readonly MembershipStep[];
  recency: number;
  facts: RoomFacts;
}

/** One pass over storage: the response and the state the connection moves to. */
interface Built {
  response: JsonObject;
  state: ConnectionState;
  changed: boolean;
  joinedRoomIds: string[];
}

export class SlidingSyncService {
  private readonly providers: readonly SyncStreamProvider[];
  private readonly connections: SlidingSyncConnections;
  private readonly rooms: SlidingRoomBuilder;
  private readonly recency = new RoomRecency();

  constructor(
    private readonly storage: SlidingSyncStorage,
    views: EventViews,
    private readonly history: RoomHistory,
    private readonly notifier: Notifier,
    /** Resolves once the notifier knows the newest position in storage. */
    private readonly ready: Promise<void>,
    /** /sync's stream providers: the extensions and unread counts come from them. */
    providers: readonly SyncStreamProvider[],
  ) {
    this.providers = orderProviders(providers);
    this.connections = new SlidingSyncConnections(storage.slidingSync);
    this.rooms = new SlidingRoomBuilder(storage.rooms, views, history);
    notifier.observe((change) => this.recency.observe(change));
  }

  async sync(call: SlidingSyncCall): Promise<JsonObject> {
    await this.ready;
    const key: ConnectionKey = { ...call.viewer, connId: call.request.connId };
    const base = call.pos === undefined ? undefined : await this.connections.load(key, call.pos);
    const deadline = Date.now() + call.timeoutMs;
    for (;;) {
      const upper = this.notifier.currentPositions();
      const built = await this.build(call, base, upper);
      const waitMs = deadline - Date.now();
      if (!base || built.changed || waitMs <= 0) return this.answer(key, call, built);
      const woken = await this.notifier.wait({
        userId: call.viewer.userId,
        roomIds: built.joinedRoomIds,
        since: upper,
        timeoutMs: waitMs,
        signal: call.signal,
      });
      if (woken.reason !== 'changed') return this.answer(key, call, built);
    }
  }

  /**
   * The response with its pos: a new one, stored before answering, when it
   * says something; else the same pos again (nothing moved on).
   */
  private async answer(
    key: ConnectionKey,
    call: SlidingSyncCall,
    built: Built,
  ): Promise<JsonObject> {
    const pos =
      call.pos !== undefined && !built.changed
        ? call.pos
        : await this.connections.save(key, call.pos, built.state);
    const response: JsonObject = { pos, ...built.response };
    if (call.request.txnId !== undefined) response.txn_id = call.request.txnId;
    return response;
  }

  private async build(
    call: SlidingSyncCall,
    base: ConnectionState | undefined,
    upper: StreamPositions,
  ): Promise<Built> {
    const { viewer, request } = call;
    const since = base && clampTo(base.positions, upper);
    const candidates = await this.candidates(viewer, upper, base, needsStateFacts(request));
    const byId = new Map(candidates.map((c) => [c.roomId, c]));
    const { listRooms, listCounts } = windows(request.lists, candidates);
    const subscribed = [...request.roomSubscriptions.keys()].filter((id) => byId.has(id));
    const configs = roomConfigs(request, listRooms, subscribed);
    const joinedRoomIds = candidates
      .filter((c) => c.membership.membership === 'join')
      .map((c) => c.roomId);
    const sentJoined = [...configs.keys()].filter(
      (id) => byId.get(id)!.membership.membership === 'join',
    );
    const extensions = await runProviders(this.providers, {
      viewer,
      since,
      upper,
      config: request.extensions,
      joinedRoomIds,
      // Sent whole: new to the connection, or sent only as an invite or knock until now.
      freshRoomIds: new Set(
        sentJoined.filter((id) => !base?.rooms.get(id) || base.rooms.get(id)!.stripped),
      ),
      roomIds: sentJoined,
    });
    const roomsPart = await this.roomsPart(viewer, upper, base, configs, byId, extensions);
    const scopes = {
      accountData: roomsInScope(request.extensions.accountData, listRooms, subscribed),
      receipts: roomsInScope(request.extensions.receipts, listRooms, subscribed),
      typing: roomsInScope(request.extensions.typing, listRooms, subscribed),
    };
    const extensionsPart = extensionsJson(request.extensions, extensions, scopes);
    const listsChanged = !base || !sameCounts(base.listCounts, listCounts);
    const changed =
      listsChanged || Object.keys(roomsPart.json).length > 0 || extensionsHaveNews(extensionsPart);
    const lists = Object.fromEntries([...listCounts].map(([name, count]) => [name, { count }]));
    return {
      response: { lists, rooms: roomsPart.json, extensions: extensionsPart },
      state: {
        positions: { ...upper, toDevice: extensions.toDeviceNext },
        rooms: roomsPart.sent,
        listCounts,
      },
      changed,
      joinedRoomIds,
    };
  }

  /**
   * Each room to send built; the connection's record of every room it has
   * sent, updated. Rooms with nothing new are found first, so that the bump
   * stamps are read only for the joined rooms that are sent.
   */
  private async roomsPart(
    viewer: Viewer,
    upper: StreamPositions,
    base: ConnectionState | undefined,
    configs: ReadonlyMap<string, RoomConfig>,
    byId: ReadonlyMap<string, Candidate>,
    extensions: ExtensionResult,
  ) {
    const sent = new Map<string, RoomSent>(base?.rooms ?? []);
    const toBuild: RoomInput[] = [];
    for (const [roomId, config] of configs) {
      const candidate = byId.get(roomId)!;
      const input: RoomInput = {
        roomId,
        membership: candidate.membership,
        everJoined: candidate.everJoined,
        memberships: candidate.memberships,
        config,
        previous: base?.rooms.get(roomId),
        isDm: candidate.facts.isDm,
        latest: candidate.recency,
        counts: extensions.parts.counts(roomId),
      };
      const kept = this.rooms.unchanged(upper, input);
      if (kept) sent.set(roomId, kept);
      else toBuild.push(input);
    }
    const joined = toBuild.filter((room) => room.membership.membership === 'join');
    const bumps = joined.length
      ? await this.storage.slidingSync.latestPositions(
          joined.map((room) => room.roomId),
          upper.roomEvents,
          BUMP_EVENT_TYPES,
        )
      : new Map<string, number>();
    const built = await mapConcurrently(toBuild, ROOMS_IN_FLIGHT, (room) =>
      // A bump type not yet seen (a room joined over federation mid-history): its recency.
      this.rooms.build(
        viewer,
        upper,
        room,
        Math.min(bumps.get(room.roomId) ?? room.latest, room.latest),
      ),
    );
    const json: Record<string, JsonObject> = {};
    toBuild.forEach((room, i) => {
      const result = built[i]!;
      if (result.json) json[room.roomId] = result.json;
      sent.set(room.roomId, result.sent);
    });
    return { json, sent };
  }

  /** The rooms the lists may hold, with their recency and filter facts. */
  private async candidates(
    viewer: Viewer,
    upper: StreamPositions,
    base: ConnectionState | undefined,
    withStateFacts: boolean,
  ): Promise<Candidate[]> {
    const { latest, everJoined, histories } = await this.latestMemberships(
      viewer.userId,
      upper.roomEvents,
    );
    const forgotten = new Set(await this.storage.rooms.forgottenRooms(viewer.userId));
    const kept = await this.keptMemberships(viewer.userId, latest, base, forgotten);
    const joined = kept.filter((m) => m.membership === 'join').map((m) => m.roomId);
    const positions = await this.latestPositions(joined, upper.roomEvents);
    const dmRooms = await this.directRooms(viewer.userId);
    // Without state filters, no read per room: the usual case, and every request reads them all.
    const stateFacts = withStateFacts
      ? await mapConcurrently(kept, ROOMS_IN_FLIGHT, (m) => this.stateFacts(m.roomId))
      : undefined;
    return kept.map((membership, i) => ({
      roomId: membership.roomId,
      membership,
      everJoined: everJoined.has(membership.roomId),
      memberships: histories.get(membership.roomId) ?? [],
      recency:
        membership.membership === 'join'
          ? (positions.get(membership.roomId) ?? membership.streamOrdering)
          : membership.streamOrdering,
      facts: {
        membership: membership.membership,
        isDm: dmRooms.has(membership.roomId),
        ...(stateFacts?.[i] ?? { isEncrypted: false, roomType: null }),
      },
    }));
  }

  /** Each room's latest position up to `upTo`: from memory where it is known, else storage. */
  private async latestPositions(roomIds: string[], upTo: number): Promise<Map<string, number>> {
    const { known, missing } = this.recency.lookup(roomIds, upTo);
    if (missing.length === 0) return known;
    const read = await this.storage.slidingSync.latestPositions(missing, upTo);
    this.recency.fill(read, upTo);
    for (const [roomId, position] of read) known.set(roomId, position);
    return known;
  }

  /**
   * The user's latest membership event per room, the rooms they were ever
   * joined to, and each room's membership history.
   */
  private async latestMemberships(userId: string, upTo: number) {
    const events = await this.storage.rooms.membershipEventsOf(userId, upTo);
    const latest = new Map<string, MembershipEvent>();
    const everJoined = new Set<string>();
    for (const event of events) {
      latest.set(event.roomId, event);
      if (event.membership === 'join') everJoined.add(event.roomId);
    }
    return { latest: [...latest.values()], everJoined, histories: membershipHistories(events) };
  }

  /** The MSC's rules of which memberships put a room in the lists (see the module comment). */
  private async keptMemberships(
    userId: string,
    memberships: MembershipEvent[],
    base: ConnectionState | undefined,
    forgotten: ReadonlySet<string>,
  ): Promise<MembershipEvent[]> {
    const visible = memberships.filter((m) => !forgotten.has(m.roomId));
    const askSender = visible.filter((m) => m.membership === 'invite' || m.membership === 'leave');
    const senders = new Map(
      (await this.storage.rooms.getEvents(askSender.map((m) => m.eventId))).map((e) => [
        e.eventId,
        e.pdu.sender,
      ]),
    );
    const ignored = await this.history.ignoredBy(userId);
    const invitesBlocked = await blocksInvites(this.storage, userId);
    return visible.filter((m) => {
      const sender = senders.get(m.eventId);
      if (m.membership === 'invite') {
        return !invitesBlocked && !(sender !== undefined && ignored.has(sender));
      }
      if (m.membership === 'leave') return sender !== userId || base?.rooms.has(m.roomId) === true;
      return true;
    });
  }

  /** The rooms `m.direct` names (the client's own record of its DMs). */
  private async directRooms(userId: string): Promise<Set<string>> {
    const record = await this.storage.accountData.get(userId, undefined, 'm.direct');
    const rooms = new Set<string>();
    const content = record?.content;
    if (!content || typeof content !== 'object') return rooms;
    for (const list of Object.values(content as Record<string, unknown>)) {
      if (!Array.isArray(list)) continue;
      for (const roomId of list) if (typeof roomId === 'string') rooms.add(roomId);
    }
    return rooms;
  }

  /** Encryption and room type, from the room's current state (cached by the room store). */
  private async stateFacts(roomId: string) {
    const ids = await this.storage.rooms.currentStateIdsFor(roomId, [
      { type: 'm.room.create', stateKey: '' },
      { type: 'm.room.encryption', stateKey: '' },
    ]);
    const events = await this.storage.rooms.getEvents([...ids.values()]);
    const create = events.find((e) => e.pdu.type === 'm.room.create');
    const roomType = create?.pdu.content.type;
    return {
      isEncrypted: ids.has(stateMapKey('m.room.encryption', '')),
      roomType: typeof roomType === 'string' ? roomType : null,
    };
  }
}

/** Whether a list filters on what only the rooms' state tells. */
function needsStateFacts(request: SlidingSyncRequest): boolean {
  return [...request.lists.values()].some(
    ({ filters }) =>
      filters.isEncrypted !== undefined ||
      filters.roomTypes !== undefined ||
      filters.notRoomTypes !== undefined,
  );
}

/** Each list's rooms (its ranges' windows of its filtered, ordered rooms) and count. */
function windows(lists: ReadonlyMap<string, ListConfig>, candidates: readonly Candidate[]) {
  const ordered = orderByRecency(candidates);
  const listRooms = new Map<string, string[]>();
  const listCounts = new Map<string, number>();
  for (const [name, list] of lists) {
    const matching = ordered.filter((c) => matchesListFilters(c.facts, list.filters));
    listCounts.set(name, matching.length);
    listRooms.set(
      name,
      roomsInRanges(
        matching.map((c) => c.roomId),
        list.ranges,
      ),
    );
  }
  return { listRooms, listCounts };
}

/** The rooms to send, each with its lists' and subscription's configs merged. */
function roomConfigs(
  request: SlidingSyncRequest,
  listRooms: ReadonlyMap<string, readonly string[]>,
  subscribed: readonly string[],
): Map<string, RoomConfig> {
  const all = new Map<string, RoomConfig[]>();
  const add = (roomId: string, config: RoomConfig) => {
    const list = all.get(roomId);
    if (list) list.push(config);
    else all.set(roomId, [config]);
  };
  for (const [name, roomIds] of listRooms) {
    const list = request.lists.get(name)!;
    for (const roomId of roomIds) add(roomId, list);
  }
  for (const roomId of subscribed) add(roomId, request.roomSubscriptions.get(roomId)!);
  return new Map([...all].map(([roomId, configs]) => [roomId, mergeRoomConfigs(configs)]));
}

function sameCounts(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, count] of b) if (a.get(name) !== count) return false;
  return true;
}

/** A position from before a database restore can be ahead of the server: read it as "now". */
function clampTo(since: StreamPositions, upper: StreamPositions): StreamPositions {
  if (samePositions(since, upper)) return since;
  const clamped = { ...since };
  for (const stream of Object.keys(since) as (keyof StreamPositions)[]) {
    clamped[stream] = Math.min(since[stream], upper[stream]);
  }
  return clamped;
}
