/**
 * NotificationService's counts and read positions on a real SQLite file:
 * unread counts per thread, markRead per thread and unthreaded (never moving
 * back), the push badge and the `read` flag of GET /notifications.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { NotificationService } from '../../src/push/notification-service.js';
import { PushRuleService } from '../../src/push/push-rule-service.js';
import { openSqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import type { NotificationRecord, Storage } from '../../src/storage/storage.js';
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

describe('NotificationService counts and markRead', () => {
  const config = testConfig();
  let storage: Storage;
  let service: NotificationService;

  before(async () => {
    storage = openSqliteStorage(path.join(config.data_dir, 'weft.db'));
    const logger = pino({ level: 'silent' });
    service = new NotificationService(
      storage,
      new PushRuleService(storage.pushRules),
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
});
