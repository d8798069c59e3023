/**
 * Migration 25's backfill: the events stored before the search index existed
 * become searchable (bodies, names, topics), redacted ones and non-string
 * fields left out. The index is dropped and made again by the migration's SQL
 * on a database written through the store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SEARCH_KEYS } from '../../src/events/search-fields.js';
import { searchIndexSql } from '../../src/storage/sqlite/search-schema.js';
import { openSqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import { TestRoom } from '../support/stored-events.js';

describe('SQLite migration 25 (the search index)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-search-migration-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('indexes the events stored before it', async () => {
    const file = path.join(dir, 'weft.db');
    let storage = openSqliteStorage(file);
    const room = await TestRoom.create(storage);
    await room.sendAll([
      { eventId: '$body', content: { body: 'Ünïcode puffin' } },
      { eventId: '$number', content: { body: 42 } },
      { eventId: '$name', type: 'm.room.name', stateKey: '', content: { name: 'puffin room' } },
      { eventId: '$topic', type: 'm.room.topic', stateKey: '', content: { topic: 'puffins' } },
      { eventId: '$gone', content: { body: 'puffin redacted' } },
      { eventId: '$redaction', redacts: '$gone' },
    ]);
    await storage.close();

    const db = new Database(file);
    db.exec('DROP TABLE event_search');
    db.exec(searchIndexSql);
    db.close();

    storage = openSqliteStorage(file);
    try {
      const hits = await storage.search.search({
        terms: ['puffin'],
        keys: SEARCH_KEYS,
        rooms: [{ roomId: room.roomId, upTo: Number.MAX_SAFE_INTEGER }],
        order: 'recent',
        limit: 10,
      });
      assert.deepEqual(
        hits.map((hit) => hit.eventId),
        ['$topic', '$name', '$body'],
      );
      const folded = await storage.search.count({
        terms: ['unicode'],
        keys: ['content.body'],
        rooms: [{ roomId: room.roomId, upTo: Number.MAX_SAFE_INTEGER }],
      });
      assert.equal(folded, 1);
    } finally {
      await storage.close();
    }
  });
});
