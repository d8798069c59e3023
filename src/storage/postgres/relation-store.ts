/**
 * The relationship index in PostgreSQL (`event_relations`, `threads`). Written
 * by the room store inside its events transaction (PgRelationIndexWriter, the
 * PgRelationIndex of relation-index.ts), read by the relations service and the
 * bundled aggregations (PgRelationStore). Batched reads take their parent IDs
 * as one array (`= ANY($1::text[])`): a page of events costs one query per
 * aggregation, whatever its length.
 */
import { MAIN_THREAD, REL_ANNOTATION, REL_THREAD } from '../../events/relation-types.js';
import type {
  ChildrenQuery,
  RelationRecord,
  RelationStore,
  ThreadActivity,
  ThreadsQuery,
  ThreadSummary,
} from '../storage.js';
import type { RelationParents } from '../common/relation-parents.js';
import {
  RELATION_COLUMNS,
  type RelationRow,
  storedThreadId,
  toRelationRecord,
} from '../common/relation-rows.js';
import type { StreamPositions } from '../common/stream-positions.js';
import type { PgExecutor } from './database.js';
import type { IndexedEvent, PgRelationIndex } from './relation-index.js';

/** Keeps the index in step with the events table, inside the room store's transaction. */
export class PgRelationIndexWriter implements PgRelationIndex {
  constructor(private readonly parents: RelationParents) {}

  /**
   * Records the event's relationship (derived by the caller), unless its parent
   * is in another room. An event the relation puts in no thread of its own is
   * in its parent's.
   */
  async index(tx: PgExecutor, event: IndexedEvent): Promise<void> {
    const { relation, pdu, roomId, streamOrdering } = event;
    if (!relation) return;
    const parent = await tx.row<{
      parent_room: string | null;
      parent_thread: string | null;
      redacted: boolean;
    }>(
      `SELECT (SELECT room_id FROM events WHERE event_id = $1) AS parent_room,
         (SELECT thread_id FROM event_relations WHERE event_id = $1) AS parent_thread,
         EXISTS (SELECT 1 FROM redactions WHERE redacted_event_id = $2) AS redacted`,
      [relation.parentId, event.eventId],
    );
    // The spec: a relationship across rooms is ignored.
    if (parent!.parent_room !== null && parent!.parent_room !== roomId) return;
    if (parent!.redacted) return;
    const threadId = relation.threadRoot ?? parent!.parent_thread ?? MAIN_THREAD;
    await tx.run(
      `INSERT INTO event_relations (event_id, relates_to, rel_type, room_id, type, sender, is_state,
         aggregation_key, has_new_content, in_reply_to, thread_id, origin_server_ts, stream_ordering)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING`,
      [
        event.eventId,
        relation.parentId,
        relation.relType,
        roomId,
        pdu.type,
        pdu.sender,
        pdu.state_key === undefined ? 0 : 1,
        relation.key ?? null,
        relation.hasNewContent ? 1 : 0,
        relation.inReplyTo ?? null,
        storedThreadId(threadId),
        pdu.origin_server_ts,
        streamOrdering,
      ],
    );
    if (relation.relType !== REL_THREAD) return;
    await tx.run(
      `INSERT INTO threads (root_id, room_id, latest_stream_ordering) VALUES ($1, $2, $3)
       ON CONFLICT (root_id) DO UPDATE SET latest_stream_ordering =
         GREATEST(threads.latest_stream_ordering, EXCLUDED.latest_stream_ordering)`,
      [relation.parentId, roomId, streamOrdering],
    );
  }

