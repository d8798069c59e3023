/**
 * Events received over federation in PostgreSQL: the counterpart of
 * ../sqlite/received-events.ts. Their writes run inside the room store's
 * events transaction, one event at a time with plain statements (federation
 * delivers far fewer events than local clients send, and each may read what
 * the one before wrote: its prev event's state group, the room's current
 * group); local events keep the batched statement (room-store.ts).
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
import { type OffStreamRow, heldFromRow } from '../common/received-rows.js';
import type { PersistedEvent } from '../common/room-caches.js';
import { membershipOf, redactionTarget } from '../common/room-rows.js';
import type { PgExecutor } from './database.js';
import type { IndexedEvent, PgRelationIndex } from './relation-index.js';
import { writeSearchIndex } from './search-store.js';

/** What the room store lends the writes: its group resolution (on the transaction's connection). */
export interface ReceivedWriteContext {
  resolveGroup(group: number, executor: PgExecutor): Promise<StateIds>;
  relationIndex: PgRelationIndex;
}

export interface ReceivedWrite {
  persisted: PersistedEvent;
  /** Set for a stream event: what the relation parents learn after the commit. */
  indexed?: IndexedEvent;
}

const OFF_STREAM: PersistedEvent = { streamOrdering: 0, offStream: true };

/**
 * One received event inside the events transaction. `position` is its place
 * in the stream, taken before the transaction; undefined for events off it.
 */
export async function writeReceivedEvent(
  tx: PgExecutor,
  context: ReceivedWriteContext,
  event: NewRoomEvent,
  position: number | undefined,
): Promise<ReceivedWrite> {
  const held = await tx.row<{ kind: string }>(
    `SELECT 'stream' AS kind FROM events WHERE event_id = $1
     UNION ALL SELECT kind FROM off_stream_events WHERE event_id = $1 LIMIT 1`,
    [event.eventId],
  );
  // An event held in any form is not stored again; only an outlier may move on.
  if (held && held.kind !== 'outlier') return { persisted: { ...OFF_STREAM } };
  if (event.outlier || event.stateBefore === undefined) {
    if (!held) await insertOffStream(tx, event, heldKindOf(event)!, null, undefined);
    return { persisted: { ...OFF_STREAM } };
  }
  const deOutliered = held !== undefined;
  if (deOutliered)
    await tx.run('DELETE FROM off_stream_events WHERE event_id = $1', [event.eventId]);
  const write = await new ReceivedEventWrite(tx, context, event, event.stateBefore).run(position);
  if (deOutliered) write.persisted.deOutliered = true;
  return write;
}

/** The writes of one event held with its state. */
class ReceivedEventWrite {
  constructor(
    private readonly tx: PgExecutor,
    private readonly context: ReceivedWriteContext,
    private readonly event: NewRoomEvent,
    private readonly stateBefore: StateIds,
  ) {}

  async run(position: number | undefined): Promise<ReceivedWrite> {
    const { tx, event } = this;
    const { pdu, roomId, eventId } = event;
    const room = await tx.row<{ state_group: number | null }>(
      'SELECT state_group FROM rooms WHERE room_id = $1 FOR UPDATE',
      [roomId],
    );
    if (!room) throw new Error(`Unknown room ${roomId}`);
    const kind = heldKindOf(event);
    const rejected = kind === 'rejected';
    const after = stateAfterEvent(this.stateBefore, eventId, pdu, rejected);
    const group = await this.groupFor(after, await this.basesOf(pdu.prev_events));
    const replacesState =
      pdu.state_key === undefined || rejected
        ? undefined
        : this.stateBefore.get(stateMapKey(pdu.type, pdu.state_key));
    if (kind !== undefined) {
      await insertOffStream(tx, event, kind, group, replacesState);
      if (kind === 'soft_failed') await this.insertEdges();
      return { persisted: { ...OFF_STREAM } };
    }
    if (position === undefined) throw new Error('A stream event needs a position');
    const indexed = await insertStreamEvent(tx, this.context.relationIndex, event, position, {
      group,
      replacesState,
    });
    await this.insertEdges();
    // Backfilled history changes no extremity, current state or membership.
    if (event.backfillPosition !== undefined) {
      const persisted: PersistedEvent = { streamOrdering: position };
      if (replacesState !== undefined) persisted.replacesState = replacesState;
      return { persisted, indexed };
    }
    await this.moveExtremities();
    const { changes, roomGroupAfter } = event.currentState
      ? await this.applyCurrentState(event.currentState, room.state_group, { group, state: after })
      : { changes: [], roomGroupAfter: room.state_group };
    await this.recordResolvedState(group, roomGroupAfter);
    const persisted: PersistedEvent = { streamOrdering: position, currentChanges: changes };
    if (replacesState !== undefined) persisted.replacesState = replacesState;
    const memberships = await this.membershipChanges(changes, position);
    if (memberships.length > 0) persisted.membershipChanges = memberships;
    return { persisted, indexed };
  }

