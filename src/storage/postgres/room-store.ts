/**
 * Rooms, events and state in PostgreSQL: the tables and state groups of
 * SQLite (../common/room-rows.ts) and the same caches (../common/room-caches.ts).
 *
 * Event batches commit one transaction at a time, in the order handed in,
 * those waiting sharing the next (../common/ordered-commits.ts): a room's next
 * events build on its previous ones, and only this store writes events. A
 * transaction takes a few round trips whatever its size: it locks the rooms
 * (reading their current state groups), reads the current entries its state
 * events replace and takes IDs for their state groups (only when it has
 * state events), writes every row in one statement (`WRITE_BATCH`), then
 * runs the relation index's writes. The rows are planned here, event by
 * event, as SQLite's store writes them one event at a time (`BatchPlan`).
 *
 * String orderings SQLite answers in (binary) are asked for with COLLATE "C":
 * the database's own collation may sort otherwise.
 */
import { stateMapKey } from '../../events/auth/auth-state.js';
import type {
  EventRecord,
  HeldEvent,
  MembershipEvent,
  NewRoomEvent,
  RoomEventsQuery,
  RoomRecord,
  RoomStore,
  StateIds,
} from '../storage.js';
import type { ListedRoom, RoomListScope } from '../../domain/room-list.js';
import type { PurgedFromCaches } from '../../domain/admin-jobs.js';
import { listRooms } from './room-listing.js';
import { OrderedCommits } from '../common/ordered-commits.js';
import {
  type MemberCounts,
  type PersistedEvent,
  RoomCaches,
  roomsWithCurrentMembership,
} from '../common/room-caches.js';
import {
  type EventRow,
  SNAPSHOT_INTERVAL,
  type StateRow,
  addOlderEntries,
  currentStateKey,
  membershipOf,
  redactionTarget,
  toEvent,
  toStateIds,
} from '../common/room-rows.js';
import type { StreamPositions } from '../common/stream-positions.js';
import type { PgDatabase, PgExecutor } from './database.js';
import type { IndexedEvent, PgRelationIndex } from './relation-index.js';
import { writeSearchIndex } from './search-store.js';
import { isReceived, isStreamed } from '../common/received-state.js';
import * as received from './received-events.js';
import { BackfillPositions } from '../common/backfill-positions.js';

/** Events one transaction holds at most (batches are never split). */
const MAX_EVENTS_PER_TRANSACTION = 2_000;

/** Events with what serving them needs: the redaction applied, the client transaction. */
const SELECT_EVENTS = `SELECT e.stream_ordering, e.event_id, e.room_id, e.json, e.replaces_state,
    (SELECT r.redaction_event_id FROM redactions r WHERE r.redacted_event_id = e.event_id
     ORDER BY r.redaction_event_id COLLATE "C" LIMIT 1) AS redacted_by,
    t.user_id AS txn_user, t.device_id AS txn_device, t.txn_id AS txn_id
  FROM events e LEFT JOIN event_transactions t ON t.stream_ordering = e.stream_ordering`;

/**
 * With the memberships resolution made current (federated events), each after
 * the event at its position: the newest is then the current-state membership.
 */
const MEMBERSHIP_EVENTS = `SELECT "roomId", "eventId", membership, "streamOrdering" FROM (
    SELECT room_id AS "roomId", event_id AS "eventId", membership,
      stream_ordering AS "streamOrdering", 0 AS changed
    FROM events WHERE type = 'm.room.member' AND state_key = $1 AND stream_ordering <= $2
    UNION ALL
    SELECT room_id, event_id, membership, stream_ordering, 1 FROM membership_changes
    WHERE user_id = $1 AND stream_ordering <= $2) AS m
  ORDER BY "streamOrdering", changed`;

/**
 * An event's origin_server_ts, as the events_by_room_ts index (migration 7)
 * spells it, so queries spelled so use the index. PostgreSQL's JSON parsing
 * refuses \u0000, which event JSON may hold: such events get NULL here and are
 * left out of timestamp lookups and counts rather than failing their insert.
 */
const EVENT_TS = `(CASE WHEN strpos(json, '\\u0000') = 0
  THEN (json::json ->> 'origin_server_ts')::bigint END)`;

