/**
 * PostgreSQL migration 10, as SQLite's migration 25 (sqlite/search-store.ts):
 * the full-text search index of room events. Same table name, keyed by the
 * event's stream position; a tsvector where SQLite has FTS5 columns, so
 * `weft migrate-db` skips SQLite's table and rebuilds this one from the events.
 */

/**
 * The searchable text of an event as a tsvector: accents removed (NFD, then the
 * combining marks dropped: the unaccent extension needs a superuser to install),
 * punctuation made a separator (so "foo@example.org" is three words, as FTS5
 * splits it), then the 'simple' configuration: lower case, no stemming and no
 * stop words. Not 'english': stemming and stop words suit English prose only,
 * and SQLite's index has neither, so both backends find the same events. The
 * weight says the key: A body, B name, C topic.
 */
export const searchVectorFunction = `
CREATE FUNCTION weft_search_vector(type TEXT, content TEXT) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT setweight(
    to_tsvector('simple', regexp_replace(
      regexp_replace(normalize(content, NFD), '[\\u0300-\\u036f]', '', 'g'),
      '[[:punct:]]', ' ', 'g')),
    CASE type WHEN 'm.room.message' THEN 'A' WHEN 'm.room.name' THEN 'B' ELSE 'C' END::"char")
$$;
`;

/**
 * The searchable events (not redacted) among those selected by `where` (on
 * `e`, the events table): what the migration and migrate-db's rebuild insert.
 * An event whose JSON holds \\u0000 (which PostgreSQL's JSON parsing refuses) is left out.
 */
export function searchBackfillSql(where = 'TRUE'): string {
  return `
INSERT INTO event_search (stream_ordering, room_id, sender, vector)
SELECT f.stream_ordering, f.room_id, f.sender, weft_search_vector(f.type, f.text)
FROM (
  SELECT e.stream_ordering, e.room_id, e.sender, e.type,
    e.json::jsonb -> 'content' ->> (CASE e.type WHEN 'm.room.message' THEN 'body'
      WHEN 'm.room.name' THEN 'name' ELSE 'topic' END) AS text,
    jsonb_typeof(e.json::jsonb -> 'content' -> (CASE e.type WHEN 'm.room.message' THEN 'body'
      WHEN 'm.room.name' THEN 'name' ELSE 'topic' END)) AS text_type
  FROM events e
  WHERE e.type IN ('m.room.message', 'm.room.name', 'm.room.topic')
    AND strpos(e.json, '\\u0000') = 0 AND (${where})
    AND NOT EXISTS (SELECT 1 FROM redactions r WHERE r.redacted_event_id = e.event_id)
) f
WHERE f.text_type = 'string' AND btrim(f.text) <> ''
ON CONFLICT DO NOTHING;
`;
}

export const searchSchema = `
${searchVectorFunction}
CREATE TABLE event_search (
  stream_ordering BIGINT PRIMARY KEY,
  room_id TEXT NOT NULL,
  sender TEXT NOT NULL,
  vector TSVECTOR NOT NULL
);
CREATE INDEX event_search_vector ON event_search USING GIN (vector);
${searchBackfillSql()}
`;