  private async membershipChanges(changes: CurrentChange[], position: number) {
    const { tx, event } = this;
    // The lookups the pure rule asks for, read up front (it is synchronous).
    const memberIds = changes.flatMap((c) =>
      c.type === 'm.room.member' && c.eventId !== null ? [c.eventId] : [],
    );
    const memberships = await membershipsOf(tx, memberIds);
    const ownKey = event.pdu.type === 'm.room.member' ? event.pdu.state_key : undefined;
    const ownCurrent =
      ownKey === undefined
        ? null
        : ((
            await tx.row<{ event_id: string }>(
              `SELECT event_id FROM current_state
               WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2`,
              [event.roomId, ownKey],
            )
          )?.event_id ?? null);
    if (ownCurrent !== null && ownCurrent !== event.eventId) {
      for (const [id, m] of await membershipsOf(tx, [ownCurrent])) memberships.set(id, m);
    }
    const result = membershipChanges(
      event,
      changes,
      () => ownCurrent,
      (id) => (id === event.eventId ? membershipOf(event.pdu) : (memberships.get(id) ?? null)),
    );
    for (const change of result) {
      await tx.run(
        `INSERT INTO membership_changes (user_id, stream_ordering, room_id, event_id, membership)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id, stream_ordering, room_id) DO UPDATE
         SET event_id = EXCLUDED.event_id, membership = EXCLUDED.membership`,
        [change.userId, position, change.roomId, change.eventId, change.membership],
      );
    }
    return result;
  }

  /** The event's own extremity change, or the local rule: its prev_events out, itself in. */
  private async moveExtremities(): Promise<void> {
    const { event } = this;
    const change = event.extremities ?? { remove: event.pdu.prev_events, add: [event.eventId] };
    if (change.remove.length > 0) {
      await this.tx.run(
        'DELETE FROM forward_extremities WHERE room_id = $1 AND event_id = ANY($2::text[])',
        [event.roomId, change.remove],
      );
    }
    if (change.add.length > 0) {
      await this.tx.run(
        `INSERT INTO forward_extremities (room_id, event_id)
         SELECT $1::text, unnest($2::text[]) ON CONFLICT DO NOTHING`,
        [event.roomId, change.add],
      );
    }
  }

  private async insertEdges(): Promise<void> {
    const { pdu, eventId } = this.event;
    if (pdu.prev_events.length === 0) return;
    await this.tx.run(
      `INSERT INTO event_edges (prev_event_id, event_id)
       SELECT unnest($1::text[]), $2::text ON CONFLICT DO NOTHING`,
      [pdu.prev_events, eventId],
    );
  }