export class PgRoomStore implements RoomStore {
  private readonly caches = new RoomCaches();
  private readonly commits = new OrderedCommits<NewRoomEvent, EventRecord>(
    (events) => this.commitEvents(events),
    MAX_EVENTS_PER_TRANSACTION,
  );
  /** The newest position whose commit the caches have learned of (membership caches stop here). */
  private reportedUpTo: number;
  private readonly backfillPositions = new BackfillPositions(async () => {
    const row = await this.db.row<{ lowest: string }>(
      'SELECT COALESCE(MIN(stream_ordering), 0) AS lowest FROM events',
    );
    return Number(row?.lowest ?? 0);
  });

  constructor(
    private readonly db: PgDatabase,
    private readonly stream: StreamPositions,
    private readonly relationIndex: PgRelationIndex,
  ) {
    this.reportedUpTo = stream.persistedUpTo();
  }

  /** Resolves once every batch handed to persistEvents has committed or failed. */
  flush(): Promise<void> {
    return this.commits.flush();
  }

  async createRoom(room: RoomRecord, now: number): Promise<void> {
    await this.db.run(
      `INSERT INTO rooms (room_id, room_version, creator, state_group, created_ts)
       VALUES ($1, $2, $3, NULL, $4)`,
      [room.roomId, room.version, room.creator, now],
    );
  }

  async getRoom(roomId: string): Promise<RoomRecord | undefined> {
    const row = await this.db.row<{ room_id: string; room_version: string; creator: string }>(
      'SELECT room_id, room_version, creator FROM rooms WHERE room_id = $1',
      [roomId],
    );
    return row && { roomId: row.room_id, version: row.room_version, creator: row.creator };
  }

  async getEvent(eventId: string): Promise<EventRecord | undefined> {
    return (await this.eventsById([eventId])).get(eventId);
  }

  async getEvents(eventIds: string[]): Promise<EventRecord[]> {
    const found = await this.eventsById(eventIds);
    return eventIds.flatMap((id) => found.get(id) ?? []);
  }

  /** Events never change once stored, but for a redaction marking them: cached by ID. */
  private eventsById(eventIds: string[]): Promise<Map<string, EventRecord>> {
    return this.caches.events.load(eventIds, async (missing) => {
      const rows = await this.db.rows<EventRow>(
        `${SELECT_EVENTS} WHERE e.event_id = ANY($1::text[])`,
        [missing],
      );
      const found = new Map<string, EventRecord>(rows.map((row) => [row.event_id, toEvent(row)]));
      // Outliers and soft-failed events, at position 0 (a later stream copy drops the entry).
      const others = missing.filter((id) => !found.has(id));
      for (const [id, held] of await received.offStreamEvents(this.db, others)) {
        if (held.rejectedReason === undefined) found.set(id, held);
      }
      return found;
    });
  }

  async currentStateIds(roomId: string): Promise<StateIds> {
    const rows = await this.db.rows<StateRow>(
      `SELECT type, state_key, event_id FROM current_state WHERE room_id = $1
       ORDER BY type COLLATE "C", state_key COLLATE "C"`,
      [roomId],
    );
    return toStateIds(rows);
  }

  async currentStateIdsFor(
    roomId: string,
    pairs: { type: string; stateKey: string }[],
  ): Promise<StateIds> {
    const byKey = new Map(
      pairs.map((pair) => [currentStateKey(roomId, pair.type, pair.stateKey), pair]),
    );
    const found = await this.caches.currentState.load(byKey.keys(), async (missing) => {
      const wanted = missing.map((key) => byKey.get(key)!);
      const rows = await this.db.rows<{ type: string; state_key: string; event_id: string | null }>(
        `SELECT p.type, p.state_key, c.event_id
         FROM unnest($2::text[], $3::text[]) AS p(type, state_key)
         LEFT JOIN current_state c
           ON c.room_id = $1 AND c.type = p.type AND c.state_key = p.state_key`,
        [roomId, wanted.map((pair) => pair.type), wanted.map((pair) => pair.stateKey)],
      );
      // A pair without an entry is cached too (null): most asked are absent in most rooms.
      return new Map(
        rows.map((row) => [currentStateKey(roomId, row.type, row.state_key), row.event_id]),
      );
    });
    const state: StateIds = new Map();
    for (const [key, pair] of byKey) {
      const eventId = found.get(key);
      if (typeof eventId === 'string') state.set(stateMapKey(pair.type, pair.stateKey), eventId);
    }
    return state;
  }

