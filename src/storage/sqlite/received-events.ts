/**
 * Events received over federation in SQLite: their writes inside the events
 * transaction (run by SqliteRoomStore.persistInTransaction, in the writer
 * thread), and the reads federation makes of them. The rules (state groups
 * from the state before an event, current state changes, membership
 * changes) are ../common/received-state.ts; the tables are
 * ../common/received-events-sql.ts.
 */
import { stateMapKey } from '../../events/auth/auth-state.js';
import type { HeldEvent, NewRoomEvent, StateIds } from '../storage.js';
import {
  type CurrentChange,
  type GroupBase,
  type HeldKind,
  MAX_GROUP_BASES,
  currentChanges,
  heldKindOf,
  membershipChanges,
  planStateGroup,
  sameState,
  stateAfterEvent,
  stateBeforeEvent,
} from '../common/received-state.js';
import type { PersistedEvent } from '../common/room-caches.js';
import { type EventRow, membershipOf, toEvent } from '../common/room-rows.js';
import { type OffStreamRow, heldFromRow } from '../common/received-rows.js';
import type { SqliteDatabase } from './database.js';

interface GroupRow {
  id: number;
  chain_length: number;
}

/** Writes a stream event's own row and per-event rows (the room store's); returns its position. */
export type InsertStreamEvent = (group: number, replacesState: string | undefined) => number;

export class SqliteReceivedEvents {
  private readonly s;

  constructor(
    db: SqliteDatabase,
    /** The room store's resolution of a state group (cached; a copy the caller may change). */
    private readonly resolveGroup: (group: number) => StateIds,
  ) {
    this.s = prepare(db);
  }

  // --- writes, inside the events transaction ---

  persist(event: NewRoomEvent, insertStreamEvent: InsertStreamEvent): PersistedEvent {
    const streamed = this.s.selectStreamed.get(event.eventId) !== undefined;
    const held = this.s.selectHeldKind.get(event.eventId) as HeldKind | undefined;
    const offStream: PersistedEvent = { streamOrdering: 0, offStream: true };
    // An event held in any form is not stored again; only an outlier may move on.
    if (streamed || (held !== undefined && held !== 'outlier')) return offStream;
    if (event.outlier || event.stateBefore === undefined) {
      if (held === undefined) this.insertOffStream(event, heldKindOf(event)!, null, undefined);
      return offStream;
    }
    const deOutliered = held === 'outlier';
    if (deOutliered) this.s.deleteOffStream.run(event.eventId);
    const persisted = this.persistWithState(event, event.stateBefore, insertStreamEvent);
    return deOutliered ? { ...persisted, deOutliered } : persisted;
  }

  private persistWithState(
    event: NewRoomEvent,
    stateBefore: StateIds,
    insertStreamEvent: InsertStreamEvent,
  ): PersistedEvent {
    const { pdu, roomId, eventId } = event;
    const roomGroup = this.s.selectRoomGroup.get(roomId) as number | null | undefined;
    if (roomGroup === undefined) throw new Error(`Unknown room ${roomId}`);
    const kind = heldKindOf(event);
    const rejected = kind === 'rejected';
    const after = stateAfterEvent(stateBefore, eventId, pdu, rejected);
    const group = this.groupFor(roomId, after, this.basesOf(pdu.prev_events));
    const replacesState =
      pdu.state_key === undefined || rejected
        ? undefined
        : stateBefore.get(stateMapKey(pdu.type, pdu.state_key));
    if (kind !== undefined) {
      this.insertOffStream(event, kind, group, replacesState);
      if (kind === 'soft_failed') this.insertEdges(event);
      return { streamOrdering: 0, offStream: true };
    }
    const streamOrdering = insertStreamEvent(group, replacesState);
    this.insertEdges(event);
    // Backfilled history changes no extremity, current state or membership.
    if (event.backfillPosition !== undefined) {
      return replacesState === undefined ? { streamOrdering } : { streamOrdering, replacesState };
    }
    this.moveExtremities(event);
    const { changes, roomGroupAfter } = event.currentState
      ? this.applyCurrentState(event, event.currentState, roomGroup, { group, state: after })
      : { changes: [], roomGroupAfter: roomGroup };
    this.recordResolvedState(eventId, group, roomGroupAfter);
    const memberships = membershipChanges(
      event,
      changes,
      (userId) =>
        (this.s.selectCurrentEntry.get(roomId, 'm.room.member', userId) as string | undefined) ??
        null,
      (id) => (id === eventId ? membershipOf(pdu) : this.membershipOfId(id)),
    );
    for (const change of memberships) {
      this.s.insertMembershipChange.run(
        change.userId,
        streamOrdering,
        change.roomId,
        change.eventId,
        change.membership,
      );
    }
    const persisted: PersistedEvent = { streamOrdering, currentChanges: changes };
    if (replacesState !== undefined) persisted.replacesState = replacesState;
    if (memberships.length > 0) persisted.membershipChanges = memberships;
    return persisted;
  }

