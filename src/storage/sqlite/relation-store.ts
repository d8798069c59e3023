/**
 * The relationship index in SQLite (`event_relations`, `threads`). Written by
 * the room store inside its event transaction (RelationIndexWriter), read by
 * the relations service and the bundled aggregations (SqliteRelationStore).
 * Batched reads take their parent IDs as one JSON array (`json_each`), so a
 * page of events costs one query per aggregation, whatever its length.
 */
import type { Pdu } from '../../events/pdu.js';
import {
  MAIN_THREAD,
  REL_ANNOTATION,
  REL_THREAD,
  type IndexedRelation,
} from '../../events/relation-types.js';
import type {
  ChildrenQuery,
  RelationRecord,
  RelationStore,
  ThreadActivity,
  ThreadsQuery,
  ThreadSummary,
} from '../storage.js';
import { RelationParents } from '../common/relation-parents.js';
import {
  RELATION_COLUMNS,
  type RelationRow,
  storedThreadId,
  toRelationRecord,
} from '../common/relation-rows.js';
import type { SqliteDatabase } from './database.js';

/**
 * The relation parents (../common/relation-parents.ts) of this database, starting
 * at its newest event: events stored before are unknown.
 */
export function openRelationParents(db: SqliteDatabase): RelationParents {
  const newest = db.prepare('SELECT MAX(stream_ordering) FROM events').pluck().get();
  return new RelationParents((newest as number | null) ?? 0);
}

/** Keeps the index in step with the events table; called inside the room store's transaction. */
export class RelationIndexWriter {
  private readonly statements;

  constructor(db: SqliteDatabase) {
    this.statements = prepareWrites(db);
  }

  /**
   * Records the event's relationship (derived by the caller), unless its parent
   * is in another room. An event the relation puts in no thread of its own is
   * in its parent's.
   */
  index(
    eventId: string,
    roomId: string,
    pdu: Pdu,
    relation: IndexedRelation | undefined,
    streamOrdering: number,
  ): void {
    if (!relation) return;
    const s = this.statements;
    const parentRoom = s.selectEventRoom.get(relation.parentId) as string | undefined;
    // The spec: a relationship across rooms is ignored.
    if (parentRoom !== undefined && parentRoom !== roomId) return;
    if (s.selectRedacted.get(eventId) !== undefined) return;
    const threadId =
      relation.threadRoot ??
      (s.selectThreadOf.get(relation.parentId) as string | null | undefined) ??
      MAIN_THREAD;
    s.insertRelation.run(
      eventId,
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
    );
    if (relation.relType === REL_THREAD) {
      s.upsertThread.run(relation.parentId, roomId, streamOrdering);
    }
  }

  /** A redacted child leaves the index; its thread's latest activity is recomputed. */
  unindex(redactedEventId: string): void {
    const s = this.statements;
    const row = s.selectRelation.get(redactedEventId) as
      { relates_to: string; rel_type: string } | undefined;
    if (!row) return;
    s.deleteRelation.run(redactedEventId);
    if (row.rel_type !== REL_THREAD) return;
    const latest = s.selectLatestInThread.get(row.relates_to) as number | undefined;
    if (latest === undefined) s.deleteThread.run(row.relates_to);
    else s.setThreadLatest.run(latest, row.relates_to);
  }
}

export class SqliteRelationStore implements RelationStore {
  private readonly statements;

  constructor(
    db: SqliteDatabase,
    private readonly parents: RelationParents,
  ) {
    this.statements = prepareReads(db);
  }

  async mayHaveChildren(eventId: string, streamOrdering: number): Promise<boolean> {
    return this.parents.mayHaveChildren(eventId, streamOrdering);
  }

  async threadOf(eventId: string): Promise<string> {
    const threadId = this.statements.selectThreadOf.get(eventId) as string | null | undefined;
    return threadId ?? MAIN_THREAD;
  }

  async childrenOfType(parentIds: string[], relType: string): Promise<RelationRecord[]> {
    if (parentIds.length === 0) return [];
    const rows = this.statements.selectChildrenOfType.all(
      JSON.stringify(parentIds),
      relType,
      this.parents.reportedUpTo(),
    ) as RelationRow[];
    return rows.map(toRelationRecord);
  }