  async stateIdsAfter(eventId: string): Promise<StateIds | undefined> {
    let group = this.caches.eventGroups.get(eventId);
    if (group === undefined) {
      // Stream events, and soft-failed or rejected ones held with their state.
      group = await received.groupOf(this.db, eventId);
      if (group === undefined) return undefined;
      this.caches.eventGroups.set(eventId, group);
    }
    return this.resolveGroup(group);
  }

  async forwardExtremities(roomId: string): Promise<{ eventId: string; depth: number }[]> {
    return this.db.rows<{ eventId: string; depth: number }>(
      `SELECT f.event_id AS "eventId", e.depth FROM forward_extremities f
       JOIN events e ON e.event_id = f.event_id WHERE f.room_id = $1
       ORDER BY f.event_id COLLATE "C"`,
      [roomId],
    );
  }

  async persistEvent(event: NewRoomEvent): Promise<EventRecord> {
    const [record] = await this.persistEvents([event]);
    return record!;
  }

  async persistEvents(events: NewRoomEvent[]): Promise<EventRecord[]> {
    if (events.length === 0) return [];
    return this.commits.submit(events);
  }

  /**
   * One transaction for the events, at fresh positions of the event stream;
   * after its commit, in order, the relation index and the caches learn of it.
   */
  private commitEvents(events: NewRoomEvent[]): Promise<EventRecord[]> {
    // Events held off the stream (federation's outliers, soft-failed, rejected) take no position.
    // Backfilled ones bring their own (reserveBackfillPositions).
    const streamed = events.filter(
      (event) => isStreamed(event) && event.backfillPosition === undefined,
    ).length;
    const commit = async (positions: number[]) => {
      const plan = await this.db.transaction((tx) =>
        writeEventRuns(tx, this.receivedContext, events, positions),
      );
      // Before the positions are published: no reader may see an event that
      // the relation parents and the caches do not know of yet.
      if (plan.indexed.length > 0) this.relationIndex.noteCommitted(plan.indexed);
      const records = events.map((event, i) => this.caches.committed(event, plan.persisted[i]!));
      const last = plan.indexed.at(-1);
      if (last) this.reportedUpTo = Math.max(this.reportedUpTo, last.streamOrdering);
      return records;
    };
    return streamed === 0 ? commit([]) : this.stream.run(streamed, commit);
  }

  /** What the received events' writes borrow: group resolution on their transaction, the relation index. */
  private get receivedContext(): received.ReceivedWriteContext {
    return {
      resolveGroup: (group, executor) => this.resolveGroup(group, executor),
      relationIndex: this.relationIndex,
    };
  }

  async transactionEvent(
    userId: string,
    deviceId: string,
    endpoint: string,
    txnId: string,
  ): Promise<string | undefined> {
    const row = await this.db.row<{ event_id: string }>(
      `SELECT event_id FROM event_transactions
       WHERE user_id = $1 AND device_id = $2 AND endpoint = $3 AND txn_id = $4`,
      [userId, deviceId, endpoint, txnId],
    );
    return row?.event_id;
  }

  async forgetRoom(userId: string, roomId: string): Promise<void> {
    await this.db.run(
      'INSERT INTO forgotten_rooms (user_id, room_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [userId, roomId],
    );
    this.caches.forgotten.delete(userId);
  }

  /** From the user's membership events: the newest in each room is its current membership. */
  async roomsWithMembership(userId: string, membership: string): Promise<string[]> {
    return roomsWithCurrentMembership(await this.cachedMemberships(userId), membership);
  }

  async maxStreamOrdering(): Promise<number> {
    return this.stream.persistedUpTo();
  }

  async invitesSentSince(userId: string, fromTs: number): Promise<number> {
    const row = await this.db.row<{ count: string }>(
      `SELECT COUNT(*) AS count FROM events WHERE sender = $1 AND membership = 'invite'
         AND type = 'm.room.member' AND ${EVENT_TS} >= $2`,
      [userId, fromTs],
    );
    return Number(row?.count ?? 0);
  }

  async roomsJoinedSince(userId: string, fromTs: number): Promise<number> {
    const row = await this.db.row<{ count: string }>(
      `SELECT COUNT(DISTINCT room_id) AS count FROM events WHERE state_key = $1
         AND type = 'm.room.member' AND membership = 'join'
         AND ${EVENT_TS} >= $2`,
      [userId, fromTs],
    );
    return Number(row?.count ?? 0);
  }