  /** The groups of the first prev_events held with their state: what a new group may build on. */
  private async basesOf(prevEvents: readonly string[]): Promise<GroupBase[]> {
    const wanted = prevEvents.slice(0, MAX_GROUP_BASES);
    if (wanted.length === 0) return [];
    const rows = await this.tx.rows<{ state_group: number }>(
      `SELECT DISTINCT state_group FROM (
         SELECT state_group FROM events WHERE event_id = ANY($1::text[])
         UNION ALL
         SELECT state_group FROM off_stream_events
         WHERE event_id = ANY($1::text[]) AND state_group IS NOT NULL) AS g`,
      [wanted],
    );
    const bases: GroupBase[] = [];
    for (const row of rows) {
      bases.push(await this.baseOf(row.state_group));
    }
    return bases;
  }

  private async baseOf(group: number, state?: StateIds): Promise<GroupBase> {
    const row = await this.tx.row<{ chain_length: number }>(
      'SELECT chain_length FROM state_groups WHERE id = $1',
      [group],
    );
    return {
      group,
      chainLength: row?.chain_length ?? 0,
      state: state ?? (await this.context.resolveGroup(group, this.tx)),
    };
  }

  /** The group holding `target`: one of the bases when equal, else a new delta or snapshot. */
  private async groupFor(target: StateIds, bases: readonly GroupBase[]): Promise<number> {
    const plan = planStateGroup(target, bases);
    if (plan.kind === 'reuse') return plan.group;
    const [prevGroup, chainLength] =
      plan.kind === 'delta' ? [plan.prevGroup, plan.chainLength] : [null, 0];
    const row = await this.tx.row<{ id: number }>(
      `INSERT INTO state_groups (room_id, prev_group, chain_length) VALUES ($1, $2, $3)
       RETURNING id`,
      [this.event.roomId, prevGroup, chainLength],
    );
    const group = row!.id;
    if (plan.entries.length > 0) {
      await this.tx.run(
        `INSERT INTO state_group_entries (state_group, type, state_key, event_id)
         SELECT $1::bigint, * FROM unnest($2::text[], $3::text[], $4::text[])`,
        [
          group,
          plan.entries.map((e) => e.type),
          plan.entries.map((e) => e.stateKey),
          plan.entries.map((e) => e.eventId),
        ],
      );
    }
    return group;
  }

  /**
   * Resolution's current state replaces the room's: current_state rows change
   * where they differ, and the room's group becomes one holding exactly it.
   */
  private async applyCurrentState(
    target: StateIds,
    roomGroup: number | null,
    own: { group: number; state: StateIds },
  ): Promise<{ changes: CurrentChange[]; roomGroupAfter: number | null }> {
    const { tx, event } = this;
    const before = roomGroup === null ? new Map() : await this.context.resolveGroup(roomGroup, tx);
    const changes = currentChanges(before, target);
    const removed = changes.filter((c) => c.eventId === null);
    const set = changes.filter((c): c is CurrentChange & { eventId: string } => c.eventId !== null);
    if (removed.length > 0) {
      await tx.run(
        `DELETE FROM current_state WHERE room_id = $1
           AND (type, state_key) IN (SELECT * FROM unnest($2::text[], $3::text[]))`,
        [event.roomId, removed.map((c) => c.type), removed.map((c) => c.stateKey)],
      );
    }
    if (set.length > 0) {
      const memberships = await membershipsOf(
        tx,
        set.filter((c) => c.type === 'm.room.member').map((c) => c.eventId),
      );
      const membership = (c: { eventId: string; type: string }) =>
        c.type !== 'm.room.member'
          ? null
          : c.eventId === event.eventId
            ? membershipOf(event.pdu)
            : (memberships.get(c.eventId) ?? null);
      await tx.run(
        `INSERT INTO current_state (room_id, type, state_key, event_id, membership)
         SELECT $1::text, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])
         ON CONFLICT (room_id, type, state_key) DO UPDATE
           SET event_id = EXCLUDED.event_id, membership = EXCLUDED.membership`,
        [
          event.roomId,
          set.map((c) => c.type),
          set.map((c) => c.stateKey),
          set.map((c) => c.eventId),
          set.map(membership),
        ],
      );
    }
    if (changes.length === 0 && roomGroup !== null) return { changes, roomGroupAfter: roomGroup };
    let group = own.group;
    if (!sameState(target, own.state)) {
      const bases = [await this.baseOf(own.group, own.state)];
      if (roomGroup !== null) bases.push(await this.baseOf(roomGroup, before));
      group = await this.groupFor(target, bases);
    }
    await tx.run('UPDATE rooms SET state_group = $1 WHERE room_id = $2', [group, event.roomId]);
    return { changes, roomGroupAfter: group };
  }

