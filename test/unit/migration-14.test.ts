/**
 * Migration 14 keeps what it moves: client transactions (found by their IDs,
 * and given back with their events) and push notifications; after migration
 * 15 the notifications still come with their event IDs (from the events).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { migrations } from '../../src/storage/sqlite/migrations.js';
import { openSqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import { minimalPdu } from '../support/pdus.js';
import { testConfig } from '../support/server.js';

const ROOM = '!r:localhost';
const USER = '@a:localhost';
const SEND = 'send';

function databaseAtVersion13(file: string): void {
  const db = new Database(file);
  db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL, applied_ts INTEGER NOT NULL)');
  for (const migration of migrations.filter((m) => m.version <= 13)) {
    db.exec(migration.sql);
    db.prepare('INSERT INTO schema_version VALUES (?, 0)').run(migration.version);
  }
  db.prepare(
    `INSERT INTO state_groups (id, room_id, prev_group, chain_length) VALUES (1, ?, NULL, 0)`,
  ).run(ROOM);
  db.prepare(
    `INSERT INTO rooms (room_id, room_version, creator, state_group, created_ts)
     VALUES (?, '11', ?, 1, 0)`,
  ).run(ROOM, USER);
  const insertEvent = db.prepare(
    `INSERT INTO events (stream_ordering, event_id, room_id, type, sender, depth, state_group, json)
     VALUES (?, ?, ?, 'm.room.message', ?, ?, 1, ?)`,
  );
  for (const n of [1, 2]) {
    const pdu = minimalPdu({ type: 'm.room.message', depth: n, content: { body: `m${n}` } });
    insertEvent.run(n, `$e${n}`, ROOM, USER, n, JSON.stringify(pdu));
  }
  db.prepare(
    `INSERT INTO event_transactions (user_id, device_id, endpoint, txn_id, event_id)
     VALUES (?, 'DEV', ?, 'txn2', '$e2')`,
  ).run(USER, SEND);
  db.prepare(
    `INSERT INTO push_names (id, name) VALUES (1, ?), (2, ?), (3, 'main'), (4, '["notify"]')`,
  ).run('@b:localhost', ROOM);
  db.prepare(
    `INSERT INTO push_notifications
       (user_nid, stream_ordering, event_id, room_nid, thread_nid, actions_nid, highlight, ts)
     VALUES (1, 1, '$e1', 2, 3, 4, 0, 1001), (1, 2, '$e2', 2, 3, 4, 1, 1002)`,
  ).run();
  db.close();
}

describe('migrations 14 and 15: transactions by position, notifications by user', () => {
  const config = testConfig();
  after(() => rmSync(config.data_dir, { recursive: true, force: true }));

  it('keeps transactions and notifications, and stores new transactions', async () => {
    const file = path.join(config.data_dir, 'weft.db');
    databaseAtVersion13(file);
    const storage = openSqliteStorage(file);
    try {
      assert.equal(await storage.rooms.transactionEvent(USER, 'DEV', SEND, 'txn2'), '$e2');
      assert.deepEqual((await storage.rooms.getEvent('$e2'))?.transaction, {
        userId: USER,
        deviceId: 'DEV',
        txnId: 'txn2',
      });
      assert.equal((await storage.rooms.getEvent('$e1'))?.transaction, undefined);

      const page = await storage.notifications.page({
        userId: '@b:localhost',
        limit: 10,
        onlyHighlight: false,
      });
      assert.deepEqual(
        page.map((n) => [n.eventId, n.roomId, n.threadId, n.highlight, n.actions, n.ts]),
        [
          ['$e2', ROOM, 'main', true, ['notify'], 1002],
          ['$e1', ROOM, 'main', false, ['notify'], 1001],
        ],
      );

      const transaction = { userId: USER, deviceId: 'DEV', endpoint: SEND, txnId: 'txn3' };
      const [stored] = await storage.rooms.persistEvents([
        {
          eventId: '$e3',
          roomId: ROOM,
          pdu: minimalPdu({ type: 'm.room.message', depth: 3 }),
          transaction,
        },
      ]);
      assert.equal(await storage.rooms.transactionEvent(USER, 'DEV', SEND, 'txn3'), '$e3');
      const reread = await storage.rooms.roomEvents({
        roomId: ROOM,
        after: 0,
        upTo: stored!.streamOrdering,
        limit: 10,
        order: 'oldest-first',
      });
      assert.deepEqual(
        reread.map((e) => [e.eventId, e.transaction?.txnId]),
        [
          ['$e1', undefined],
          ['$e2', 'txn2'],
          ['$e3', 'txn3'],
        ],
      );
    } finally {
      await storage.close();
    }
  });
});
