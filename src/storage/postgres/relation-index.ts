/**
 * The relation index's writes, run by the room store inside its events
 * transaction (the counterpart of SQLite's RelationIndexWriter), and what the
 * relation store learns after each commit. Implemented with the relation store.
 */
import type { Pdu } from '../../events/pdu.js';
import type { IndexedRelation } from '../../events/relation-types.js';
import type { PgExecutor } from './database.js';

export interface IndexedEvent {
  eventId: string;
  roomId: string;
  pdu: Pdu;
  relation: IndexedRelation | undefined;
  streamOrdering: number;
}

export interface PgRelationIndex {
  /** Inside the events transaction: records the event's relation (if any, and in the parent's room). */
  index(tx: PgExecutor, event: IndexedEvent): Promise<void>;
  /** Inside the events transaction: a redacted child leaves the index. */
  unindex(tx: PgExecutor, redactedEventId: string): Promise<void>;
  /** After the commit, in stream order: which parents got children, how far the stream got. */
  noteCommitted(events: readonly IndexedEvent[]): void;
}