  /**
   * An event on a fork: the room's state after it (resolution's, or the current
   * state it left alone) is not the event's own, so stateIdsAt reads it from here.
   */
  private async recordResolvedState(own: number, roomGroup: number | null): Promise<void> {
    if (roomGroup === null || roomGroup === own) return;
    await this.tx.run('UPDATE events SET resolved_state_group = $1 WHERE event_id = $2', [
      roomGroup,
      this.event.eventId,
    ]);
  }
}

/** The memberships of member events by ID (stream or off it). */
async function membershipsOf(tx: PgExecutor, eventIds: string[]): Promise<Map<string, string>> {
  if (eventIds.length === 0) return new Map();
  const rows = await tx.rows<{ event_id: string; membership: string | null }>(
    `SELECT event_id, membership FROM events WHERE event_id = ANY($1::text[])
     UNION ALL
     SELECT event_id, membership FROM off_stream_events WHERE event_id = ANY($1::text[])`,
    [eventIds],
  );
  return new Map(
    rows.flatMap((row) => (row.membership === null ? [] : [[row.event_id, row.membership]])),
  );
}

async function insertOffStream(
  tx: PgExecutor,
  event: NewRoomEvent,
  kind: HeldKind,
  group: number | null,
  replacesState: string | undefined,
): Promise<void> {
  const { pdu } = event;
  await tx.run(
    `INSERT INTO off_stream_events (event_id, room_id, kind, depth, state_group, replaces_state,
       membership, rejected_reason, json)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      event.eventId,
      event.roomId,
      kind,
      pdu.depth,
      group,
      replacesState ?? null,
      membershipOf(pdu),
      event.rejectedReason ?? null,
      JSON.stringify(pdu),
    ],
  );
}

/** A received stream event's row and the rows keyed by it (as the batched statement writes them). */
async function insertStreamEvent(
  tx: PgExecutor,
  relationIndex: PgRelationIndex,
  event: NewRoomEvent,
  position: number,
  state: { group: number; replacesState: string | undefined },
): Promise<IndexedEvent> {
  const { pdu } = event;
  await tx.run(
    `INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, depth,
       state_group, json, replaces_state, membership)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      position,
      event.eventId,
      event.roomId,
      pdu.type,
      pdu.state_key ?? null,
      pdu.sender,
      pdu.depth,
      state.group,
      JSON.stringify(pdu),
      state.replacesState ?? null,
      membershipOf(pdu),
    ],
  );
  // As Synapse, "forgotten" belongs to a membership: a new one (an invite, a join) ends it.
  // A backfilled one is old history, not a new membership.
  if (
    pdu.type === 'm.room.member' &&
    pdu.state_key !== undefined &&
    event.backfillPosition === undefined
  ) {
    await tx.run('DELETE FROM forgotten_rooms WHERE user_id = $1 AND room_id = $2', [
      pdu.state_key,
      event.roomId,
    ]);
  }
  const redacts = redactionTarget(pdu);
  if (redacts !== undefined) {
    await tx.run(
      `INSERT INTO redactions (redacted_event_id, redaction_event_id) VALUES ($1, $2)
       ON CONFLICT DO NOTHING`,
      [redacts, event.eventId],
    );
    await relationIndex.unindex(tx, redacts);
  }
  const indexed: IndexedEvent = {
    eventId: event.eventId,
    roomId: event.roomId,
    pdu,
    relation: event.relation,
    streamOrdering: position,
  };
  await relationIndex.index(tx, indexed);
  await writeSearchIndex(tx, [indexed], redacts === undefined ? [] : [redacts]);
  return indexed;
}

