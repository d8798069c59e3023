/** Rows of the tables of received events (received-events-sql.ts) as both backends read them. */
import type { HeldEvent } from '../storage.js';
import type { HeldKind } from './received-state.js';

/** A row of off_stream_events, read as an event. */
export interface OffStreamRow {
  event_id: string;
  room_id: string;
  kind: HeldKind;
  state_group: number | null;
  json: string;
  replaces_state: string | null;
  rejected_reason: string | null;
  redacted_by: string | null;
}

/** An off-stream row as a record: at position 0, as the contract says. */
export function heldFromRow(row: OffStreamRow): HeldEvent {
  const held: HeldEvent = {
    eventId: row.event_id,
    roomId: row.room_id,
    pdu: JSON.parse(row.json) as HeldEvent['pdu'],
    streamOrdering: 0,
    // Held without its state: an outlier, or a rejected event that came as one.
    outlier: row.state_group === null,
    softFailed: row.kind === 'soft_failed',
  };
  if (row.rejected_reason !== null) held.rejectedReason = row.rejected_reason;
  if (row.replaces_state !== null) held.replacesState = row.replaces_state;
  if (row.redacted_by !== null) held.redactedBy = row.redacted_by;
  return held;
}
