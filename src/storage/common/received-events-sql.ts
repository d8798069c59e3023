/**
 * The tables both backends add for events received over federation
 * (received-state.ts; SQLite migration 32, PostgreSQL 17). `%INTEGER%` is the
 * backend's 64-bit integer, `%WITHOUT_ROWID%` SQLite's clustered-table clause.
 */
export const RECEIVED_EVENTS_TABLES_SQL = `
  -- Events held off the event stream, so that no stream read (timelines, sync, search,
  -- relations, push, /messages) can ever meet them: outliers (known by ID only: auth
  -- chains, state fetched to fill a gap, no state group), soft-failed events (with the
  -- group of the state after them: other servers may build on them) and rejected ones
  -- (with the reason, so a repeat arrival is answered at once; the state after a rejected
  -- event held with its state is the state before it). An outlier received again for
  -- the timeline moves to events.
  CREATE TABLE off_stream_events (
    event_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    -- 'outlier', 'soft_failed' or 'rejected'
    kind TEXT NOT NULL,
    depth %INTEGER% NOT NULL,
    state_group %INTEGER%,
    replaces_state TEXT,
    membership TEXT,
    rejected_reason TEXT,
    json TEXT NOT NULL
  );
  CREATE INDEX off_stream_events_by_room ON off_stream_events (room_id);
  -- The prev_events of received events held with their state: an event some stored
  -- event already names is no forward extremity when it arrives (local events never
  -- need it: nothing can name an event before it is built).
  CREATE TABLE event_edges (
    prev_event_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (prev_event_id, event_id)
  )%WITHOUT_ROWID%;
  -- Memberships made current by state resolution rather than by their own event's
  -- arrival (a member event that lost, an older one current again, an entry removed),
  -- at the position of the event that caused it: read after the stream's member events,
  -- so "the newest is current" gives the current-state membership.
  CREATE TABLE membership_changes (
    user_id TEXT NOT NULL,
    stream_ordering %INTEGER% NOT NULL,
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    membership TEXT NOT NULL,
    PRIMARY KEY (user_id, stream_ordering, room_id)
  )%WITHOUT_ROWID%;
  CREATE INDEX membership_changes_by_room ON membership_changes (room_id);
`;

export function receivedEventsTablesSql(integer: string, withoutRowid: string): string {
  return RECEIVED_EVENTS_TABLES_SQL.replaceAll('%INTEGER%', integer).replaceAll(
    '%WITHOUT_ROWID%',
    withoutRowid,
  );
}