  /** A redacted child leaves the index; its thread's latest activity is recomputed. */
  async unindex(tx: PgExecutor, redactedEventId: string): Promise<void> {
    const removed = await tx.row<{ relates_to: string; rel_type: string }>(
      'DELETE FROM event_relations WHERE event_id = $1 RETURNING relates_to, rel_type',
      [redactedEventId],
    );
    if (removed?.rel_type !== REL_THREAD) return;
    const rootId = removed.relates_to;
    // The thread's row is locked before its events are read: a thread event committing
    // meanwhile is then either seen here or applies its GREATEST after this update.
    await tx.run('SELECT 1 FROM threads WHERE root_id = $1 FOR UPDATE', [rootId]);
    const { latest } = (await tx.row<{ latest: number | null }>(
      `SELECT MAX(stream_ordering) AS latest FROM event_relations
       WHERE relates_to = $1 AND rel_type = '${REL_THREAD}'`,
      [rootId],
    ))!;
    if (latest === null) {
      await tx.run('DELETE FROM threads WHERE root_id = $1', [rootId]);
    } else {
      await tx.run('UPDATE threads SET latest_stream_ordering = $1 WHERE root_id = $2', [
        latest,
        rootId,
      ]);
    }
  }

  /** After the commit, before readers are told of it: which parents got children. */
  noteCommitted(events: readonly IndexedEvent[]): void {
    for (const event of events) {
      this.parents.noteStored(event.streamOrdering);
      const parentId = event.relation?.parentId;
      if (parentId !== undefined) this.parents.noteChild(parentId);
    }
  }
}

/**
 * Descendants of a parent down to $4 levels; each level keeps only children
 * matching the filters ($2 rel_type, $3 type, null: any), so an event reached
 * only through a non-matching one is left out (the spec's rule for `recurse`).
 */
const DESCENDANTS = `WITH RECURSIVE descendants (event_id, depth) AS (
    SELECT event_id, 1 FROM event_relations
    WHERE relates_to = $1
      AND ($2::text IS NULL OR rel_type = $2) AND ($3::text IS NULL OR type = $3)
    UNION
    SELECT r.event_id, d.depth + 1 FROM event_relations r JOIN descendants d ON r.relates_to = d.event_id
    WHERE d.depth < $4
      AND ($2::text IS NULL OR r.rel_type = $2) AND ($3::text IS NULL OR r.type = $3)
  )
  SELECT ${RELATION_COLUMNS} FROM event_relations
  WHERE event_id IN (SELECT event_id FROM descendants)
    AND stream_ordering > $5 AND stream_ordering <= $6`;

/**
 * Count and newest thread event per root ($1), up to $2. `senderFilter` is
 * separate SQL, not an always-present empty list: the sender is not in the
 * index the count covers, so the filter costs a row lookup per thread event.
 */
function threadSummariesSql(senderFilter: string): string {
  const threadEvents = `FROM event_relations r
    WHERE r.relates_to = t.root_id AND r.rel_type = '${REL_THREAD}'
      AND r.stream_ordering <= $2 ${senderFilter}`;
  return `SELECT * FROM (SELECT t.root_id AS "rootId",
      (SELECT COUNT(*) ${threadEvents}) AS count,
      (SELECT r.event_id ${threadEvents} ORDER BY r.stream_ordering DESC LIMIT 1) AS "latestEventId"
    FROM threads t WHERE t.root_id = ANY($1::text[])) summaries
    WHERE count > 0`;
}

const THREAD_SUMMARIES = threadSummariesSql('');
const THREAD_SUMMARIES_WITHOUT = threadSummariesSql('AND r.sender <> ALL($3::text[])');

const THREADS = `SELECT t.root_id AS "rootId", t.latest_stream_ordering AS "latestStreamOrdering"
  FROM threads t WHERE t.room_id = $1 AND t.latest_stream_ordering <= $2`;
const BY_ACTIVITY = 'ORDER BY t.latest_stream_ordering DESC LIMIT $3';

export class PgRelationStore implements RelationStore {
  constructor(
    private readonly db: PgExecutor,
    private readonly parents: RelationParents,
    /**
     * The events stream: aggregations stop at what readers may read, so that no
     * client counts a child in a parent's aggregation and then again when it
     * arrives in its timeline.
     */
    private readonly events: StreamPositions,
  ) {}

