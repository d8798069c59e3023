/**
 * Rooms, events and state in SQLite: state groups and the caches as every
 * backend keeps them (../common/room-rows.ts, ../common/room-caches.ts).
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
import { type SqliteDatabase, writeTransaction } from './database.js';
import type { RelationParents } from '../common/relation-parents.js';
import {
  type PersistedEvent,
  RoomCaches,
  roomsWithCurrentMembership,
} from '../common/room-caches.js';
import {
  type EventRow,
  SNAPSHOT_INTERVAL,
  addOlderEntries,
  type StateRow,
  currentStateKey,
  membershipOf,
  redactionTarget,
  toEvent,
  toStateIds,
} from '../common/room-rows.js';
import { RelationIndexWriter } from './relation-store.js';
import { SearchIndexWriter } from './search-store.js';
import { listRooms, roomListStatements } from './room-listing.js';
import type { SqliteWriter } from './writer.js';
import { isReceived } from '../common/received-state.js';
import { SqliteReceivedEvents } from './received-events.js';
import { BackfillPositions } from '../common/backfill-positions.js';

interface GroupRow {
  id: number;
  prev_group: number | null;
  chain_length: number;
}

export class SqliteRoomStore implements RoomStore {
  private readonly statements;
  private readonly roomList;
  private readonly relations: RelationIndexWriter;
  private readonly search: SearchIndexWriter;
  /** Federation's events: their writes in the events transaction, and their reads. */
  private readonly received: SqliteReceivedEvents;
  /** Membership caches hold events up to `reportedUpTo()` (reads are synchronous here). */
  private readonly caches = new RoomCaches();
  private readonly backfillPositions = new BackfillPositions(
    async () => this.statements.selectMinStreamOrdering.get() as number,
  );
  constructor(
    private readonly db: SqliteDatabase,
    private readonly relationParents: RelationParents,
    /** Commits events on its own connection in a worker thread; without it, they commit here. */
    private readonly writer?: SqliteWriter,
  ) {
    this.statements = prepare(db);
    this.roomList = roomListStatements(db);
    this.relations = new RelationIndexWriter(db);
    this.search = new SearchIndexWriter(db);
    this.received = new SqliteReceivedEvents(db, (group) => this.resolveGroup(group));
  }

  async createRoom(room: RoomRecord, now: number): Promise<void> {
    this.statements.insertRoom.run(room.roomId, room.version, room.creator, now);
  }

  async getRoom(roomId: string): Promise<RoomRecord | undefined> {
    const row = this.statements.selectRoom.get(roomId) as
      { room_id: string; room_version: string; creator: string } | undefined;
    return row && { roomId: row.room_id, version: row.room_version, creator: row.creator };
  }

  async getEvent(eventId: string): Promise<EventRecord | undefined> {
    return this.eventById(eventId);
  }

  async getEvents(eventIds: string[]): Promise<EventRecord[]> {
    return eventIds.flatMap((id) => this.eventById(id) ?? []);
  }

  /** Events never change once stored, but for a redaction marking them: cached by ID. */
  private eventById(eventId: string): EventRecord | undefined {
    const cached = this.caches.events.get(eventId);
    if (cached) return cached;
    const row = this.statements.selectEvent.get(eventId) as EventRow | undefined;
    // Outliers and soft-failed events, at position 0 (a later stream copy drops the entry).
    const event = row ? toEvent(row) : this.received.servedOffStream(eventId);
    if (!event) return undefined;
    this.caches.events.set(eventId, event);
    return event;
  }

  async currentStateIds(roomId: string): Promise<StateIds> {
    const rows = this.statements.selectCurrentState.all(roomId) as StateRow[];
    return toStateIds(rows);
  }

  async currentStateIdsFor(
    roomId: string,
    pairs: { type: string; stateKey: string }[],
  ): Promise<StateIds> {
    const state: StateIds = new Map();
    for (const { type, stateKey } of pairs) {
      const key = currentStateKey(roomId, type, stateKey);
      const eventId = this.caches.currentState.getOrSet(
        key,
        () =>
          (this.statements.selectCurrentStateEvent.get(roomId, type, stateKey) as
            string | undefined) ?? null,
      );
      if (eventId !== null) state.set(stateMapKey(type, stateKey), eventId);
    }
    return state;
  }

  async stateIdsAfter(eventId: string): Promise<StateIds | undefined> {
    // Stream events, and soft-failed or rejected ones held with their state.
    const group = this.received.groupOf(eventId);
    return group === undefined ? undefined : this.resolveGroup(group);
  }

  async forwardExtremities(roomId: string): Promise<{ eventId: string; depth: number }[]> {
    return this.statements.selectExtremities.all(roomId) as { eventId: string; depth: number }[];
  }

  async persistEvent(event: NewRoomEvent): Promise<EventRecord> {
    const [record] = await this.persistEvents([event]);
    return record!;
  }

  async persistEvents(events: NewRoomEvent[]): Promise<EventRecord[]> {
    const persisted = this.writer
      ? await this.writer.persistEvents(events)
      : this.writeEvents(events);
    return events.map((event, i) => this.committed(event, persisted[i]!));
  }

  /** The events' transaction: run here, or in the writer thread on its own connection. */
  writeEvents(events: NewRoomEvent[]): PersistedEvent[] {
    return writeTransaction(this.db, () =>
      events.map((event) => this.persistInTransaction(event)),
    )();
  }

  /**
   * The newest position reported committed (by `persistEvents`, noted in the
   * relation parents). The writer thread commits before this thread hears of
   * it; reads answered from the caches stop here, as the event streams do.
   */
  private reportedUpTo(): number {
    return this.relationParents.reportedUpTo();
  }

  /** After the commit, in commit order: the caches and relation parents learn of it. */
  private committed(event: NewRoomEvent, persisted: PersistedEvent): EventRecord {
    const stored = this.caches.committed(event, persisted);
    if (persisted.offStream) return stored;
    this.relationParents.noteStored(persisted.streamOrdering);
    const parent = event.relation?.parentId;
    if (parent !== undefined) this.relationParents.noteChild(parent);
    return stored;
  }

  async transactionEvent(
    userId: string,
    deviceId: string,
    endpoint: string,
    txnId: string,
  ): Promise<string | undefined> {
    return this.statements.selectTransaction.get(userId, deviceId, endpoint, txnId) as
      string | undefined;
  }

  async forgetRoom(userId: string, roomId: string): Promise<void> {
    this.statements.insertForgotten.run(userId, roomId);
    this.caches.forgotten.delete(userId);
  }

  /** From the user's membership events: the newest in each room is its current membership. */
  async roomsWithMembership(userId: string, membership: string): Promise<string[]> {
    return roomsWithCurrentMembership(this.cachedMemberships(userId), membership);
  }

  async maxStreamOrdering(): Promise<number> {
    return this.statements.selectMaxStreamOrdering.get() as number;
  }

  async invitesSentSince(userId: string, fromTs: number): Promise<number> {
    return this.statements.countInvitesSent.get(userId, fromTs) as number;
  }

  async roomsJoinedSince(userId: string, fromTs: number): Promise<number> {
    return this.statements.countRoomsJoined.get(userId, fromTs) as number;
  }

  async eventNearTimestamp(roomId: string, ts: number, direction: 'f' | 'b') {
    const statement =
      direction === 'f'
        ? this.statements.selectEventAtOrAfter
        : this.statements.selectEventAtOrBefore;
    const row = statement.get(roomId, ts) as { event_id: string; ts: number } | undefined;
    return row && { eventId: row.event_id, originServerTs: row.ts };
  }

  async roomEvents(query: RoomEventsQuery): Promise<EventRecord[]> {
    const statement =
      query.order === 'newest-first'
        ? this.statements.selectRoomEventsBackwards
        : this.statements.selectRoomEventsForwards;
    const rows = statement.all(query.roomId, query.after, query.upTo, query.limit) as EventRow[];
    return rows.map(toEvent);
  }

  async stateIdsAt(roomId: string, position: number): Promise<StateIds> {
    const group = this.statements.selectGroupAt.get(roomId, position) as number | undefined;
    return group === undefined ? new Map() : this.resolveGroup(group);
  }

  async membershipEventsOf(userId: string, upTo: number): Promise<MembershipEvent[]> {
    if (upTo > this.reportedUpTo()) {
      return this.statements.selectMembershipEvents.all({ userId, upTo }) as MembershipEvent[];
    }
    return this.cachedMemberships(userId).filter((event) => event.streamOrdering <= upTo);
  }

  private cachedMemberships(userId: string): MembershipEvent[] {
    return this.caches.memberships.getOrSet(
      userId,
      () =>
        this.statements.selectMembershipEvents.all({
          userId,
          upTo: this.reportedUpTo(),
        }) as MembershipEvent[],
    );
  }

  async memberCounts(roomId: string): Promise<{ joined: number; invited: number }> {
    const rows = this.statements.selectMemberCounts.all(roomId) as {
      membership: string;
      count: number;
    }[];
    const countOf = (m: string) => rows.find((r) => r.membership === m)?.count ?? 0;
    return { joined: countOf('join'), invited: countOf('invite') };
  }

  async listRooms(scope: RoomListScope): Promise<ListedRoom[]> {
    return listRooms(this.roomList, scope);
  }

  forgetPurged(roomId: string, purged: PurgedFromCaches): void {
    this.caches.forgetPurged(roomId, purged);
  }

  async someMembers(roomId: string, limit: number, options?: { former?: boolean }) {
    const memberships = options?.former ? ['leave', 'ban'] : ['join', 'invite'];
    return this.statements.selectSomeMembers.all(roomId, ...memberships, limit) as string[];
  }

  async forgottenRooms(userId: string): Promise<string[]> {
    const rooms = this.caches.forgotten.getOrSet(
      userId,
      () => this.statements.selectForgotten.all(userId) as string[],
    );
    return [...rooms];
  }

  private persistInTransaction(event: NewRoomEvent): PersistedEvent {
    // Federation's events (off the stream, or with a state of their own): received-events.ts.
    if (isReceived(event)) {
      return this.received.persist(event, (group, replaces) =>
        this.insertStreamEvent(event, group, replaces),
      );
    }
    const s = this.statements;
    const { pdu } = event;
    const currentGroup = s.selectRoomGroup.get(event.roomId) as number | null | undefined;
    if (currentGroup === undefined) throw new Error(`Unknown room ${event.roomId}`);
    const replacesState =
      pdu.state_key === undefined
        ? undefined
        : (s.selectCurrentStateEvent.get(event.roomId, pdu.type, pdu.state_key) as
            string | undefined);
    const group =
      pdu.state_key === undefined ? currentGroup : this.appendStateGroup(event, currentGroup);
    if (group === null) throw new Error('The first event of a room must be a state event');
    const streamOrdering = this.insertStreamEvent(event, group, replacesState);
    for (const prev of pdu.prev_events) s.deleteExtremity.run(event.roomId, prev);
    s.insertExtremity.run(event.roomId, event.eventId);
    return replacesState === undefined ? { streamOrdering } : { streamOrdering, replacesState };
  }

  /** A stream event's row and the rows keyed by it; returns its position. */
  private insertStreamEvent(
    event: NewRoomEvent,
    group: number,
    replacesState: string | undefined,
  ): number {
    const s = this.statements;
    const { pdu } = event;
    const json = JSON.stringify(pdu);
    const backfilled = event.backfillPosition !== undefined;
    // A backfilled event takes the position reserved for it, the others the next one.
    const { lastInsertRowid } = (backfilled ? s.insertEventAt : s.insertEvent).run(
      ...(backfilled ? [event.backfillPosition] : []),
      event.eventId,
      event.roomId,
      pdu.type,
      pdu.state_key ?? null,
      pdu.sender,
      pdu.depth,
      group,
      json,
      replacesState ?? null,
      membershipOf(pdu),
    );
    // As Synapse, "forgotten" belongs to a membership: a new one (an invite, a join) ends it.
    // A backfilled one is old history, not a new membership.
    if (pdu.type === 'm.room.member' && pdu.state_key !== undefined && !backfilled) {
      s.deleteForgotten.run(pdu.state_key, event.roomId);
    }
    const redacts = redactionTarget(pdu);
    if (redacts !== undefined) {
      s.insertRedaction.run(redacts, event.eventId);
      this.relations.unindex(redacts);
      this.search.unindex(redacts);
    }
    const streamOrdering = Number(lastInsertRowid);
    this.relations.index(event.eventId, event.roomId, pdu, event.relation, streamOrdering);
    this.search.index(streamOrdering, event.roomId, pdu);
    const txn = event.transaction;
    if (txn)
      s.insertTransaction.run(
        streamOrdering,
        txn.userId,
        txn.deviceId,
        txn.endpoint,
        txn.txnId,
        event.eventId,
      );
    return streamOrdering;
  }

  /** Adds the state group after a state event and makes it the room's current state. */
  private appendStateGroup(event: NewRoomEvent, previous: number | null): number {
    const s = this.statements;
    const { type, state_key: stateKey = '' } = event.pdu;
    const prev = previous === null ? undefined : (s.selectGroup.get(previous) as GroupRow);
    const snapshot = !prev || prev.chain_length + 1 >= SNAPSHOT_INTERVAL;
    const { lastInsertRowid } = s.insertGroup.run(
      event.roomId,
      snapshot ? null : prev.id,
      snapshot ? 0 : prev.chain_length + 1,
    );
    const group = Number(lastInsertRowid);
    if (snapshot && prev) s.copyCurrentStateIntoGroup.run(group, event.roomId);
    s.upsertGroupEntry.run(group, type, stateKey, event.eventId);

    s.upsertCurrentState.run(event.roomId, type, stateKey, event.eventId, membershipOf(event.pdu));
    s.updateRoomGroup.run(group, event.roomId);
    return group;
  }

  // --- federated events ---

  async heldEvents(eventIds: string[]): Promise<HeldEvent[]> {
    return this.received.heldEvents(eventIds);
  }

  async eventsExist(eventIds: string[]): Promise<Set<string>> {
    return this.received.eventsExist(eventIds);
  }

  async rejectedReason(eventId: string): Promise<string | undefined> {
    return this.received.rejectedReason(eventId);
  }

  async stateIdsBefore(eventId: string): Promise<StateIds | undefined> {
    return this.received.stateIdsBefore(eventId);
  }

  async referencedEvents(eventIds: string[]): Promise<Set<string>> {
    return this.received.referencedEvents(eventIds);
  }

  async hasJoinedMember(roomId: string, serverName: string): Promise<boolean> {
    return this.received.hasJoinedMember(roomId, serverName);
  }

  async reserveBackfillPositions(count: number): Promise<number[]> {
    return this.backfillPositions.reserve(count);
  }

  /**
   * Walks the delta chain back to its snapshot, or to a group already resolved;
   * the newest entry for a pair wins. Callers get their own copy to change.
   */
  private resolveGroup(group: number): StateIds {
    const state: StateIds = new Map();
    let next: number | null = group;
    while (next !== null) {
      const resolved = this.caches.groups.get(next);
      if (resolved) {
        addOlderEntries(state, resolved);
        break;
      }
      for (const row of this.statements.selectGroupEntries.all(next) as StateRow[]) {
        const key = stateMapKey(row.type, row.state_key);
        if (!state.has(key)) state.set(key, row.event_id);
      }
      next = (this.statements.selectGroup.get(next) as GroupRow).prev_group;
    }
    this.caches.groups.set(group, new Map(state));
    return state;
  }
}

