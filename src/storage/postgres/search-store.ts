/**
 * The search index in PostgreSQL (schema/search.ts): `event_search` holds a
 * tsvector per searchable event, weighted by its key, under a GIN index. The
 * room store writes it inside its events transaction (writeSearchIndex); the
 * search service reads it (PgSearchStore). Ranked by ts_rank, the last term
 * matched as a prefix (`:*`).
 */
import { searchableText, type SearchKey } from '../../events/search-fields.js';
import type { SearchHit, SearchPageQuery, SearchQuery, SearchStore } from '../storage.js';
import type { PgDatabase, PgExecutor } from './database.js';
import type { IndexedEvent } from './relation-index.js';
import { RANKED_MATCHES } from '../common/search-window.js';

/** The tsvector weight each key's text is written with (schema/search.ts). */
const WEIGHT_OF: Record<SearchKey, string> = {
  'content.body': 'A',
  'content.name': 'B',
  'content.topic': 'C',
};

/**
 * Inside the events transaction: the batch's searchable events join the index,
 * then the events its redactions redact leave it (a redaction may follow its
 * target in the same batch).
 */
export async function writeSearchIndex(
  tx: PgExecutor,
  events: readonly IndexedEvent[],
  redacted: readonly string[],
): Promise<void> {
  const rows = events.flatMap((event) => {
    const searchable = searchableText(event.pdu.type, event.pdu.content);
    return searchable ? [{ event, text: searchable.text }] : [];
  });
  if (rows.length > 0) {
    await tx.run(
      `INSERT INTO event_search (stream_ordering, room_id, sender, vector)
       SELECT p.stream_ordering, p.room_id, p.sender, weft_search_vector(p.type, p.text)
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])
         AS p(stream_ordering, room_id, sender, type, text)`,
      [
        rows.map((row) => row.event.streamOrdering),
        rows.map((row) => row.event.roomId),
        rows.map((row) => row.event.pdu.sender),
        rows.map((row) => row.event.pdu.type),
        // PostgreSQL text holds no NUL: it separates words as well as a space does.
        rows.map((row) => row.text.replaceAll('\u0000', ' ')),
      ],
    );
  }
  if (redacted.length > 0) {
    await tx.run(
      `DELETE FROM event_search WHERE stream_ordering IN
         (SELECT stream_ordering FROM events WHERE event_id = ANY($1::text[]))`,
      [redacted],
    );
  }
}

/**
 * A tsquery's text (cast by the query): each term a quoted lexeme restricted to
 * the weights of the keys searched, the last with `:*`. Terms are letters and
 * digits only (search-rules.ts): nothing in them is tsquery syntax.
 */
export function tsQueryText(terms: readonly string[], keys: readonly SearchKey[]): string {
  const weights = keys.map((key) => WEIGHT_OF[key]).join('');
  return terms
    .map((term, i) => `'${term}':${i === terms.length - 1 ? '*' : ''}${weights}`)
    .join(' & ');
}

/** $1 query, $2 room IDs, $3 their read limits, $4 the sender or NULL. */
const MATCHING = `FROM event_search s
  JOIN unnest($2::text[], $3::bigint[]) AS r(room_id, up_to)
    ON r.room_id = s.room_id AND s.stream_ordering <= r.up_to
  CROSS JOIN (SELECT $1::tsquery AS q) query
  WHERE s.vector @@ query.q AND ($4::text IS NULL OR s.sender = $4::text)`;

/** ts_rank with every weight equal: the weights say the key, not how much a match counts. */
const SELECT_HITS = `SELECT s.stream_ordering, e.event_id, s.room_id,
    ts_rank('{1, 1, 1, 1}', s.vector, query.q) AS rank
  ${MATCHING.replace('WHERE', 'JOIN events e ON e.stream_ordering = s.stream_ordering WHERE')}`;

interface HitRow {
  stream_ordering: string;
  event_id: string;
  room_id: string;
  rank: number;
}

export class PgSearchStore implements SearchStore {
  constructor(private readonly db: PgDatabase) {}

  async search(query: SearchPageQuery): Promise<SearchHit[]> {
    if (!searchable(query)) return [];
    const rows =
      query.order === 'rank'
        ? await this.db.rows<HitRow>(
            `SELECT * FROM (${SELECT_HITS}
               ORDER BY s.stream_ordering DESC LIMIT ${RANKED_MATCHES}) ranked
             ORDER BY rank DESC, stream_ordering DESC LIMIT $5 OFFSET $6`,
            [...parameters(query), query.limit, query.offset ?? 0],
          )
        : await this.db.rows<HitRow>(
            `${SELECT_HITS} AND s.stream_ordering < $5
             ORDER BY s.stream_ordering DESC LIMIT $6`,
            [...parameters(query), query.before ?? Number.MAX_SAFE_INTEGER, query.limit],
          );
    return rows.map((row) => ({
      eventId: row.event_id,
      roomId: row.room_id,
      streamOrdering: Number(row.stream_ordering),
      rank: Number(row.rank),
    }));
  }

  async count(query: SearchQuery): Promise<number> {
    if (!searchable(query)) return 0;
    const row = await this.db.row<{ count: string }>(
      `SELECT COUNT(*) AS count ${MATCHING}`,
      parameters(query),
    );
    return Number(row?.count ?? 0);
  }
}

function searchable(query: SearchQuery): boolean {
  return query.terms.length > 0 && query.keys.length > 0 && query.rooms.length > 0;
}

function parameters(query: SearchQuery): unknown[] {
  return [
    tsQueryText(query.terms, query.keys),
    query.rooms.map((room) => room.roomId),
    query.rooms.map((room) => room.upTo),
    query.sender ?? null,
  ];
}
