/**
 * The federation sender's tables' SQL, shared by both backends ($n or ?
 * placeholders, in order): the per-destination queues of PDUs and durable
 * EDUs, the streams' "queued up to" marks, and the destinations' backoff.
 */
import type { DestinationRetry, QueuedEdu, QueuedPdu } from '../../domain/federation-sending.js';

type Placeholder = (n: number) => string;

export interface PduRow {
  destination: string;
  stream_ordering: number | string;
  event_id: string;
}

export interface EduRow {
  id: number | string;
  destination: string;
  edu_type: string;
  content_json: string;
}

export interface RetryRow {
  failures: number | string;
  retry_at_ts: number | string;
}

/** The tables, for both backends (`%INTEGER%` and `%ID%` filled in by each). */
export const FEDERATION_SENDING_TABLES_SQL = `
  -- Per destination server, the local events not yet acknowledged, in stream order.
  CREATE TABLE federation_pdu_queue (
    destination TEXT NOT NULL,
    stream_ordering %INTEGER% NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (destination, stream_ordering)
  );
  -- Per destination, the EDUs that must survive a restart (to-device messages,
  -- device list and signing key updates), in insertion order.
  CREATE TABLE federation_edu_queue (
    id %ID%,
    destination TEXT NOT NULL,
    edu_type TEXT NOT NULL,
    content_json TEXT NOT NULL
  );
  CREATE INDEX federation_edu_queue_by_destination ON federation_edu_queue (destination, id);
  -- How far into each stream (events, deviceLists) everything was queued: at start
  -- the sender reads what follows again, so a crash between a commit and its
  -- queueing loses nothing.
  CREATE TABLE federation_sending_positions (
    stream TEXT PRIMARY KEY,
    position %INTEGER% NOT NULL
  );
  -- Destinations that failed: their backoff, kept across restarts.
  CREATE TABLE federation_destinations (
    destination TEXT PRIMARY KEY,
    failures %INTEGER% NOT NULL,
    retry_at_ts %INTEGER% NOT NULL
  );
`;

export function federationSendingSql(p: Placeholder) {
  return {
    position: `SELECT position FROM federation_sending_positions WHERE stream = ${p(1)}`,
    initialisePosition: `INSERT INTO federation_sending_positions (stream, position)
      VALUES (${p(1)}, ${p(2)}) ON CONFLICT (stream) DO NOTHING`,
    movePosition: `INSERT INTO federation_sending_positions (stream, position)
      VALUES (${p(1)}, ${p(2)}) ON CONFLICT (stream) DO UPDATE SET position = excluded.position
      WHERE federation_sending_positions.position < excluded.position`,
    insertPdu: `INSERT INTO federation_pdu_queue (destination, stream_ordering, event_id)
      VALUES (${p(1)}, ${p(2)}, ${p(3)}) ON CONFLICT DO NOTHING`,
    insertEdu: `INSERT INTO federation_edu_queue (destination, edu_type, content_json)
      VALUES (${p(1)}, ${p(2)}, ${p(3)})`,
    destinations: `SELECT destination FROM federation_pdu_queue
      UNION SELECT destination FROM federation_edu_queue`,
    pendingPdus: `SELECT destination, stream_ordering, event_id FROM federation_pdu_queue
      WHERE destination = ${p(1)} ORDER BY stream_ordering LIMIT ${p(2)}`,
    pendingEdus: `SELECT id, destination, edu_type, content_json FROM federation_edu_queue
      WHERE destination = ${p(1)} ORDER BY id LIMIT ${p(2)}`,
    pduBacklog: `SELECT COUNT(*) AS n FROM federation_pdu_queue WHERE destination = ${p(1)}`,
    // Parameters: the destination twice, then how many of each room's newest stay.
    dropOlderPdusPerRoom: `DELETE FROM federation_pdu_queue WHERE destination = ${p(1)}
      AND stream_ordering IN (
        SELECT stream_ordering FROM (
          SELECT q.stream_ordering, ROW_NUMBER() OVER (
            PARTITION BY e.room_id ORDER BY q.stream_ordering DESC) AS newer
          FROM federation_pdu_queue q JOIN events e ON e.stream_ordering = q.stream_ordering
          WHERE q.destination = ${p(2)}
        ) ranked WHERE newer > ${p(3)})`,
    deletePdu: `DELETE FROM federation_pdu_queue WHERE destination = ${p(1)}
      AND stream_ordering = ${p(2)}`,
    deleteEdu: `DELETE FROM federation_edu_queue WHERE destination = ${p(1)} AND id = ${p(2)}`,
    retry: `SELECT failures, retry_at_ts FROM federation_destinations WHERE destination = ${p(1)}`,
    setRetry: `INSERT INTO federation_destinations (destination, failures, retry_at_ts)
      VALUES (${p(1)}, ${p(2)}, ${p(3)}) ON CONFLICT (destination) DO UPDATE
      SET failures = excluded.failures, retry_at_ts = excluded.retry_at_ts`,
    clearRetry: `DELETE FROM federation_destinations WHERE destination = ${p(1)}`,
    eventIdsAfter: `SELECT event_id FROM events WHERE stream_ordering > ${p(1)}
      AND stream_ordering <= ${p(2)} ORDER BY stream_ordering LIMIT ${p(3)}`,
  };
}

export function toQueuedPdu(row: PduRow): QueuedPdu {
  return {
    destination: row.destination,
    streamOrdering: Number(row.stream_ordering),
    eventId: row.event_id,
  };
}

export function toQueuedEdu(row: EduRow): QueuedEdu {
  return {
    id: Number(row.id),
    destination: row.destination,
    eduType: row.edu_type,
    contentJson: row.content_json,
  };
}

export function toRetry(row: RetryRow): DestinationRetry {
  return { failures: Number(row.failures), retryAtTs: Number(row.retry_at_ts) };
}