  async threadSummaries(
    rootIds: string[],
    ignoredSenders: readonly string[] = [],
  ): Promise<ThreadSummary[]> {
    if (rootIds.length === 0) return [];
    const params = { roots: JSON.stringify(rootIds), upTo: this.parents.reportedUpTo() };
    const rows =
      ignoredSenders.length === 0
        ? this.statements.selectThreadSummaries.all(params)
        : this.statements.selectThreadSummariesWithout.all({
            ...params,
            ignored: JSON.stringify(ignoredSenders),
          });
    return rows as ThreadSummary[];
  }

  async threadsWithSender(rootIds: string[], userId: string): Promise<Set<string>> {
    if (rootIds.length === 0) return new Set();
    const roots = this.statements.selectThreadsWithSender.all(
      JSON.stringify(rootIds),
      userId,
      this.parents.reportedUpTo(),
    ) as string[];
    return new Set(roots);
  }

  async hasAnnotation(parentId: string, sender: string, type: string, key: string) {
    return this.statements.selectAnnotation.get(parentId, sender, key, type) !== undefined;
  }

  async children(query: ChildrenQuery): Promise<RelationRecord[]> {
    const newestFirst = query.order === 'newest-first';
    const statement = newestFirst
      ? this.statements.selectDescendantsBackwards
      : this.statements.selectDescendantsForwards;
    const rows = statement.all({
      parent: query.parentId,
      relType: query.relType ?? null,
      eventType: query.eventType ?? null,
      maxDepth: query.depth,
      after: query.after,
      upTo: query.upTo,
      limit: query.limit,
    }) as RelationRow[];
    return rows.map(toRelationRecord);
  }

  async threads(query: ThreadsQuery): Promise<ThreadActivity[]> {
    const { roomId, upTo, limit, participant } = query;
    const rows =
      participant === undefined
        ? this.statements.selectThreads.all({ roomId, upTo, limit })
        : this.statements.selectParticipatedThreads.all({ roomId, upTo, limit, participant });
    return rows as ThreadActivity[];
  }
}