  async mayHaveChildren(eventId: string, streamOrdering: number): Promise<boolean> {
    return this.parents.mayHaveChildren(eventId, streamOrdering);
  }

  async threadOf(eventId: string): Promise<string> {
    const row = await this.db.row<{ thread_id: string | null }>(
      'SELECT thread_id FROM event_relations WHERE event_id = $1',
      [eventId],
    );
    return row?.thread_id ?? MAIN_THREAD;
  }

  async childrenOfType(parentIds: string[], relType: string): Promise<RelationRecord[]> {
    if (parentIds.length === 0) return [];
    const rows = await this.db.rows<RelationRow>(
      `SELECT ${RELATION_COLUMNS} FROM event_relations
       WHERE relates_to = ANY($1::text[]) AND rel_type = $2 AND stream_ordering <= $3
       ORDER BY stream_ordering ASC`,
      [parentIds, relType, this.events.persistedUpTo()],
    );
    return rows.map(toRelationRecord);
  }

  async threadSummaries(
    rootIds: string[],
    ignoredSenders: readonly string[] = [],
  ): Promise<ThreadSummary[]> {
    if (rootIds.length === 0) return [];
    const upTo = this.events.persistedUpTo();
    return ignoredSenders.length === 0
      ? this.db.rows<ThreadSummary>(THREAD_SUMMARIES, [rootIds, upTo])
      : this.db.rows<ThreadSummary>(THREAD_SUMMARIES_WITHOUT, [rootIds, upTo, [...ignoredSenders]]);
  }

  async threadsWithSender(rootIds: string[], userId: string): Promise<Set<string>> {
    if (rootIds.length === 0) return new Set();
    const rows = await this.db.rows<{ relates_to: string }>(
      `SELECT DISTINCT relates_to FROM event_relations
       WHERE relates_to = ANY($1::text[]) AND rel_type = '${REL_THREAD}' AND sender = $2
         AND stream_ordering <= $3`,
      [rootIds, userId, this.events.persistedUpTo()],
    );
    return new Set(rows.map((row) => row.relates_to));
  }

  async hasAnnotation(parentId: string, sender: string, type: string, key: string) {
    const row = await this.db.row(
      `SELECT 1 FROM event_relations
       WHERE relates_to = $1 AND rel_type = '${REL_ANNOTATION}' AND sender = $2
         AND aggregation_key = $3 AND type = $4 LIMIT 1`,
      [parentId, sender, key, type],
    );
    return row !== undefined;
  }

  async children(query: ChildrenQuery): Promise<RelationRecord[]> {
    const direction = query.order === 'newest-first' ? 'DESC' : 'ASC';
    const rows = await this.db.rows<RelationRow>(
      `${DESCENDANTS} ORDER BY stream_ordering ${direction} LIMIT $7`,
      [
        query.parentId,
        query.relType ?? null,
        query.eventType ?? null,
        query.depth,
        query.after,
        query.upTo,
        query.limit,
      ],
    );
    return rows.map(toRelationRecord);
  }

  async threads(query: ThreadsQuery): Promise<ThreadActivity[]> {
    const { roomId, upTo, limit, participant } = query;
    if (participant === undefined) {
      return this.db.rows<ThreadActivity>(`${THREADS} ${BY_ACTIVITY}`, [roomId, upTo, limit]);
    }
    return this.db.rows<ThreadActivity>(
      `${THREADS}
         AND (EXISTS (SELECT 1 FROM events e WHERE e.event_id = t.root_id AND e.sender = $4)
           OR EXISTS (SELECT 1 FROM event_relations r WHERE r.relates_to = t.root_id
             AND r.rel_type = '${REL_THREAD}' AND r.sender = $4))
       ${BY_ACTIVITY}`,
      [roomId, upTo, limit, participant],
    );
  }
}