  async eventNearTimestamp(roomId: string, ts: number, direction: 'f' | 'b') {
    // Spelled as the events_by_room_ts index's expression, so the index serves it;
    // only events below the persisted position (none still committing before it).
    const [compare, order] = direction === 'f' ? ['>=', 'ASC'] : ['<=', 'DESC'];
    const row = await this.db.row<{ event_id: string; ts: string }>(
      `SELECT event_id, ${EVENT_TS} AS ts FROM events
       WHERE room_id = $1 AND ${EVENT_TS} ${compare} $2
         AND stream_ordering <= $3
       ORDER BY ${EVENT_TS} ${order}, stream_ordering ${order}
       LIMIT 1`,
      [roomId, ts, this.stream.persistedUpTo()],
    );
    return row && { eventId: row.event_id, originServerTs: Number(row.ts) };
  }

  async roomEvents(query: RoomEventsQuery): Promise<EventRecord[]> {
    const order = query.order === 'newest-first' ? 'DESC' : 'ASC';
    const rows = await this.db.rows<EventRow>(
      `${SELECT_EVENTS}
       WHERE e.room_id = $1 AND e.stream_ordering > $2 AND e.stream_ordering <= $3
       ORDER BY e.stream_ordering ${order} LIMIT $4`,
      [query.roomId, query.after, query.upTo, query.limit],
    );
    return rows.map(toEvent);
  }

  async stateIdsAt(roomId: string, position: number): Promise<StateIds> {
    const row = await this.db.row<{ state_group: number }>(
      `SELECT coalesce(resolved_state_group, state_group) AS state_group FROM events
       WHERE room_id = $1 AND stream_ordering <= $2 ORDER BY stream_ordering DESC LIMIT 1`,
      [roomId, position],
    );
    return row ? this.resolveGroup(row.state_group) : new Map();
  }

  async membershipEventsOf(userId: string, upTo: number): Promise<MembershipEvent[]> {
    if (upTo > this.reportedUpTo) {
      return this.db.rows<MembershipEvent>(MEMBERSHIP_EVENTS, [userId, upTo]);
    }
    const events = await this.cachedMemberships(userId);
    return events.filter((event) => event.streamOrdering <= upTo);
  }

  private cachedMemberships(userId: string): Promise<MembershipEvent[]> {
    const upTo = this.reportedUpTo;
    return this.caches.memberships.getOrLoad(userId, () =>
      this.db.rows<MembershipEvent>(MEMBERSHIP_EVENTS, [userId, upTo]),
    );
  }

  async memberCounts(roomId: string): Promise<MemberCounts> {
    return this.caches.memberCounts.getOrLoad(roomId, async () => {
      const rows = await this.db.rows<{ membership: string; count: number }>(
        `SELECT membership, COUNT(*) AS count FROM current_state
         WHERE room_id = $1 AND type = 'm.room.member' AND membership IN ('join', 'invite')
         GROUP BY membership`,
        [roomId],
      );
      const countOf = (m: string) => rows.find((r) => r.membership === m)?.count ?? 0;
      return { joined: countOf('join'), invited: countOf('invite') };
    });
  }

  async listRooms(scope: RoomListScope): Promise<ListedRoom[]> {
    return listRooms(this.db, scope);
  }

  forgetPurged(roomId: string, purged: PurgedFromCaches): void {
    this.caches.forgetPurged(roomId, purged);
  }

  async someMembers(
    roomId: string,
    limit: number,
    options?: { former?: boolean },
  ): Promise<string[]> {
    const memberships = options?.former ? ['leave', 'ban'] : ['join', 'invite'];
    const rows = await this.db.rows<{ state_key: string }>(
      `SELECT state_key FROM current_state
       WHERE room_id = $1 AND type = 'm.room.member' AND membership IN ($2, $3)
       ORDER BY state_key COLLATE "C" LIMIT $4`,
      [roomId, ...memberships, limit],
    );
    return rows.map((row) => row.state_key);
  }

  async forgottenRooms(userId: string): Promise<string[]> {
    const rooms = await this.caches.forgotten.getOrLoad(userId, async () => {
      const rows = await this.db.rows<{ room_id: string }>(
        'SELECT room_id FROM forgotten_rooms WHERE user_id = $1 ORDER BY room_id COLLATE "C"',
        [userId],
      );
      return rows.map((row) => row.room_id);
    });
    return [...rooms];
  }

