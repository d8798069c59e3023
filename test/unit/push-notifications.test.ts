/**
 * NotificationService's counts and read positions on a real SQLite file:
 * unread counts per thread, markRead per thread and unthreaded (never moving
 * back), the push badge and the `read` flag of GET /notifications; and the
 * migration of stored notifications to the compact rows.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import type { ServerEvents } from '../../src/domain/server-events.js';
import { EventBus } from '../../src/util/event-bus.js';
import { NotificationPruner } from '../../src/push/notification-pruning.js';
import { NotificationService } from '../../src/push/notification-service.js';
import { PushRuleService } from '../../src/push/push-rule-service.js';
import { migrations } from '../../src/storage/sqlite/migrations.js';
import { openSqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import type { NotificationRecord, Storage } from '../../src/storage/storage.js';
import { insertMessageRows } from '../support/pdus.js';
import { testConfig } from '../support/server.js';

const USER = '@bob:test';
const ROOM = '!room:test';
const OTHER_ROOM = '!other:test';
const THREAD = '$root';

function notification(
  streamOrdering: number,
  threadId: string,
  highlight = false,
  roomId = ROOM,
): NotificationRecord {
  return {
    userId: USER,
    roomId,
    eventId: `$e${streamOrdering}`,
    streamOrdering,
    threadId,
    notify: true,
    highlight,
    actions: highlight ? ['notify', { set_tweak: 'highlight' }] : ['notify'],
    ts: 1000 + streamOrdering,
  };
}

const counts = (notificationCount: number, highlightCount: number) => ({
  notificationCount,
  highlightCount,
});

for (const writerThread of [false, true]) {
  describe(`NotificationService counts and markRead${writerThread ? ', writer thread' : ''}`, () => {
    const config = testConfig();
    let storage: Storage;
    let service: NotificationService;

    before(async () => {
      const file = path.join(config.data_dir, 'weft.db');
      storage = openSqliteStorage(file, { writerThread });
      // Notifications are of stored events: their IDs are read from the events.
      insertMessageRows(
        file,
        ROOM,
        Array.from({ length: 13 }, (_, i) => i + 1),
      );
      const logger = pino({ level: 'silent' });
      service = new NotificationService(
        storage,
        new PushRuleService(
          storage.pushRules,
          new EventBus<ServerEvents>(() => {}),
          async () => {},
        ),
        async () => new Set(),
        'test',
        logger,
      );
      await storage.notifications.recordEvaluated({
        notifications: [
          notification(1, 'main', true),
          notification(2, 'main'),
          notification(3, THREAD),
          notification(4, 'main', false, OTHER_ROOM),
        ],
        readMoves: [],
        evaluatedUpTo: 4,
      });
    });
    after(async () => {
      await service.close();
      await storage.close();
      rmSync(config.data_dir, { recursive: true, force: true });
    });

    it('counts unread notifications per thread, up to a position', async () => {
      const all = await service.unreadCounts(USER, ROOM, 10);
      assert.deepEqual(all.total, counts(3, 1));
      assert.deepEqual(all.main, counts(2, 1));
      assert.deepEqual([...all.threads], [[THREAD, counts(1, 0)]]);
      assert.deepEqual((await service.unreadCounts(USER, ROOM, 2)).total, counts(2, 1));
      assert.equal(await storage.notifications.totalUnread(USER), 4);
      assert.equal(await storage.notifications.evaluatedUpTo(), 4);
    });

    it('markRead on one thread leaves the others unread', async () => {
      await service.markRead(USER, ROOM, 1, 'main');
      const after = await service.unreadCounts(USER, ROOM, 10);
      assert.deepEqual(after.main, counts(1, 0));
      assert.deepEqual(after.threads.get(THREAD), counts(1, 0));
    });

    it('an unthreaded markRead covers every thread; read positions never move back', async () => {
      await service.markRead(USER, ROOM, 3);
      await service.markRead(USER, ROOM, 1);
      await service.markRead(USER, ROOM, 2, THREAD);
      const after = await service.unreadCounts(USER, ROOM, 10);
      assert.deepEqual(after.total, counts(0, 0));
      assert.equal(after.threads.size, 0);
      // The other room is untouched.
      assert.deepEqual((await service.unreadCounts(USER, OTHER_ROOM, 10)).total, counts(1, 0));
      assert.equal(await storage.notifications.totalUnread(USER), 1);
    });

    it('lists notifications newest first with their read flag', async () => {
      const page = await storage.notifications.page({
        userId: USER,
        limit: 10,
        onlyHighlight: false,
      });
      assert.deepEqual(
        page.map((n) => [n.streamOrdering, n.read]),
        [
          [4, false],
          [3, true],
          [2, true],
          [1, true],
        ],
      );
      const highlights = await storage.notifications.page({
        userId: USER,
        limit: 10,
        onlyHighlight: true,
      });
      assert.deepEqual(
        highlights.map((n) => n.eventId),
        ['$e1'],
      );
    });

    it('counts notifications evaluated after the counts were first read', async () => {
      const before = await service.unreadCounts(USER, OTHER_ROOM, 10);
      assert.deepEqual(before.total, counts(1, 0));
      await storage.notifications.recordEvaluated({
        notifications: [notification(5, 'main', true, OTHER_ROOM), notification(6, THREAD)],
        readMoves: [],
        evaluatedUpTo: 6,
      });
      assert.deepEqual((await service.unreadCounts(USER, OTHER_ROOM, 10)).total, counts(2, 1));
      assert.deepEqual((await service.unreadCounts(USER, ROOM, 10)).total, counts(1, 0));
      // As of a position before the newest evaluation: without the new notifications.
      assert.deepEqual((await service.unreadCounts(USER, OTHER_ROOM, 4)).total, counts(1, 0));
      await service.markRead(USER, OTHER_ROOM, 5);
      assert.deepEqual((await service.unreadCounts(USER, OTHER_ROOM, 10)).total, counts(0, 0));
    });

    it('tells which rooms had a notification or a read move in a range of positions', async () => {
      const changed = async (after: number, upTo: number) =>
        (await storage.notifications.roomsChanged(USER, after, upTo)).sort();
      assert.deepEqual(await changed(0, 10), [OTHER_ROOM, ROOM].sort());
      assert.deepEqual(await changed(5, 10), [ROOM]);
      assert.deepEqual(await changed(6, 10), []);
      // ROOM's newest change (6) is past the range, but not its notification at 4 in OTHER_ROOM.
      assert.deepEqual(await changed(3, 5), [OTHER_ROOM]);
      assert.deepEqual(await storage.notifications.roomsChanged('@nobody:test', 0, 10), []);
    });

    it('stores every one of evaluations recorded back to back (one write in flight)', async () => {
      for (const position of [11, 12, 13]) {
        await storage.notifications.recordEvaluated({
          notifications: [notification(position, 'main', false, OTHER_ROOM)],
          readMoves: position === 12 ? [{ userId: USER, roomId: ROOM, streamOrdering: 12 }] : [],
          evaluatedUpTo: position,
        });
      }
      assert.equal(await storage.notifications.evaluatedUpTo(), 13);
      const newest = await storage.notifications.page({
        userId: USER,
        limit: 3,
        onlyHighlight: false,
      });
      assert.deepEqual(
        newest.map((n) => n.streamOrdering),
        [13, 12, 11],
      );
      assert.deepEqual((await service.unreadCounts(USER, OTHER_ROOM, 20)).total, counts(3, 0));
      assert.deepEqual(
        await storage.notifications.roomsChanged(USER, 10, 20).then((r) => r.sort()),
        [OTHER_ROOM, ROOM].sort(),
      );
    });
  });
}

for (const writerThread of [false, true]) {
  describe(`pruning read notifications${writerThread ? ', writer thread' : ''}`, () => {
    const config = testConfig();
    const NOW = Date.UTC(2026, 10, 27);
    const HOUR = 60 * 60 * 1000;
    const DAY = 24 * HOUR;
    const OTHER_USER = '@carol:test';
    let storage: Storage;
    let pruner: NotificationPruner;

    /** A notification of `userId` at `position`, `age` ms before NOW. */
    const aged = (
      position: number,
      age: number,
      options: { thread?: string; highlight?: boolean; userId?: string } = {},
    ): NotificationRecord => ({
      ...notification(position, options.thread ?? 'main', options.highlight ?? false),
      userId: options.userId ?? USER,
      ts: NOW - age,
    });
    const listed = async (userId: string) =>
      (await storage.notifications.page({ userId, limit: 50, onlyHighlight: false }))
        .map((n) => n.streamOrdering)
        .sort((a, b) => a - b);

    before(async () => {
      const file = path.join(config.data_dir, 'weft.db');
      storage = openSqliteStorage(file, { writerThread });
      insertMessageRows(
        file,
        ROOM,
        Array.from({ length: 10 }, (_, i) => i + 1),
      );
      pruner = new NotificationPruner(storage.notifications, pino({ level: 'silent' }));
      await storage.notifications.recordEvaluated({
        notifications: [
          aged(1, 2 * DAY), // read, old: pruned
          aged(2, 2 * DAY, { highlight: true }), // read highlight, younger than a month: kept
          aged(3, 31 * DAY, { highlight: true }), // read highlight, older than a month: pruned
          aged(4, HOUR), // read, recent: kept
          aged(5, 2 * DAY, { thread: THREAD }), // read through its thread's receipt: pruned
          aged(6, 2 * DAY, { thread: '$other-root' }), // its thread is unread: kept
          aged(7, 2 * DAY), // after the read position: unread, kept however old
          aged(1, 2 * DAY, { userId: OTHER_USER }), // a user who never read: kept
        ],
        readMoves: [
          { userId: USER, roomId: ROOM, threadId: 'main', streamOrdering: 6 },
          { userId: USER, roomId: ROOM, threadId: THREAD, streamOrdering: 9 },
        ],
        evaluatedUpTo: 10,
      });
    });
    after(async () => {
      await pruner.close();
      await storage.close();
      rmSync(config.data_dir, { recursive: true, force: true });
    });

    it('deletes read notifications past their retention, and leaves the counts alone', async () => {
      const countsBefore = await storage.notifications.unreadByThread(USER, ROOM, 10);
      const totalBefore = await storage.notifications.totalUnread(USER);
      assert.equal(await pruner.pruneNow(NOW), 3);
      assert.deepEqual(await listed(USER), [2, 4, 6, 7]);
      assert.deepEqual(await listed(OTHER_USER), [1]);
      assert.deepEqual(await storage.notifications.unreadByThread(USER, ROOM, 10), countsBefore);
      assert.equal(await storage.notifications.totalUnread(USER), totalBefore);
      assert.equal(totalBefore, 2);
    });

    it('deletes nothing more until more is read or old enough', async () => {
      assert.equal(await pruner.pruneNow(NOW), 0);
      await storage.notifications.markRead({ userId: USER, roomId: ROOM, streamOrdering: 7 });
      assert.equal(await pruner.pruneNow(NOW), 2);
      assert.deepEqual(await listed(USER), [2, 4]);
      assert.equal(await pruner.pruneNow(NOW + DAY), 1);
      assert.deepEqual(await listed(USER), [2]);
    });
  });
}