function prepareWrites(db: SqliteDatabase) {
  return {
    selectEventRoom: db.prepare('SELECT room_id FROM events WHERE event_id = ?').pluck(),
    selectRedacted: db
      .prepare('SELECT 1 FROM redactions WHERE redacted_event_id = ? LIMIT 1')
      .pluck(),
    selectThreadOf: db.prepare('SELECT thread_id FROM event_relations WHERE event_id = ?').pluck(),
    insertRelation: db.prepare(
      `INSERT INTO event_relations (event_id, relates_to, rel_type, room_id, type, sender, is_state,
         aggregation_key, has_new_content, in_reply_to, thread_id, origin_server_ts, stream_ordering)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    upsertThread: db.prepare(
      `INSERT INTO threads (root_id, room_id, latest_stream_ordering) VALUES (?, ?, ?)
       ON CONFLICT (root_id) DO UPDATE
       SET latest_stream_ordering = MAX(latest_stream_ordering, excluded.latest_stream_ordering)`,
    ),
    selectRelation: db.prepare(
      'SELECT relates_to, rel_type FROM event_relations WHERE event_id = ?',
    ),
    deleteRelation: db.prepare('DELETE FROM event_relations WHERE event_id = ?'),
    selectLatestInThread: db
      .prepare(
        `SELECT MAX(stream_ordering) FROM event_relations
         WHERE relates_to = ? AND rel_type = '${REL_THREAD}' HAVING COUNT(*) > 0`,
      )
      .pluck(),
    deleteThread: db.prepare('DELETE FROM threads WHERE root_id = ?'),
    setThreadLatest: db.prepare('UPDATE threads SET latest_stream_ordering = ? WHERE root_id = ?'),
  };
}

/**
 * Descendants of a parent down to :maxDepth levels; each level keeps only
 * children matching the filters, so an event reached only through a
 * non-matching one is left out (the spec's rule for `recurse`).
 */
const DESCENDANTS = `WITH RECURSIVE descendants (event_id, depth) AS (
    SELECT event_id, 1 FROM event_relations
    WHERE relates_to = :parent
      AND (:relType IS NULL OR rel_type = :relType) AND (:eventType IS NULL OR type = :eventType)
    UNION
    SELECT r.event_id, d.depth + 1 FROM event_relations r JOIN descendants d ON r.relates_to = d.event_id
    WHERE d.depth < :maxDepth
      AND (:relType IS NULL OR r.rel_type = :relType) AND (:eventType IS NULL OR r.type = :eventType)
  )
  SELECT ${RELATION_COLUMNS} FROM event_relations WHERE event_id IN (SELECT event_id FROM descendants)
    AND stream_ordering > :after AND stream_ordering <= :upTo`;

/**
 * Count and newest thread event per root. `senderFilter` is separate SQL, not
 * an always-present empty list: the sender is not in the index the count
 * covers, so the filter costs a row lookup per thread event.
 */
function threadSummariesSql(senderFilter: string): string {
  const threadEvents = `FROM event_relations r
    WHERE r.relates_to = t.root_id AND r.rel_type = '${REL_THREAD}'
      AND r.stream_ordering <= :upTo ${senderFilter}`;
  return `SELECT * FROM (SELECT t.root_id AS rootId,
      (SELECT COUNT(*) ${threadEvents}) AS count,
      (SELECT r.event_id ${threadEvents} ORDER BY r.stream_ordering DESC LIMIT 1) AS latestEventId
    FROM threads t WHERE t.root_id IN (SELECT value FROM json_each(:roots)))
    WHERE count > 0`;
}

function prepareReads(db: SqliteDatabase) {
  return {
    selectThreadOf: db.prepare('SELECT thread_id FROM event_relations WHERE event_id = ?').pluck(),
    selectChildrenOfType: db.prepare(
      `SELECT ${RELATION_COLUMNS} FROM event_relations
       WHERE relates_to IN (SELECT value FROM json_each(?)) AND rel_type = ?
         AND stream_ordering <= ?
       ORDER BY stream_ordering ASC`,
    ),
    selectThreadSummaries: db.prepare(threadSummariesSql('')),
    selectThreadSummariesWithout: db.prepare(
      threadSummariesSql('AND r.sender NOT IN (SELECT value FROM json_each(:ignored))'),
    ),
    selectThreadsWithSender: db
      .prepare(
        `SELECT DISTINCT relates_to FROM event_relations
         WHERE relates_to IN (SELECT value FROM json_each(?))
           AND rel_type = '${REL_THREAD}' AND sender = ? AND stream_ordering <= ?`,
      )
      .pluck(),
    selectAnnotation: db
      .prepare(
        `SELECT 1 FROM event_relations
         WHERE relates_to = ? AND rel_type = '${REL_ANNOTATION}' AND sender = ?
           AND aggregation_key = ? AND type = ? LIMIT 1`,
      )
      .pluck(),
    selectDescendantsBackwards: db.prepare(
      `${DESCENDANTS} ORDER BY stream_ordering DESC LIMIT :limit`,
    ),
    selectDescendantsForwards: db.prepare(
      `${DESCENDANTS} ORDER BY stream_ordering ASC LIMIT :limit`,
    ),
    selectThreads: db.prepare(
      `SELECT root_id AS rootId, latest_stream_ordering AS latestStreamOrdering FROM threads
       WHERE room_id = :roomId AND latest_stream_ordering <= :upTo
       ORDER BY latest_stream_ordering DESC LIMIT :limit`,
    ),
    selectParticipatedThreads: db.prepare(
      `SELECT t.root_id AS rootId, t.latest_stream_ordering AS latestStreamOrdering FROM threads t
       WHERE t.room_id = :roomId AND t.latest_stream_ordering <= :upTo
         AND (EXISTS (SELECT 1 FROM events e WHERE e.event_id = t.root_id AND e.sender = :participant)
           OR EXISTS (SELECT 1 FROM event_relations r WHERE r.relates_to = t.root_id
             AND r.rel_type = '${REL_THREAD}' AND r.sender = :participant))
       ORDER BY t.latest_stream_ordering DESC LIMIT :limit`,
    ),
  };
}
