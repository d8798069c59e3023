/**
 * The search index in SQLite: an FTS5 table, `event_search`, whose rowid is
 * the event's stream position. One column per search key (an event fills one
 * of them), the room and sender beside them unindexed. The tokenizer,
 * `unicode61 remove_diacritics 2`, folds case and accents, so "Café" matches
 * "cafe". Written by the room store inside its event transaction
 * (SearchIndexWriter), read by the search service (SqliteSearchStore). The
 * table and its backfill are migration 25 (search-schema.ts).
 */
import { searchableText, type SearchKey } from '../../events/search-fields.js';
import type { Pdu } from '../../events/pdu.js';
import type { SearchHit, SearchPageQuery, SearchQuery, SearchStore } from '../storage.js';
import type { SqliteDatabase } from './database.js';
import { RANKED_MATCHES } from '../common/search-window.js';

/** The FTS5 column of each search key. */
const COLUMN_OF: Record<SearchKey, 'body' | 'name' | 'topic'> = {
  'content.body': 'body',
  'content.name': 'name',
  'content.topic': 'topic',
};

/** Keeps the index in step with the events table; called inside the room store's transaction. */
export class SearchIndexWriter {
  private readonly insert;
  private readonly deleteEvent;

  constructor(db: SqliteDatabase) {
    this.insert = db.prepare(
      `INSERT INTO event_search (rowid, body, name, topic, room_id, sender)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.deleteEvent = db.prepare(
      `DELETE FROM event_search
       WHERE rowid = (SELECT stream_ordering FROM events WHERE event_id = ?)`,
    );
  }

  index(streamOrdering: number, roomId: string, pdu: Pdu): void {
    const searchable = searchableText(pdu.type, pdu.content);
    if (!searchable) return;
    const column = COLUMN_OF[searchable.key];
    const text = (name: string) => (name === column ? searchable.text : null);
    this.insert.run(streamOrdering, text('body'), text('name'), text('topic'), roomId, pdu.sender);
  }

  /** A redacted event leaves the index: its text is gone for everyone. */
  unindex(redactedEventId: string): void {
    this.deleteEvent.run(redactedEventId);
  }
}

/**
 * An FTS5 MATCH expression: every term must occur in one of the columns
 * searched, the last as a prefix. Each term is quoted; being letters and
 * digits only (search-rules.ts), none can end its quotes or read as an operator.
 */
export function ftsMatchExpression(terms: readonly string[], keys: readonly SearchKey[]): string {
  const quoted = terms.map((term, i) => `"${term}"${i === terms.length - 1 ? '*' : ''}`);
  const columns = keys.map((key) => COLUMN_OF[key]).join(' ');
  return `{${columns}} : (${quoted.join(' AND ')})`;
}

/**
 * The hits joined to the rooms searched (a JSON array of [roomId, upTo]) and
 * to their events; `?` parameters: rooms, match, then the caller's. The rooms
 * are materialised once (SQLite indexes them for the join): read from the JSON
 * for every hit, a common word in many rooms costs hundreds of milliseconds.
 */
const ROOMS = `WITH r (room_id, up_to) AS MATERIALIZED (
  SELECT value ->> 0, value ->> 1 FROM json_each(?))`;
const MATCHING = `FROM event_search s
  JOIN r ON r.room_id = s.room_id AND s.rowid <= r.up_to
  WHERE event_search MATCH ?`;

interface HitRow {
  stream_ordering: number;
  event_id: string;
  room_id: string;
  score: number;
}

export class SqliteSearchStore implements SearchStore {
  private readonly statements;

  constructor(db: SqliteDatabase) {
    const select = `${ROOMS} SELECT s.rowid AS stream_ordering, e.event_id, s.room_id,
      bm25(event_search) AS score`;
    const join = 'JOIN events e ON e.stream_ordering = s.rowid';
    const fromMatching = MATCHING.replace('WHERE', `${join} WHERE`);
    this.statements = {
      // bm25 is lower for better matches; scored for the newest RANKED_MATCHES only.
      byRank: db.prepare(
        `SELECT * FROM (${select} ${fromMatching} AND (? IS NULL OR s.sender = ?)
           ORDER BY s.rowid DESC LIMIT ${RANKED_MATCHES})
         ORDER BY score ASC, stream_ordering DESC LIMIT ? OFFSET ?`,
      ),
      byRecent: db.prepare(
        `${select} ${fromMatching} AND (? IS NULL OR s.sender = ?) AND s.rowid < ?
         ORDER BY s.rowid DESC LIMIT ?`,
      ),
      count: db
        .prepare(`${ROOMS} SELECT COUNT(*) ${MATCHING} AND (? IS NULL OR s.sender = ?)`)
        .pluck(),
    };
  }

  async search(query: SearchPageQuery): Promise<SearchHit[]> {
    if (!searchable(query)) return [];
    const [rooms, match, sender] = parameters(query);
    const rows = (
      query.order === 'rank'
        ? this.statements.byRank.all(rooms, match, sender, sender, query.limit, query.offset ?? 0)
        : this.statements.byRecent.all(
            rooms,
            match,
            sender,
            sender,
            query.before ?? Number.MAX_SAFE_INTEGER,
            query.limit,
          )
    ) as HitRow[];
    return rows.map((row) => ({
      eventId: row.event_id,
      roomId: row.room_id,
      streamOrdering: row.stream_ordering,
      rank: -row.score,
    }));
  }

  async count(query: SearchQuery): Promise<number> {
    if (!searchable(query)) return 0;
    const [rooms, match, sender] = parameters(query);
    return this.statements.count.get(rooms, match, sender, sender) as number;
  }
}

function searchable(query: SearchQuery): boolean {
  return query.terms.length > 0 && query.keys.length > 0 && query.rooms.length > 0;
}

function parameters(query: SearchQuery): [string, string, string | null] {
  const rooms = JSON.stringify(query.rooms.map((room) => [room.roomId, room.upTo]));
  return [rooms, ftsMatchExpression(query.terms, query.keys), query.sender ?? null];
}