  /**
   * The state of a group: its chain back to the snapshot (or to the nearest
   * group already resolved) in one query, their entries in another; the
   * newest entry for a pair wins. Callers get their own copy to change.
   */
  private async resolveGroup(group: number, db: PgExecutor = this.db): Promise<StateIds> {
    const cached = this.caches.groups.get(group);
    if (cached) return new Map(cached);
    const chain = await db.rows<{ id: number }>(
      `WITH RECURSIVE chain (id, prev_group, depth) AS (
         SELECT id, prev_group, 0 FROM state_groups WHERE id = $1
         UNION ALL
         SELECT g.id, g.prev_group, chain.depth + 1
         FROM chain JOIN state_groups g ON g.id = chain.prev_group
       )
       SELECT id FROM chain ORDER BY depth`,
      [group],
    );
    const resolvedAt = chain.findIndex((link) => this.caches.groups.get(link.id) !== undefined);
    const toRead = (resolvedAt < 0 ? chain : chain.slice(0, resolvedAt)).map((link) => link.id);
    const rows = await db.rows<StateRow & { state_group: number }>(
      `SELECT state_group, type, state_key, event_id FROM state_group_entries
       WHERE state_group = ANY($1::bigint[])`,
      [toRead],
    );
    const entriesOf = new Map<number, [string, string][]>(toRead.map((id) => [id, []]));
    for (const row of rows) {
      entriesOf.get(row.state_group)!.push([stateMapKey(row.type, row.state_key), row.event_id]);
    }
    const state: StateIds = new Map();
    for (const id of toRead) addOlderEntries(state, entriesOf.get(id)!);
    const base = resolvedAt < 0 ? undefined : this.caches.groups.get(chain[resolvedAt]!.id);
    if (base) addOlderEntries(state, base);
    this.caches.groups.set(group, new Map(state));
    return state;
  }

  // --- federated events ---

  async heldEvents(eventIds: string[]): Promise<HeldEvent[]> {
    const rows = await this.db.rows<EventRow>(
      `${SELECT_EVENTS} WHERE e.event_id = ANY($1::text[])`,
      [eventIds],
    );
    const found = new Map<string, HeldEvent>(
      rows.map((row) => [row.event_id, { ...toEvent(row), outlier: false, softFailed: false }]),
    );
    const others = eventIds.filter((id) => !found.has(id));
    for (const [id, held] of await received.offStreamEvents(this.db, others)) found.set(id, held);
    return eventIds.flatMap((id) => found.get(id) ?? []);
  }

  async eventsExist(eventIds: string[]): Promise<Set<string>> {
    return received.existingEvents(this.db, eventIds);
  }

  async rejectedReason(eventId: string): Promise<string | undefined> {
    return (await received.offStreamEvents(this.db, [eventId])).get(eventId)?.rejectedReason;
  }

  async stateIdsBefore(eventId: string): Promise<StateIds | undefined> {
    const parts = await received.stateBeforeParts(this.db, eventId);
    if (!parts || parts.state_group === null) return undefined;
    return received.stateBeforeFrom(await this.resolveGroup(parts.state_group), parts);
  }

  async referencedEvents(eventIds: string[]): Promise<Set<string>> {
    return received.referencedEvents(this.db, eventIds);
  }

  async reserveBackfillPositions(count: number): Promise<number[]> {
    return this.backfillPositions.reserve(count);
  }

  async hasJoinedMember(roomId: string, serverName: string): Promise<boolean> {
    return received.hasJoinedMember(this.db, roomId, serverName);
  }
}

// The events transaction.

/**
 * A batch's events in runs: local events through the batched statement
 * (`writeEvents`), received ones one by one (received-events.ts), in order,
 * so each run reads what the runs before it wrote. `positions` are those of
 * the stream events, in order.
 */
async function writeEventRuns(
  tx: PgExecutor,
  context: received.ReceivedWriteContext,
  events: NewRoomEvent[],
  positions: number[],
): Promise<WrittenEvents> {
  if (!events.some(isReceived)) return writeEvents(tx, context.relationIndex, events, positions);
  const written: WrittenEvents = { persisted: [], indexed: [] };
  let next = 0;
  let local: NewRoomEvent[] = [];
  const flushLocal = async () => {
    if (local.length === 0) return;
    const run = await writeEvents(
      tx,
      context.relationIndex,
      local,
      positions.slice(next, next + local.length),
    );
    next += local.length;
    written.persisted.push(...run.persisted);
    written.indexed.push(...run.indexed);
    local = [];
  };
  for (const event of events) {
    if (!isReceived(event)) {
      local.push(event);
      continue;
    }
    await flushLocal();
    const position = event.backfillPosition ?? (isStreamed(event) ? positions[next++] : undefined);
    const write = await received.writeReceivedEvent(tx, context, event, position);
    written.persisted.push(write.persisted);
    if (write.indexed) written.indexed.push(write.indexed);
  }
  await flushLocal();
  return written;
}