  private insertOffStream(
    event: NewRoomEvent,
    kind: HeldKind,
    group: number | null,
    replacesState: string | undefined,
  ): void {
    const { pdu } = event;
    this.s.insertOffStream.run(
      event.eventId,
      event.roomId,
      kind,
      pdu.depth,
      group,
      replacesState ?? null,
      membershipOf(pdu),
      event.rejectedReason ?? null,
      JSON.stringify(pdu),
    );
  }

  /** The event's own extremity change, or the local rule: its prev_events out, itself in. */
  private moveExtremities(event: NewRoomEvent): void {
    const change = event.extremities ?? { remove: event.pdu.prev_events, add: [event.eventId] };
    for (const id of change.remove) this.s.deleteExtremity.run(event.roomId, id);
    for (const id of change.add) this.s.insertExtremity.run(event.roomId, id);
  }

  private insertEdges(event: NewRoomEvent): void {
    for (const prev of event.pdu.prev_events) this.s.insertEdge.run(prev, event.eventId);
  }

  /** The groups of the first prev_events held with their state: what a new group may build on. */
  private basesOf(prevEvents: readonly string[]): GroupBase[] {
    const bases: GroupBase[] = [];
    for (const prev of prevEvents.slice(0, MAX_GROUP_BASES)) {
      const group = this.groupOf(prev);
      if (group === undefined || bases.some((base) => base.group === group)) continue;
      bases.push(this.baseOf(group, this.resolveGroup(group)));
    }
    return bases;
  }

  private baseOf(group: number, state: StateIds): GroupBase {
    const row = this.s.selectGroup.get(group) as GroupRow;
    return { group, chainLength: row.chain_length, state };
  }

  /** The group holding `target`: one of the bases when equal, else a new delta or snapshot. */
  private groupFor(roomId: string, target: StateIds, bases: readonly GroupBase[]): number {
    const plan = planStateGroup(target, bases);
    if (plan.kind === 'reuse') return plan.group;
    const { lastInsertRowid } =
      plan.kind === 'delta'
        ? this.s.insertGroup.run(roomId, plan.prevGroup, plan.chainLength)
        : this.s.insertGroup.run(roomId, null, 0);
    const group = Number(lastInsertRowid);
    for (const entry of plan.entries) {
      this.s.insertGroupEntry.run(group, entry.type, entry.stateKey, entry.eventId);
    }
    return group;
  }

  /**
   * Resolution's current state replaces the room's: current_state rows change
   * where they differ, and the room's group becomes one holding exactly it
   * (the event's own when equal, else a new one over the previous current group).
   */
  private applyCurrentState(
    event: NewRoomEvent,
    target: StateIds,
    roomGroup: number | null,
    own: { group: number; state: StateIds },
  ): { changes: CurrentChange[]; roomGroupAfter: number | null } {
    const { roomId } = event;
    const before = roomGroup === null ? new Map<string, string>() : this.resolveGroup(roomGroup);
    const changes = currentChanges(before, target);
    for (const change of changes) {
      if (change.eventId === null) {
        this.s.deleteCurrentEntry.run(roomId, change.type, change.stateKey);
        continue;
      }
      const membership =
        change.eventId === event.eventId
          ? membershipOf(event.pdu)
          : this.membershipOfId(change.eventId);
      this.s.upsertCurrentEntry.run(
        roomId,
        change.type,
        change.stateKey,
        change.eventId,
        membership,
      );
    }
    if (changes.length === 0 && roomGroup !== null) return { changes, roomGroupAfter: roomGroup };
    const bases = [this.baseOf(own.group, own.state)];
    if (roomGroup !== null) bases.push(this.baseOf(roomGroup, before));
    const group = sameState(target, own.state) ? own.group : this.groupFor(roomId, target, bases);
    this.s.updateRoomGroup.run(group, roomId);
    return { changes, roomGroupAfter: group };
  }

