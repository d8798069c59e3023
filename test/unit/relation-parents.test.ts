/**
 * RelationParents: the in-memory answer to "may this event have a child?"
 * that lets bundled aggregations skip their queries for new events. A wrong
 * "no" would hide an edit, reaction or thread from clients, so every way an
 * event can be unknown must answer "maybe".
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openDatabase } from '../../src/storage/sqlite/database.js';
import { RelationParents } from '../../src/storage/common/relation-parents.js';
import { openRelationParents } from '../../src/storage/sqlite/relation-store.js';
import { testConfig } from '../support/server.js';

describe('RelationParents', () => {
  const config = testConfig();
  const db = openDatabase(path.join(config.data_dir, 'weft.db'));
  after(() => {
    db.close();
    rmSync(config.data_dir, { recursive: true, force: true });
  });

  it('knows that an event stored since start has no child until one is indexed', () => {
    db.prepare(
      `INSERT INTO events (stream_ordering, event_id, room_id, type, sender, depth, state_group, json)
       VALUES (7, '$old', '!r', 'm.room.message', '@a:test', 1, 0, '{}')`,
    ).run();
    // SQLite's start: its newest event.
    const parents = openRelationParents(db);
    // Stored before this process started: unknown.
    assert.equal(parents.mayHaveChildren('$old', 7), true);
    parents.noteStored(8);
    assert.equal(parents.mayHaveChildren('$new', 8), false);
    parents.noteStored(9);
    parents.noteChild('$new');
    assert.equal(parents.mayHaveChildren('$new', 8), true);
  });

  it('forgets every parent at once when full, and then answers maybe for all earlier events', () => {
    const parents = new RelationParents(7);
    parents.noteStored(10);
    for (let i = 0; i < 100_000; i++) parents.noteChild(`$p${i}`);
    parents.noteStored(11);
    parents.noteChild('$overflow');
    assert.equal(parents.mayHaveChildren('$unrelated', 10), true);
    assert.equal(parents.mayHaveChildren('$p5', 10), true);
    parents.noteStored(12);
    assert.equal(parents.mayHaveChildren('$fresh', 12), false);
  });
});