/** What a room's rows look like as the batch goes: its current group, the state entries it set. */
interface RoomWrite {
  group: number | null;
  chainLength: number;
  /** Current state entries this batch set, by stateMapKey (the newest wins). */
  changed: Map<string, StateEntry>;
  groupChanged: boolean;
}

interface StateEntry {
  type: string;
  stateKey: string;
  eventId: string;
  membership: string | null;
}

/** What the transaction reports: per event, in order. */
interface WrittenEvents {
  persisted: PersistedEvent[];
  indexed: IndexedEvent[];
}

async function writeEvents(
  tx: PgExecutor,
  relationIndex: PgRelationIndex,
  events: NewRoomEvent[],
  positions: number[],
): Promise<WrittenEvents> {
  const rooms = await lockRooms(tx, events);
  const stateEvents = events.filter((event) => event.pdu.state_key !== undefined);
  const current = await currentEntriesReplaced(tx, stateEvents);
  const groupIds = await takeGroupIds(tx, stateEvents.length);
  const plan = new BatchPlan(rooms, current, groupIds);
  events.forEach((event, i) => plan.add(event, positions[i]!));
  await tx.run(WRITE_BATCH, plan.parameters());
  // As SQLite's store calls its relation index writer: after each event's rows.
  for (const [i, indexed] of plan.indexed.entries()) {
    const redacts = redactionTarget(events[i]!.pdu);
    if (redacts !== undefined) await relationIndex.unindex(tx, redacts);
    await relationIndex.index(tx, indexed);
  }
  const redacted = events.flatMap((event) => redactionTarget(event.pdu) ?? []);
  await writeSearchIndex(tx, plan.indexed, redacted);
  return { persisted: plan.persisted, indexed: plan.indexed };
}

/** Locks the batch's rooms (their current group changes) and reads where each stands. */
async function lockRooms(tx: PgExecutor, events: NewRoomEvent[]): Promise<Map<string, RoomWrite>> {
  const roomIds = [...new Set(events.map((event) => event.roomId))];
  const rows = await tx.rows<{ room_id: string; state_group: number | null; chain_length: number }>(
    `SELECT r.room_id, r.state_group, COALESCE(g.chain_length, 0) AS chain_length
     FROM rooms r LEFT JOIN state_groups g ON g.id = r.state_group
     WHERE r.room_id = ANY($1::text[]) ORDER BY r.room_id FOR UPDATE OF r`,
    [roomIds],
  );
  return new Map(
    rows.map((row) => [
      row.room_id,
      {
        group: row.state_group,
        chainLength: row.chain_length,
        changed: new Map(),
        groupChanged: false,
      },
    ]),
  );
}

/** The current entries the state events replace, by currentStateKey, as the batch finds them. */
async function currentEntriesReplaced(
  tx: PgExecutor,
  stateEvents: NewRoomEvent[],
): Promise<Map<string, string>> {
  if (stateEvents.length === 0) return new Map();
  const rows = await tx.rows<{
    room_id: string;
    type: string;
    state_key: string;
    event_id: string;
  }>(
    `SELECT c.room_id, c.type, c.state_key, c.event_id
     FROM unnest($1::text[], $2::text[], $3::text[]) AS p(room_id, type, state_key)
     JOIN current_state c
       ON c.room_id = p.room_id AND c.type = p.type AND c.state_key = p.state_key`,
    [
      stateEvents.map((event) => event.roomId),
      stateEvents.map((event) => event.pdu.type),
      stateEvents.map((event) => event.pdu.state_key),
    ],
  );
  return new Map(
    rows.map((row) => [currentStateKey(row.room_id, row.type, row.state_key), row.event_id]),
  );
}

async function takeGroupIds(tx: PgExecutor, count: number): Promise<number[]> {
  if (count === 0) return [];
  const rows = await tx.rows<{ id: number }>(
    `SELECT nextval('state_groups_id_seq') AS id FROM generate_series(1, $1::int) ORDER BY 1`,
    [count],
  );
  return rows.map((row) => row.id);
}

