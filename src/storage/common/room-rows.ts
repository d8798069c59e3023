/**
 * Rows of the room tables (events, state groups, current state) as every
 * backend reads them, and the rules both room stores follow: the tables have
 * the same columns and encodings in SQLite and PostgreSQL.
 *
 * State is kept as state groups: a state event creates a group holding only
 * its own entry as a delta over the previous group; every SNAPSHOT_INTERVAL
 * links the chain is cut by a group holding the full state. So a message costs
 * no state rows, a state event one group row and one entry (plus, every
 * SNAPSHOT_INTERVAL-th, a full copy), and the state at any event is at most
 * SNAPSHOT_INTERVAL groups away. `current_state` mirrors the newest group for
 * the cheap reads clients make most.
 */
import { stateMapKey } from '../../events/auth/auth-state.js';
import type { Pdu } from '../../events/pdu.js';
import type { EventRecord, StateIds } from '../storage.js';

export const SNAPSHOT_INTERVAL = 64;

/** An event with what serving it needs: the redaction applied, the client transaction. */
export interface EventRow {
  stream_ordering: number;
  event_id: string;
  room_id: string;
  json: string;
  replaces_state: string | null;
  redacted_by: string | null;
  txn_user: string | null;
  txn_device: string | null;
  txn_id: string | null;
}

export function toEvent(row: EventRow): EventRecord {
  const event: EventRecord = {
    eventId: row.event_id,
    roomId: row.room_id,
    pdu: JSON.parse(row.json) as Pdu,
    streamOrdering: row.stream_ordering,
  };
  if (row.redacted_by !== null) event.redactedBy = row.redacted_by;
  if (row.replaces_state !== null) event.replacesState = row.replaces_state;
  if (row.txn_user !== null && row.txn_device !== null && row.txn_id !== null) {
    event.transaction = { userId: row.txn_user, deviceId: row.txn_device, txnId: row.txn_id };
  }
  return event;
}

export interface StateRow {
  type: string;
  state_key: string;
  event_id: string;
}

export function toStateIds(rows: StateRow[]): StateIds {
  return new Map(rows.map((row) => [stateMapKey(row.type, row.state_key), row.event_id]));
}

/** Adds the entries of a group nearer the chain's start: those of nearer groups win. */
export function addOlderEntries(state: StateIds, older: Iterable<[string, string]>): void {
  for (const [key, eventId] of older) if (!state.has(key)) state.set(key, eventId);
}

/** The key of a room's current state entry in the caches. */
export function currentStateKey(roomId: string, type: string, stateKey: string): string {
  return `${roomId} ${stateMapKey(type, stateKey)}`;
}

/** The events.membership / current_state.membership column: an m.room.member's membership. */
export function membershipOf(pdu: Pdu): string | null {
  return pdu.type === 'm.room.member' && typeof pdu.content.membership === 'string'
    ? pdu.content.membership
    : null;
}

/** The event a redaction redacts (top level before v11, in the content from v11). */
export function redactionTarget(pdu: Pdu): string | undefined {
  if (pdu.type !== 'm.room.redaction') return undefined;
  const redacts = pdu.redacts ?? pdu.content.redacts;
  return typeof redacts === 'string' ? redacts : undefined;
}