describe('notification rows gather before they are written (writer thread)', () => {
  const config = testConfig();
  after(() => rmSync(config.data_dir, { recursive: true, force: true }));

  it('keeps them back a while, and writes them when the storage closes', async () => {
    const file = path.join(config.data_dir, 'weft.db');
    const storage = openSqliteStorage(file, { writerThread: true });
    insertMessageRows(file, ROOM, [1]);
    const stored = () => {
      const db = new Database(file, { readonly: true });
      try {
        const progress = db
          .prepare(`SELECT stream_ordering FROM push_progress WHERE name = 'evaluated'`)
          .pluck()
          .get();
        const rows = db.prepare('SELECT COUNT(*) FROM push_notifications').pluck().get();
        return { progress, rows };
      } finally {
        db.close();
      }
    };
    await storage.notifications.recordEvaluated({
      notifications: [notification(1, 'main')],
      readMoves: [],
      evaluatedUpTo: 1,
    });
    // Counted at once; the row and the progress mark are written together later.
    assert.equal(await storage.notifications.evaluatedUpTo(), 1);
    assert.deepEqual(stored(), { progress: 0, rows: 0 });
    await storage.close();
    assert.deepEqual(stored(), { progress: 1, rows: 1 });
  });
});

describe('migration 13: notification rows become integers with interned names', () => {
  const config = testConfig();
  after(() => rmSync(config.data_dir, { recursive: true, force: true }));

  it('keeps every stored notification, its names, actions and read flag', async () => {
    const file = path.join(config.data_dir, 'weft.db');
    const db = new Database(file);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL, applied_ts INTEGER NOT NULL)');
    for (const migration of migrations.filter((m) => m.version <= 12)) {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_version VALUES (?, 0)').run(migration.version);
    }
    const insert = db.prepare(
      `INSERT INTO push_notifications (user_id, room_id, event_id, stream_ordering, thread_id,
         notify, highlight, actions, ts) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)`,
    );
    insert.run(USER, ROOM, '$e1', 1, 'main', 1, '["notify",{"set_tweak":"highlight"}]', 1001);
    insert.run(USER, ROOM, '$e2', 2, THREAD, 0, '["notify"]', 1002);
    db.prepare(
      `INSERT INTO push_read_positions (user_id, room_id, thread_id, stream_ordering)
       VALUES (?, ?, '', 1)`,
    ).run(USER, ROOM);
    db.prepare(`UPDATE push_progress SET stream_ordering = 2 WHERE name = 'evaluated'`).run();
    db.close();
    insertMessageRows(file, ROOM, [1, 2]);

    const storage = openSqliteStorage(file);
    try {
      const page = await storage.notifications.page({
        userId: USER,
        limit: 10,
        onlyHighlight: false,
      });
      assert.deepEqual(
        page.map((n) => [n.eventId, n.roomId, n.threadId, n.highlight, n.actions, n.ts, n.read]),
        [
          ['$e2', ROOM, THREAD, false, ['notify'], 1002, false],
          ['$e1', ROOM, 'main', true, ['notify', { set_tweak: 'highlight' }], 1001, true],
        ],
      );
      const unread = await storage.notifications.unreadByThread(USER, ROOM, 10);
      assert.deepEqual([...unread], [[THREAD, counts(1, 0)]]);
    } finally {
      await storage.close();
    }
  });
});