/** Rows gathered column by column: what `unnest($1::text[], $2::bigint[], ...)` reads. */
class Columns {
  readonly columns: unknown[][];

  constructor(width: number) {
    this.columns = Array.from({ length: width }, () => []);
  }

  add(...values: unknown[]): void {
    values.forEach((value, i) => this.columns[i]!.push(value));
  }
}

/**
 * The batch's rows, planned event by event with what SQLite's store reads
 * back from its own writes in the transaction: each room's current group
 * and the state entries set by earlier events of the batch.
 */
class BatchPlan {
  readonly persisted: PersistedEvent[] = [];
  readonly indexed: IndexedEvent[] = [];
  private readonly events = new Columns(11);
  private readonly staleExtremities = new Columns(2);
  private readonly transactions = new Columns(6);
  private readonly redactions = new Columns(2);
  private readonly unforgotten = new Columns(2);
  private readonly groups = new Columns(4);
  private readonly groupEntries = new Columns(4);
  /** Snapshot groups that start from the current state as the batch found it. */
  private readonly snapshotCopies = new Columns(2);
  private nextGroup = 0;

  constructor(
    private readonly rooms: Map<string, RoomWrite>,
    /** Current entries before the batch, by currentStateKey. */
    private readonly current: Map<string, string>,
    private readonly groupIds: number[],
  ) {}

  add(event: NewRoomEvent, position: number): void {
    const { pdu } = event;
    const room = this.rooms.get(event.roomId);
    if (!room) throw new Error(`Unknown room ${event.roomId}`);
    const replacesState = pdu.state_key === undefined ? undefined : this.appendState(event, room);
    if (room.group === null) throw new Error('The first event of a room must be a state event');
    this.events.add(
      position,
      event.eventId,
      event.roomId,
      pdu.type,
      pdu.state_key ?? null,
      pdu.sender,
      pdu.depth,
      room.group,
      JSON.stringify(pdu),
      replacesState ?? null,
      membershipOf(pdu),
    );
    // As Synapse, "forgotten" belongs to a membership: a new one (an invite, a join) ends it.
    if (pdu.type === 'm.room.member' && pdu.state_key !== undefined) {
      this.unforgotten.add(pdu.state_key, event.roomId);
    }
    const redacts = redactionTarget(pdu);
    if (redacts !== undefined) this.redactions.add(redacts, event.eventId);
    for (const prev of pdu.prev_events) this.staleExtremities.add(event.roomId, prev);
    const txn = event.transaction;
    if (txn) {
      this.transactions.add(
        position,
        txn.userId,
        txn.deviceId,
        txn.endpoint,
        txn.txnId,
        event.eventId,
      );
    }
    this.persisted.push(
      replacesState === undefined
        ? { streamOrdering: position }
        : { streamOrdering: position, replacesState },
    );
    this.indexed.push({
      eventId: event.eventId,
      roomId: event.roomId,
      pdu,
      relation: event.relation,
      streamOrdering: position,
    });
  }

  /** The state group after a state event, which becomes the room's current state; returns the entry replaced. */
  private appendState(event: NewRoomEvent, room: RoomWrite): string | undefined {
    const { type, state_key: stateKey = '' } = event.pdu;
    const key = stateMapKey(type, stateKey);
    const replaced =
      room.changed.get(key)?.eventId ??
      this.current.get(currentStateKey(event.roomId, type, stateKey));
    const id = this.groupIds[this.nextGroup++]!;
    const snapshot = room.group === null || room.chainLength + 1 >= SNAPSHOT_INTERVAL;
    this.groups.add(
      id,
      event.roomId,
      snapshot ? null : room.group,
      snapshot ? 0 : room.chainLength + 1,
    );
    room.changed.set(key, {
      type,
      stateKey,
      eventId: event.eventId,
      membership: membershipOf(event.pdu),
    });
    if (snapshot) {
      // The full state: what the room had before the batch, under what the batch set.
      if (room.group !== null) this.snapshotCopies.add(id, event.roomId);
      for (const entry of room.changed.values()) {
        this.groupEntries.add(id, entry.type, entry.stateKey, entry.eventId);
      }
    } else {
      this.groupEntries.add(id, type, stateKey, event.eventId);
    }
    room.chainLength = snapshot ? 0 : room.chainLength + 1;
    room.group = id;
    room.groupChanged = true;
    return replaced;
  }