  /**
   * An event on a fork: the room's state after it (resolution's, or the current
   * state it left alone) is not the event's own, so stateIdsAt reads it from here.
   */
  private recordResolvedState(eventId: string, own: number, roomGroup: number | null): void {
    if (roomGroup !== null && roomGroup !== own) {
      this.s.updateResolvedGroup.run(roomGroup, eventId);
    }
  }

  private membershipOfId(eventId: string): string | null {
    return (this.s.selectMembership.get(eventId, eventId) as string | null | undefined) ?? null;
  }

  // --- reads ---

  /** The state group after an event held with its state (stream or off it). */
  groupOf(eventId: string): number | undefined {
    const group = this.s.selectAnyGroup.get(eventId, eventId) as number | null | undefined;
    return group ?? undefined;
  }

  /** An off-stream event as getEvents serves it (rejected ones left out); undefined if none. */
  servedOffStream(eventId: string): HeldEvent | undefined {
    const held = this.offStream(eventId);
    return held && held.rejectedReason === undefined ? held : undefined;
  }

  heldEvents(eventIds: string[]): HeldEvent[] {
    return eventIds.flatMap((id): HeldEvent[] => {
      const row = this.s.selectStreamEvent.get(id) as EventRow | undefined;
      if (row) return [{ ...toEvent(row), outlier: false, softFailed: false }];
      const held = this.offStream(id);
      return held ? [held] : [];
    });
  }

  eventsExist(eventIds: string[]): Set<string> {
    return new Set(
      eventIds.filter(
        (id) =>
          this.s.selectStreamed.get(id) !== undefined ||
          this.s.selectHeldKind.get(id) !== undefined,
      ),
    );
  }

  rejectedReason(eventId: string): string | undefined {
    return (this.s.selectRejectedReason.get(eventId) as string | null | undefined) ?? undefined;
  }

  stateIdsBefore(eventId: string): StateIds | undefined {
    const row = this.s.selectStateBeforeParts.get(eventId, eventId) as
      | {
          state_group: number | null;
          type: string;
          state_key: string | null;
          replaces_state: string | null;
          kind: string;
        }
      | undefined;
    if (!row || row.state_group === null) return undefined;
    const after = this.resolveGroup(row.state_group);
    // A rejected event did not change the state: the state after it is the state before.
    if (row.kind === 'rejected' || row.state_key === null) return after;
    return stateBeforeEvent(
      after,
      { type: row.type, state_key: row.state_key },
      row.replaces_state,
    );
  }

  referencedEvents(eventIds: string[]): Set<string> {
    return new Set(eventIds.filter((id) => this.s.selectReferenced.get(id) !== undefined));
  }

  hasJoinedMember(roomId: string, serverName: string): boolean {
    return this.s.selectJoinedOfServer.get(roomId, serverName) !== undefined;
  }

  private offStream(eventId: string): HeldEvent | undefined {
    const row = this.s.selectOffStream.get(eventId) as OffStreamRow | undefined;
    return row && heldFromRow(row);
  }
}

/** Stream events with what serving them needs (as the room store's SELECT_EVENTS). */
const SELECT_STREAM_EVENT = `SELECT e.stream_ordering, e.event_id, e.room_id, e.json, e.replaces_state,
    (SELECT r.redaction_event_id FROM redactions r WHERE r.redacted_event_id = e.event_id
     LIMIT 1) AS redacted_by,
    t.user_id AS txn_user, t.device_id AS txn_device, t.txn_id AS txn_id
  FROM events e LEFT JOIN event_transactions t ON t.stream_ordering = e.stream_ordering
  WHERE e.event_id = ?`;