// --- reads ---

const OFF_STREAM_SELECT = `SELECT o.event_id, o.room_id, o.kind, o.state_group, o.json,
    o.replaces_state, o.rejected_reason,
    (SELECT r.redaction_event_id FROM redactions r WHERE r.redacted_event_id = o.event_id
     ORDER BY r.redaction_event_id COLLATE "C" LIMIT 1) AS redacted_by
  FROM off_stream_events o`;

/** Off-stream events among these IDs, by ID (rejected ones too). */
export async function offStreamEvents(
  db: PgExecutor,
  eventIds: string[],
): Promise<Map<string, HeldEvent>> {
  if (eventIds.length === 0) return new Map();
  const rows = await db.rows<OffStreamRow>(
    `${OFF_STREAM_SELECT} WHERE o.event_id = ANY($1::text[])`,
    [eventIds],
  );
  return new Map(rows.map((row) => [row.event_id, heldFromRow(row)]));
}

/** The state group after an event held with its state (stream or off it). */
export async function groupOf(db: PgExecutor, eventId: string): Promise<number | undefined> {
  const row = await db.row<{ state_group: number | null }>(
    `SELECT state_group FROM events WHERE event_id = $1
     UNION ALL SELECT state_group FROM off_stream_events WHERE event_id = $1 LIMIT 1`,
    [eventId],
  );
  return row?.state_group ?? undefined;
}

/** What the state before an event is made from: the group after it and the entry it replaced. */
export async function stateBeforeParts(db: PgExecutor, eventId: string) {
  return db.row<{
    state_group: number | null;
    type: string;
    state_key: string | null;
    replaces_state: string | null;
    kind: string;
  }>(
    `SELECT state_group, type, state_key, replaces_state, 'stream' AS kind
       FROM events WHERE event_id = $1
     UNION ALL
     SELECT o.state_group, (o.json::json ->> 'type'), (o.json::json ->> 'state_key'),
       o.replaces_state, o.kind
       FROM off_stream_events o WHERE o.event_id = $1
     LIMIT 1`,
    [eventId],
  );
}

export function stateBeforeFrom(
  after: StateIds,
  parts: { type: string; state_key: string | null; replaces_state: string | null; kind: string },
): StateIds {
  // A rejected event did not change the state: the state after it is the state before.
  if (parts.kind === 'rejected' || parts.state_key === null) return after;
  return stateBeforeEvent(
    after,
    { type: parts.type, state_key: parts.state_key },
    parts.replaces_state,
  );
}

export async function existingEvents(db: PgExecutor, eventIds: string[]): Promise<Set<string>> {
  if (eventIds.length === 0) return new Set();
  const rows = await db.rows<{ event_id: string }>(
    `SELECT event_id FROM events WHERE event_id = ANY($1::text[])
     UNION SELECT event_id FROM off_stream_events WHERE event_id = ANY($1::text[])`,
    [eventIds],
  );
  return new Set(rows.map((row) => row.event_id));
}

export async function referencedEvents(db: PgExecutor, eventIds: string[]): Promise<Set<string>> {
  if (eventIds.length === 0) return new Set();
  const rows = await db.rows<{ prev_event_id: string }>(
    'SELECT DISTINCT prev_event_id FROM event_edges WHERE prev_event_id = ANY($1::text[])',
    [eventIds],
  );
  return new Set(rows.map((row) => row.prev_event_id));
}

export async function hasJoinedMember(
  db: PgExecutor,
  roomId: string,
  serverName: string,
): Promise<boolean> {
  // A user ID's server name is all after its first colon.
  const row = await db.row<{ found: number }>(
    `SELECT 1 AS found FROM current_state WHERE room_id = $1 AND type = 'm.room.member'
       AND membership = 'join' AND substr(state_key, strpos(state_key, ':') + 1) = $2
     LIMIT 1`,
    [roomId, serverName],
  );
  return row !== undefined;
}