  /** The parameters of WRITE_BATCH, in its order. */
  parameters(): unknown[] {
    const current = new Columns(5);
    const roomGroups = new Columns(2);
    for (const [roomId, room] of this.rooms) {
      for (const entry of room.changed.values()) {
        current.add(roomId, entry.type, entry.stateKey, entry.eventId, entry.membership);
      }
      if (room.groupChanged) roomGroups.add(roomId, room.group);
    }
    return [
      this.events,
      this.staleExtremities,
      this.newExtremities(),
      this.transactions,
      this.redactions,
      this.unforgotten,
      this.groups,
      this.groupEntries,
      this.snapshotCopies,
      current,
      roomGroups,
    ].flatMap((rows) => rows.columns);
  }

  /** The events no later event of the batch names as a prev event: the rooms' new extremities. */
  private newExtremities(): Columns {
    const extremities = new Columns(2);
    const named = new Set<string>();
    for (let i = this.indexed.length - 1; i >= 0; i--) {
      const { eventId, roomId, pdu } = this.indexed[i]!;
      if (!named.has(pairKey(roomId, eventId))) extremities.add(roomId, eventId);
      for (const prev of pdu.prev_events) named.add(pairKey(roomId, prev));
    }
    return extremities;
  }
}

const pairKey = (roomId: string, eventId: string) => `${roomId} ${eventId}`;

/**
 * Every row of a batch in one statement (one round trip, constant text).
 * The sub-statements all see the tables as they were before it: so the
 * snapshot groups copy the current state as the batch found it (the batch's
 * own entries, listed with them, take precedence), and the extremities
 * deleted (the prev events) are never the ones inserted.
 */
const WRITE_BATCH = `
WITH new_events AS (
  INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, depth,
    state_group, json, replaces_state, membership)
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
    $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[])
), stale_extremities AS (
  DELETE FROM forward_extremities
  WHERE (room_id, event_id) IN (SELECT * FROM unnest($12::text[], $13::text[]))
), new_extremities AS (
  INSERT INTO forward_extremities (room_id, event_id)
  SELECT * FROM unnest($14::text[], $15::text[])
), new_transactions AS (
  INSERT INTO event_transactions (stream_ordering, user_id, device_id, endpoint, txn_id, event_id)
  SELECT * FROM unnest($16::bigint[], $17::text[], $18::text[], $19::text[], $20::text[],
    $21::text[])
), new_redactions AS (
  INSERT INTO redactions (redacted_event_id, redaction_event_id)
  SELECT * FROM unnest($22::text[], $23::text[])
  ON CONFLICT DO NOTHING
), unforgotten AS (
  DELETE FROM forgotten_rooms
  WHERE (user_id, room_id) IN (SELECT * FROM unnest($24::text[], $25::text[]))
), new_groups AS (
  INSERT INTO state_groups (id, room_id, prev_group, chain_length)
  SELECT * FROM unnest($26::bigint[], $27::text[], $28::bigint[], $29::bigint[])
), new_group_entries AS (
  INSERT INTO state_group_entries (state_group, type, state_key, event_id)
  SELECT DISTINCT ON (state_group, type, state_key) state_group, type, state_key, event_id
  FROM (
    SELECT n.*, 0 AS precedence
    FROM unnest($30::bigint[], $31::text[], $32::text[], $33::text[])
      AS n(state_group, type, state_key, event_id)
    UNION ALL
    SELECT s.state_group, c.type, c.state_key, c.event_id, 1
    FROM unnest($34::bigint[], $35::text[]) AS s(state_group, room_id)
    JOIN current_state c ON c.room_id = s.room_id
  ) AS entries
  ORDER BY state_group, type, state_key, precedence
), new_current_state AS (
  INSERT INTO current_state (room_id, type, state_key, event_id, membership)
  SELECT * FROM unnest($36::text[], $37::text[], $38::text[], $39::text[], $40::text[])
  ON CONFLICT (room_id, type, state_key) DO UPDATE
    SET event_id = EXCLUDED.event_id, membership = EXCLUDED.membership
), new_room_groups AS (
  UPDATE rooms SET state_group = g.state_group
  FROM unnest($41::text[], $42::bigint[]) AS g(room_id, state_group)
  WHERE rooms.room_id = g.room_id
)
SELECT 1`;
