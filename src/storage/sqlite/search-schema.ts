/** SQLite migration 25: the search index (search-store.ts reads and writes it). */
export const searchIndexSql = `
  -- Server-side search (POST /search): an FTS5 table over the three searched keys.
  -- unicode61 with remove_diacritics 2 folds case and accents; rowid = stream_ordering.
  CREATE VIRTUAL TABLE event_search USING fts5(
    body, name, topic, room_id UNINDEXED, sender UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
  );
  -- The events stored before: every searchable one not redacted.
  INSERT INTO event_search (rowid, body, name, topic, room_id, sender)
  SELECT e.stream_ordering,
    CASE WHEN e.type = 'm.room.message' THEN json_extract(e.json, '$.content.body') END,
    CASE WHEN e.type = 'm.room.name' THEN json_extract(e.json, '$.content.name') END,
    CASE WHEN e.type = 'm.room.topic' THEN json_extract(e.json, '$.content.topic') END,
    e.room_id, e.sender
  FROM events e
  WHERE ((e.type = 'm.room.message' AND json_type(e.json, '$.content.body') = 'text')
      OR (e.type = 'm.room.name' AND json_type(e.json, '$.content.name') = 'text')
      OR (e.type = 'm.room.topic' AND json_type(e.json, '$.content.topic') = 'text'))
    AND NOT EXISTS (SELECT 1 FROM redactions r WHERE r.redacted_event_id = e.event_id);
`;
