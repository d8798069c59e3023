/**
 * Rows of the relation index (`event_relations`) as every backend reads them:
 * the table has the same columns and encodings in SQLite and PostgreSQL.
 */
import { MAIN_THREAD } from '../../events/relation-types.js';
import type { RelationRecord } from '../storage.js';

export interface RelationRow {
  event_id: string;
  relates_to: string;
  rel_type: string;
  room_id: string;
  type: string;
  sender: string;
  is_state: number;
  aggregation_key: string | null;
  has_new_content: number;
  thread_id: string | null;
  origin_server_ts: number;
  stream_ordering: number;
}

export const RELATION_COLUMNS = `event_id, relates_to, rel_type, room_id, type, sender, is_state,
  aggregation_key, has_new_content, thread_id, origin_server_ts, stream_ordering`;

export function toRelationRecord(row: RelationRow): RelationRecord {
  const record: RelationRecord = {
    eventId: row.event_id,
    relatesTo: row.relates_to,
    relType: row.rel_type,
    roomId: row.room_id,
    type: row.type,
    sender: row.sender,
    isState: row.is_state === 1,
    hasNewContent: row.has_new_content === 1,
    threadId: row.thread_id ?? MAIN_THREAD,
    originServerTs: row.origin_server_ts,
    streamOrdering: row.stream_ordering,
  };
  if (row.aggregation_key !== null) record.key = row.aggregation_key;
  return record;
}

/** How the index stores the thread an event is in: null for the main timeline. */
export function storedThreadId(threadId: string): string | null {
  return threadId === MAIN_THREAD ? null : threadId;
}