function prepare(db: SqliteDatabase) {
  return {
    selectStreamed: db.prepare('SELECT 1 FROM events WHERE event_id = ?').pluck(),
    selectStreamEvent: db.prepare(SELECT_STREAM_EVENT),
    selectHeldKind: db.prepare('SELECT kind FROM off_stream_events WHERE event_id = ?').pluck(),
    selectOffStream: db.prepare(
      `SELECT o.event_id, o.room_id, o.kind, o.state_group, o.json, o.replaces_state, o.rejected_reason,
         (SELECT r.redaction_event_id FROM redactions r WHERE r.redacted_event_id = o.event_id
          LIMIT 1) AS redacted_by
       FROM off_stream_events o WHERE o.event_id = ?`,
    ),
    selectRejectedReason: db
      .prepare('SELECT rejected_reason FROM off_stream_events WHERE event_id = ?')
      .pluck(),
    insertOffStream: db.prepare(
      `INSERT INTO off_stream_events (event_id, room_id, kind, depth, state_group, replaces_state,
         membership, rejected_reason, json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    deleteOffStream: db.prepare('DELETE FROM off_stream_events WHERE event_id = ?'),
    selectAnyGroup: db
      .prepare(
        `SELECT state_group FROM events WHERE event_id = ?
         UNION ALL SELECT state_group FROM off_stream_events WHERE event_id = ? LIMIT 1`,
      )
      .pluck(),
    selectStateBeforeParts: db.prepare(
      `SELECT state_group, type, state_key, replaces_state, 'stream' AS kind
         FROM events WHERE event_id = ?
       UNION ALL
       SELECT o.state_group, json_extract(o.json, '$.type'), json_extract(o.json, '$.state_key'),
         o.replaces_state, o.kind
         FROM off_stream_events o WHERE o.event_id = ?
       LIMIT 1`,
    ),
    selectMembership: db
      .prepare(
        `SELECT membership FROM events WHERE event_id = ?
         UNION ALL SELECT membership FROM off_stream_events WHERE event_id = ? LIMIT 1`,
      )
      .pluck(),
    selectRoomGroup: db.prepare('SELECT state_group FROM rooms WHERE room_id = ?').pluck(),
    updateRoomGroup: db.prepare('UPDATE rooms SET state_group = ? WHERE room_id = ?'),
    updateResolvedGroup: db.prepare(
      'UPDATE events SET resolved_state_group = ? WHERE event_id = ?',
    ),
    selectGroup: db.prepare('SELECT id, chain_length FROM state_groups WHERE id = ?'),
    insertGroup: db.prepare(
      'INSERT INTO state_groups (room_id, prev_group, chain_length) VALUES (?, ?, ?)',
    ),
    insertGroupEntry: db.prepare(
      `INSERT INTO state_group_entries (state_group, type, state_key, event_id) VALUES (?, ?, ?, ?)`,
    ),
    selectCurrentEntry: db
      .prepare(
        'SELECT event_id FROM current_state WHERE room_id = ? AND type = ? AND state_key = ?',
      )
      .pluck(),
    upsertCurrentEntry: db.prepare(
      `INSERT INTO current_state (room_id, type, state_key, event_id, membership) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (room_id, type, state_key) DO UPDATE
       SET event_id = excluded.event_id, membership = excluded.membership`,
    ),
    deleteCurrentEntry: db.prepare(
      'DELETE FROM current_state WHERE room_id = ? AND type = ? AND state_key = ?',
    ),
    deleteExtremity: db.prepare(
      'DELETE FROM forward_extremities WHERE room_id = ? AND event_id = ?',
    ),
    insertExtremity: db.prepare(
      'INSERT INTO forward_extremities (room_id, event_id) VALUES (?, ?) ON CONFLICT DO NOTHING',
    ),
    insertEdge: db.prepare(
      'INSERT INTO event_edges (prev_event_id, event_id) VALUES (?, ?) ON CONFLICT DO NOTHING',
    ),
    selectReferenced: db
      .prepare('SELECT 1 FROM event_edges WHERE prev_event_id = ? LIMIT 1')
      .pluck(),
    insertMembershipChange: db.prepare(
      `INSERT INTO membership_changes (user_id, stream_ordering, room_id, event_id, membership)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user_id, stream_ordering, room_id) DO UPDATE
       SET event_id = excluded.event_id, membership = excluded.membership`,
    ),
    // A user ID's server name is all after its first colon. The room's member entries
    // are one range of current_state's key.
    selectJoinedOfServer: db
      .prepare(
        `SELECT 1 FROM current_state WHERE room_id = ? AND type = 'm.room.member'
           AND membership = 'join' AND substr(state_key, instr(state_key, ':') + 1) = ?
         LIMIT 1`,
      )
      .pluck(),
  };
}