/** Events with what serving them needs: the redaction applied, the client transaction. */
const SELECT_EVENTS = `SELECT e.stream_ordering, e.event_id, e.room_id, e.json, e.replaces_state,
    (SELECT r.redaction_event_id FROM redactions r WHERE r.redacted_event_id = e.event_id
     LIMIT 1) AS redacted_by,
    t.user_id AS txn_user, t.device_id AS txn_device, t.txn_id AS txn_id
  FROM events e LEFT JOIN event_transactions t ON t.stream_ordering = e.stream_ordering`;

function prepare(db: SqliteDatabase) {
  return {
    insertRoom: db.prepare(
      'INSERT INTO rooms (room_id, room_version, creator, state_group, created_ts) VALUES (?, ?, ?, NULL, ?)',
    ),
    selectRoom: db.prepare('SELECT room_id, room_version, creator FROM rooms WHERE room_id = ?'),
    selectRoomGroup: db.prepare('SELECT state_group FROM rooms WHERE room_id = ?').pluck(),
    updateRoomGroup: db.prepare('UPDATE rooms SET state_group = ? WHERE room_id = ?'),
    selectEvent: db.prepare(`${SELECT_EVENTS} WHERE e.event_id = ?`),
    selectRoomEventsBackwards: db.prepare(
      `${SELECT_EVENTS} WHERE e.room_id = ? AND e.stream_ordering > ? AND e.stream_ordering <= ?
       ORDER BY e.stream_ordering DESC LIMIT ?`,
    ),
    // By the partial indexes events_invites_by_sender and events_memberships.
    countInvitesSent: db
      .prepare(
        `SELECT COUNT(*) FROM events WHERE sender = ? AND membership = 'invite'
           AND type = 'm.room.member' AND json_extract(json, '$.origin_server_ts') >= ?`,
      )
      .pluck(),
    countRoomsJoined: db
      .prepare(
        `SELECT COUNT(DISTINCT room_id) FROM events WHERE state_key = ? AND type = 'm.room.member'
           AND membership = 'join' AND json_extract(json, '$.origin_server_ts') >= ?`,
      )
      .pluck(),
    // Spelled as the events_by_room_ts index's expression, so the index serves it.
    selectEventAtOrAfter: db.prepare(
      `SELECT event_id, json_extract(json, '$.origin_server_ts') AS ts FROM events
       WHERE room_id = ? AND json_extract(json, '$.origin_server_ts') >= ?
       ORDER BY json_extract(json, '$.origin_server_ts') ASC, stream_ordering ASC LIMIT 1`,
    ),
    selectEventAtOrBefore: db.prepare(
      `SELECT event_id, json_extract(json, '$.origin_server_ts') AS ts FROM events
       WHERE room_id = ? AND json_extract(json, '$.origin_server_ts') <= ?
       ORDER BY json_extract(json, '$.origin_server_ts') DESC, stream_ordering DESC LIMIT 1`,
    ),
    selectRoomEventsForwards: db.prepare(
      `${SELECT_EVENTS} WHERE e.room_id = ? AND e.stream_ordering > ? AND e.stream_ordering <= ?
       ORDER BY e.stream_ordering ASC LIMIT ?`,
    ),
    selectMaxStreamOrdering: db
      .prepare('SELECT COALESCE(MAX(stream_ordering), 0) FROM events')
      .pluck(),
    selectGroupAt: db
      .prepare(
        `SELECT coalesce(resolved_state_group, state_group) FROM events
         WHERE room_id = ? AND stream_ordering <= ? ORDER BY stream_ordering DESC LIMIT 1`,
      )
      .pluck(),
    // With the memberships resolution made current (federated events), each after the
    // event at its position: the newest is then the current-state membership.
    selectMembershipEvents: db.prepare(
      `SELECT roomId, eventId, membership, streamOrdering FROM (
         SELECT room_id AS roomId, event_id AS eventId, membership,
           stream_ordering AS streamOrdering, 0 AS changed
         FROM events WHERE type = 'm.room.member' AND state_key = @userId
           AND stream_ordering <= @upTo
         UNION ALL
         SELECT room_id, event_id, membership, stream_ordering, 1 FROM membership_changes
         WHERE user_id = @userId AND stream_ordering <= @upTo)
       ORDER BY streamOrdering ASC, changed ASC`,
    ),
    selectMemberCounts: db.prepare(
      `SELECT membership, COUNT(*) AS count FROM current_state
       WHERE room_id = ? AND type = 'm.room.member' AND membership IN ('join', 'invite')
       GROUP BY membership`,
    ),
    selectSomeMembers: db
      .prepare(
        `SELECT state_key FROM current_state
         WHERE room_id = ? AND type = 'm.room.member' AND membership IN (?, ?)
         ORDER BY state_key LIMIT ?`,
      )
      .pluck(),
    selectForgotten: db.prepare('SELECT room_id FROM forgotten_rooms WHERE user_id = ?').pluck(),
    selectCurrentStateEvent: db
      .prepare(
        'SELECT event_id FROM current_state WHERE room_id = ? AND type = ? AND state_key = ?',
      )
      .pluck(),
    insertForgotten: db.prepare(
      'INSERT INTO forgotten_rooms (user_id, room_id) VALUES (?, ?) ON CONFLICT DO NOTHING',
    ),
    deleteForgotten: db.prepare('DELETE FROM forgotten_rooms WHERE user_id = ? AND room_id = ?'),
    insertRedaction: db.prepare(
      `INSERT INTO redactions (redacted_event_id, redaction_event_id) VALUES (?, ?)
       ON CONFLICT DO NOTHING`,
    ),
    insertEvent: db.prepare(
      `INSERT INTO events (event_id, room_id, type, state_key, sender, depth, state_group, json,
         replaces_state, membership)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertEventAt: db.prepare(
      `INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, depth,
         state_group, json, replaces_state, membership)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    selectMinStreamOrdering: db
      .prepare('SELECT COALESCE(MIN(stream_ordering), 0) FROM events')
      .pluck(),
    selectExtremities: db.prepare(
      `SELECT f.event_id AS eventId, e.depth AS depth FROM forward_extremities f
       JOIN events e ON e.event_id = f.event_id WHERE f.room_id = ?`,
    ),
    deleteExtremity: db.prepare(
      'DELETE FROM forward_extremities WHERE room_id = ? AND event_id = ?',
    ),
    insertExtremity: db.prepare(
      'INSERT INTO forward_extremities (room_id, event_id) VALUES (?, ?)',
    ),
    selectGroup: db.prepare('SELECT id, prev_group, chain_length FROM state_groups WHERE id = ?'),
    insertGroup: db.prepare(
      'INSERT INTO state_groups (room_id, prev_group, chain_length) VALUES (?, ?, ?)',
    ),
    selectGroupEntries: db.prepare(
      'SELECT type, state_key, event_id FROM state_group_entries WHERE state_group = ?',
    ),
    upsertGroupEntry: db.prepare(
      `INSERT INTO state_group_entries (state_group, type, state_key, event_id) VALUES (?, ?, ?, ?)
       ON CONFLICT (state_group, type, state_key) DO UPDATE SET event_id = excluded.event_id`,
    ),
    copyCurrentStateIntoGroup: db.prepare(
      `INSERT INTO state_group_entries (state_group, type, state_key, event_id)
       SELECT ?, type, state_key, event_id FROM current_state WHERE room_id = ?`,
    ),
    selectCurrentState: db.prepare(
      'SELECT type, state_key, event_id FROM current_state WHERE room_id = ?',
    ),
    upsertCurrentState: db.prepare(
      `INSERT INTO current_state (room_id, type, state_key, event_id, membership) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (room_id, type, state_key) DO UPDATE
       SET event_id = excluded.event_id, membership = excluded.membership`,
    ),
    selectRoomsWithMembership: db
      .prepare(
        `SELECT room_id FROM current_state
         WHERE type = 'm.room.member' AND state_key = ? AND membership = ?`,
      )
      .pluck(),
    selectTransaction: db
      .prepare(
        `SELECT event_id FROM event_transactions
         WHERE user_id = ? AND device_id = ? AND endpoint = ? AND txn_id = ?`,
      )
      .pluck(),
    insertTransaction: db.prepare(
      `INSERT INTO event_transactions
         (stream_ordering, user_id, device_id, endpoint, txn_id, event_id)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
  };
}
