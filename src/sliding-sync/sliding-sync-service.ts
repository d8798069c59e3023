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
 *
 * A woken long-poll does work in proportion to what changed, not to the
 * list: unread counts are read only for the rooms whose counts may have
 * moved (count-rules.ts), the memberships and account data are made again
 * only once they changed, and the new pos is written behind the answer
 * (connections.ts `issue`). What remains per room of the lists is ordering
 * and cutting them in memory.
 */
import { blocksInvites } from '../rooms/invite-permission.js';
import type { ConnectionKey, SlidingSyncStore } from '../domain/sliding-sync-connections.js';
import { stateMapKey } from '../events/auth-rules.js';
import type { JsonObject } from '../events/pdu.js';
import type { AccountDataReader } from '../storage/readers.js';
import type { MembershipEvent, NotificationStore, RoomStore } from '../storage/storage.js';
import type { EventViews, Viewer } from '../sync/event-views.js';
import { membershipHistories, type MembershipStep } from '../sync/membership-at-event.js';
import type { Notifier } from '../sync/notifier.js';
import type { RoomHistory } from '../sync/room-history.js';
import { samePositions, type StreamPositions } from '../sync/stream-token.js';
import { orderProviders, type SyncStreamProvider } from '../sync/sync-streams.js';
import { LruCache } from '../util/lru-cache.js';
import { mapConcurrently } from '../util/map-concurrently.js';
import { SlidingSyncConnections, type ConnectionState, type RoomSent } from './connections.js';
import { countsOf, markUncounted, nextCountsAfter, roomsToCount } from './count-rules.js';
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
  /** Which rooms' unread counts may have changed (count-rules.ts). */
  notifications: Pick<NotificationStore, 'evaluatedUpTo' | 'roomsChanged'>;
}

/** Rooms built at once: on PostgreSQL their round trips overlap across the pool. */
const ROOMS_IN_FLIGHT = 8;
/** Users whose memberships (as the lists read them) are kept between responses. */
const MEMBERSHIPS_KEPT = 10_000;

/** What the user's account data tells the lists: their DMs, whether they block invites. */
interface AccountFacts {
  directRooms: ReadonlySet<string>;
  invitesBlocked: boolean;
}

/** The user's memberships as the lists read them (latestMemberships). */
interface Memberships {
  latest: readonly MembershipEvent[];
  everJoined: ReadonlySet<string>;
  histories: ReadonlyMap<string, MembershipStep[]>;
}

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
  /** Per user, their account facts as of an account data position. */
  private readonly accountFacts = new LruCache<string, { position: number; facts: AccountFacts }>(
    MEMBERSHIPS_KEPT,
  );
  /** Per user, the membership events last read and what was made of them. */
  private readonly memberships = new LruCache<
    string,
    { events: readonly MembershipEvent[]; made: Memberships }
  >(MEMBERSHIPS_KEPT);

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

  /** Resolves once every pos answered so far is written (before the storage closes). */
  flush(): Promise<void> {
    return this.connections.flush();
  }

  /**
   * The response with its pos: a new one when it says something, written
   * behind the answer (connections.ts `issue`); else the same pos again
   * (nothing moved on).
   */
  private answer(key: ConnectionKey, call: SlidingSyncCall, built: Built): JsonObject {
    const pos =
      call.pos !== undefined && !built.changed
        ? call.pos
        : this.connections.issue(key, call.pos, built.state);
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
    // Before any count is read: a notification stored after it is of a later event.
    const evaluated = await this.storage.notifications.evaluatedUpTo();
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
    const moved = base && since && (await this.countsMoved(viewer.userId, base, since, upper));
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
      roomIds: roomsToCount(sentJoined, base, moved || new Set()),
    });
    const roomsPart = await this.roomsPart(viewer, upper, base, configs, byId, extensions);
    markUncounted(roomsPart.sent, new Set(sentJoined));
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
        countsAfter: nextCountsAfter(evaluated, upper.roomEvents),
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
        counts: countsOf(
          extensions.parts.counts(roomId),
          candidate.membership.membership === 'join',
          base?.rooms.get(roomId),
        ),
      };
      const kept = this.rooms.unchanged(upper, input);
      if (kept) sent.set(roomId, kept);
      else toBuild.push(input);
    }
    const joined = toBuild.filter((room) => room.membership.membership === 'join');
    // Read beside the rooms' own reads: each joined room awaits it last.
    const bumps = joined.length
      ? this.storage.slidingSync.latestPositions(
          joined.map((room) => room.roomId),
          upper.roomEvents,
          BUMP_EVENT_TYPES,
        )
      : Promise.resolve(new Map<string, number>());
    const bumpOf = (room: RoomInput) =>
      room.membership.membership === 'join'
        ? // A bump type not yet seen (a room joined over federation mid-history): its recency.
          mayBeLeft(
            bumps.then((found) => Math.min(found.get(room.roomId) ?? room.latest, room.latest)),
          )
        : Promise.resolve(room.latest);
    const built = await mapConcurrently(toBuild, ROOMS_IN_FLIGHT, (room) =>
      this.rooms.build(viewer, upper, room, bumpOf(room)),
    );
    const json: Record<string, JsonObject> = {};
    toBuild.forEach((room, i) => {
      const result = built[i]!;
      if (result.json) json[room.roomId] = result.json;
      sent.set(room.roomId, result.sent);
    });
    return { json, sent };
  }

  /**
   * The rooms whose unread counts may have moved since the base's were read
   * (count-rules.ts): a notification or read move after its countsAfter (of
   * any position: one beyond this response's bound only costs a read), or a
   * read receipt of the user after its receipts position.
   */
  private async countsMoved(
    userId: string,
    base: ConnectionState,
    since: StreamPositions,
    upper: StreamPositions,
  ): Promise<Set<string> | undefined> {
    if (base.countsAfter === undefined) return undefined;
    const after = Math.min(base.countsAfter, since.roomEvents);
    const rooms = new Set(
      await this.storage.notifications.roomsChanged(userId, after, Number.MAX_SAFE_INTEGER),
    );
    if (since.receipts < upper.receipts) {
      const read = this.storage.slidingSync.readReceiptRooms(
        userId,
        since.receipts,
        upper.receipts,
      );
      for (const roomId of await read) rooms.add(roomId);
    }
    return rooms;
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
    const account = await this.accountFactsOf(viewer.userId, upper.accountData);
    const kept = await this.keptMemberships(viewer.userId, latest, base, forgotten, account);
    const joined = kept.filter((m) => m.membership === 'join').map((m) => m.roomId);
    const positions = await this.latestPositions(joined, upper.roomEvents);
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
        isDm: account.directRooms.has(membership.roomId),
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
   * joined to, and each room's membership history. Made again only when the
   * events differ from those last read (the room store keeps them, so the
   * same ones come back until the user's memberships change).
   */
  private async latestMemberships(userId: string, upTo: number): Promise<Memberships> {
    const events = await this.storage.rooms.membershipEventsOf(userId, upTo);
    const kept = this.memberships.get(userId);
    if (kept && sameItems(kept.events, events)) return kept.made;
    const latest = new Map<string, MembershipEvent>();
    const everJoined = new Set<string>();
    for (const event of events) {
      latest.set(event.roomId, event);
      if (event.membership === 'join') everJoined.add(event.roomId);
    }
    const made = {
      latest: [...latest.values()],
      everJoined,
      histories: membershipHistories(events),
    };
    this.memberships.set(userId, { events, made });
    return made;
  }

  /** The MSC's rules of which memberships put a room in the lists (see the module comment). */
  private async keptMemberships(
    userId: string,
    memberships: readonly MembershipEvent[],
    base: ConnectionState | undefined,
    forgotten: ReadonlySet<string>,
    { invitesBlocked }: AccountFacts,
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
    return visible.filter((m) => {
      const sender = senders.get(m.eventId);
      if (m.membership === 'invite') {
        return !invitesBlocked && !(sender !== undefined && ignored.has(sender));
      }
      if (m.membership === 'leave') return sender !== userId || base?.rooms.has(m.roomId) === true;
      return true;
    });
  }

  /**
   * The account facts, read again only once the account data stream moved
   * past where they were read (nothing of the user's can have changed before):
   * a woken long-poll reads no account data.
   */
  private async accountFactsOf(userId: string, position: number): Promise<AccountFacts> {
    const kept = this.accountFacts.get(userId);
    if (kept?.position === position) return kept.facts;
    const [directRooms, invitesBlocked] = await Promise.all([
      this.directRooms(userId),
      blocksInvites(this.storage, userId),
    ]);
    const facts = { directRooms, invitesBlocked };
    this.accountFacts.set(userId, { position, facts });
    return facts;
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

/**
 * A promise its consumer may never await (a room whose build failed first):
 * its failure is then that build's, not an unhandled rejection.
 */
function mayBeLeft<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** The same objects in the same order: a cheap test, no event is compared by value. */
function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
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
