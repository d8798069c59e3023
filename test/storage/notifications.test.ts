/**
 * Contract tests on every backend of the push notification store: recorded
 * evaluations and their progress, unread counts per thread (cached or not),
 * read positions that never move back (racing receipts too), the rooms whose
 * counts changed, GET /notifications pages, what pushers send, pruning, and
 * what survives a reopen.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type {
  EventRecord,
  NotificationRecord,
  ReadMove,
  Storage,
} from '../../src/storage/storage.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';
import { TestRoom } from '../support/stored-events.js';

const BOB = '@bob:localhost';
const CAROL = '@carol:localhost';
const ROOM = '!room:localhost';
const OTHER_ROOM = '!other:localhost';
const ROOT = '$root';
const HIGHLIGHT = ['notify', { set_tweak: 'highlight' }, { set_tweak: 'sound', value: 'default' }];

interface Options {
  userId?: string;
  threadId?: string;
  highlight?: boolean;
  ts?: number;
}

/** What the push rules made of the event for a user. */
function notification(event: EventRecord, options: Options = {}): NotificationRecord {
  const highlight = options.highlight ?? false;
  return {
    userId: options.userId ?? BOB,
    roomId: event.roomId,
    eventId: event.eventId,
    streamOrdering: event.streamOrdering,
    threadId: options.threadId ?? 'main',
    notify: true,
    highlight,
    actions: highlight ? HIGHLIGHT : ['notify'],
    ts: options.ts ?? 1000 + event.streamOrdering,
  };
}

const counts = (notificationCount: number, highlightCount: number) => ({
  notificationCount,
  highlightCount,
});

/** Messages in two rooms, `count` in the first: notifications are of stored events. */
async function messages(storage: Storage, count: number) {
  const room = await TestRoom.create(storage, ROOM);
  const other = await TestRoom.create(storage, OTHER_ROOM);
  const events: EventRecord[] = [];
  for (let i = 1; i <= count; i++) events.push(await room.send({ eventId: `$m${i}` }));
  const elsewhere = await other.send({ eventId: '$elsewhere' });
  return { events, elsewhere };
}

async function record(
  storage: Storage,
  notifications: NotificationRecord[],
  evaluatedUpTo: number,
  readMoves: ReadMove[] = [],
) {
  await storage.notifications.recordEvaluated({ notifications, readMoves, evaluatedUpTo });
}

const unread = async (storage: Storage, roomId: string, upTo = 1e9, userId = BOB) =>
  [...(await storage.notifications.unreadByThread(userId, roomId, upTo))].sort();

for (const backend of storageBackends()) {
  describe(`notifications on ${backend.name}`, () => {
    it('records evaluations: progress, counts and rows, kept across a reopen', () =>
      withStorage(backend, async (storage, reopen) => {
        const { events, elsewhere } = await messages(storage, 3);
        const [m1, m2, m3] = events as [EventRecord, EventRecord, EventRecord];
        assert.equal(await storage.notifications.evaluatedUpTo(), 0);
        await record(
          storage,
          [
            notification(m1, { highlight: true }),
            notification(m2),
            notification(m3, { threadId: ROOT }),
            notification(elsewhere),
            notification(m2, { userId: CAROL }),
          ],
          elsewhere.streamOrdering,
        );
        const check = async (s: Storage) => {
          assert.equal(await s.notifications.evaluatedUpTo(), elsewhere.streamOrdering);
          assert.deepEqual(await unread(s, ROOM), [
            [ROOT, counts(1, 0)],
            ['main', counts(2, 1)],
          ]);
          assert.deepEqual(await unread(s, ROOM, m2.streamOrdering), [['main', counts(2, 1)]]);
          assert.deepEqual(await unread(s, OTHER_ROOM), [['main', counts(1, 0)]]);
          assert.deepEqual(await unread(s, ROOM, 1e9, CAROL), [['main', counts(1, 0)]]);
          assert.deepEqual(await unread(s, ROOM, 1e9, '@nobody:localhost'), []);
          assert.equal(await s.notifications.totalUnread(BOB), 4);
          assert.equal(await s.notifications.totalUnread('@nobody:localhost'), 0);
        };
        await check(storage);
        await check(await reopen());
      }));

    it('keeps the progress moving forward only', () =>
      withStorage(backend, async (storage, reopen) => {
        const { events } = await messages(storage, 2);
        await record(storage, [], events[1]!.streamOrdering);
        await record(storage, [], events[0]!.streamOrdering);
        assert.equal(await storage.notifications.evaluatedUpTo(), events[1]!.streamOrdering);
        storage = await reopen();
        assert.equal(await storage.notifications.evaluatedUpTo(), events[1]!.streamOrdering);
      }));

    it('stores every one of evaluations recorded back to back, in order', () =>
      withStorage(backend, async (storage, reopen) => {
        const { events } = await messages(storage, 6);
        // Not awaited one by one: the push worker's next run may come while one is written.
        await Promise.all(
          events.map((event, i) =>
            record(
              storage,
              [notification(event)],
              event.streamOrdering,
              i === 2 ? [{ userId: BOB, roomId: ROOM, streamOrdering: event.streamOrdering }] : [],
            ),
          ),
        );
        const last = events.at(-1)!.streamOrdering;
        const check = async (s: Storage) => {
          assert.equal(await s.notifications.evaluatedUpTo(), last);
          const page = await s.notifications.page({ userId: BOB, limit: 10, onlyHighlight: false });
          assert.deepEqual(
            page.map((n) => [n.eventId, n.read]),
            [
              ['$m6', false],
              ['$m5', false],
              ['$m4', false],
              ['$m3', true],
              ['$m2', true],
              ['$m1', true],
            ],
          );
          assert.deepEqual(await unread(s, ROOM), [['main', counts(3, 0)]]);
        };
        await check(storage);
        await check(await reopen());
      }));

    it('keeps the first row of an event evaluated twice', () =>
      withStorage(backend, async (storage) => {
        const { events } = await messages(storage, 2);
        const [m1, m2] = events as [EventRecord, EventRecord];
        await record(storage, [notification(m1, { highlight: true })], m1.streamOrdering);
        await record(storage, [notification(m1), notification(m2)], m2.streamOrdering);
        assert.equal(await storage.notifications.totalUnread(BOB), 2);
        assert.deepEqual(await unread(storage, ROOM), [['main', counts(2, 1)]]);
        const page = await storage.notifications.page({
          userId: BOB,
          limit: 10,
          onlyHighlight: true,
        });
        assert.deepEqual(
          page.map((n) => n.eventId),
          ['$m1'],
        );
      }));

    it('reads per thread or for every thread, never back, and counts only what is after', () =>
      withStorage(backend, async (storage, reopen) => {
        const { events, elsewhere } = await messages(storage, 4);
        const [m1, m2, m3, m4] = events as [EventRecord, EventRecord, EventRecord, EventRecord];
        await record(
          storage,
          [
            notification(m1, { highlight: true }),
            notification(m2),
            notification(m3, { threadId: ROOT }),
            notification(m4, { threadId: ROOT }),
            notification(elsewhere),
          ],
          elsewhere.streamOrdering,
        );
        // Cached counts first, so that the moves below must update them.
        assert.deepEqual(await unread(storage, ROOM), [
          [ROOT, counts(2, 0)],
          ['main', counts(2, 1)],
        ]);
        const markRead = (streamOrdering: number, threadId?: string) =>
          storage.notifications.markRead({
            userId: BOB,
            roomId: ROOM,
            streamOrdering,
            ...(threadId === undefined ? {} : { threadId }),
          });
        await markRead(m1.streamOrdering, 'main');
        assert.deepEqual(await unread(storage, ROOM), [
          [ROOT, counts(2, 0)],
          ['main', counts(1, 0)],
        ]);
        // Unthreaded: covers every thread.
        await markRead(m3.streamOrdering);
        assert.deepEqual(await unread(storage, ROOM), [[ROOT, counts(1, 0)]]);
        // Never back, neither unthreaded nor in a thread.
        await markRead(m1.streamOrdering);
        await markRead(m2.streamOrdering, ROOT);
        assert.deepEqual(await unread(storage, ROOM), [[ROOT, counts(1, 0)]]);
        assert.deepEqual(await unread(storage, OTHER_ROOM), [['main', counts(1, 0)]]);
        assert.equal(await storage.notifications.totalUnread(BOB), 2);

        storage = await reopen();
        assert.deepEqual(await unread(storage, ROOM), [[ROOT, counts(1, 0)]]);
        assert.equal(await storage.notifications.totalUnread(BOB), 2);
      }));

    it('keeps the furthest of racing read moves, receipts and evaluations alike', () =>
      withStorage(backend, async (storage) => {
        const { events } = await messages(storage, 8);
        await record(
          storage,
          events.map((e) => notification(e)),
          events.at(-1)!.streamOrdering,
        );
        const positions = events.map((e) => e.streamOrdering);
        const furthest = positions[5]!;
        const shuffled = [positions[2]!, furthest, positions[0]!, positions[4]!, positions[1]!];
        await Promise.all([
          ...shuffled.map((streamOrdering) =>
            storage.notifications.markRead({ userId: BOB, roomId: ROOM, streamOrdering }),
          ),
          storage.notifications.markRead({
            userId: BOB,
            roomId: ROOM,
            threadId: 'main',
            streamOrdering: positions[3]!,
          }),
        ]);
        assert.deepEqual(await unread(storage, ROOM), [['main', counts(2, 0)]]);
        const unreadIds = await storage.notifications.unreadAfter(BOB, 0, 10);
        assert.deepEqual(
          unreadIds.map((n) => n.eventId),
          ['$m7', '$m8'],
        );
      }));

    it('counts read moves that come with evaluations (a sender’s own events)', () =>
      withStorage(backend, async (storage) => {
        const { events } = await messages(storage, 3);
        const [m1, m2, m3] = events as [EventRecord, EventRecord, EventRecord];
        await record(storage, [notification(m1), notification(m2)], m2.streamOrdering);
        assert.deepEqual(await unread(storage, ROOM), [['main', counts(2, 0)]]);
        await record(storage, [notification(m3, { userId: CAROL })], m3.streamOrdering, [
          { userId: BOB, roomId: ROOM, streamOrdering: m3.streamOrdering },
        ]);
        assert.deepEqual(await unread(storage, ROOM), []);
        assert.deepEqual(await unread(storage, ROOM, 1e9, CAROL), [['main', counts(1, 0)]]);
      }));

    it('tells which rooms had a notification or a read move in a range of positions', () =>
      withStorage(backend, async (storage, reopen) => {
        const { events, elsewhere } = await messages(storage, 6);
        const at = (i: number) => events[i]!.streamOrdering;
        await record(
          storage,
          [notification(events[0]!), notification(elsewhere)],
          elsewhere.streamOrdering,
        );
        await storage.notifications.markRead({ userId: BOB, roomId: ROOM, streamOrdering: at(4) });
        const check = async (s: Storage) => {
          const changed = async (after: number, upTo: number) =>
            (await s.notifications.roomsChanged(BOB, after, upTo)).sort();
          assert.deepEqual(await changed(0, 1e9), [OTHER_ROOM, ROOM].sort());
          // The read move at m5 is ROOM's newest change: m1's notification is found in range too.
          assert.deepEqual(await changed(0, at(2)), [ROOM]);
          assert.deepEqual(await changed(at(0), at(3)), []);
          assert.deepEqual(await changed(at(3), at(4)), [ROOM]);
          assert.deepEqual(await changed(at(4), 1e9), [OTHER_ROOM]);
          assert.deepEqual(await changed(elsewhere.streamOrdering, 1e9), []);
          assert.deepEqual(await s.notifications.roomsChanged('@nobody:localhost', 0, 1e9), []);
        };
        await check(storage);
        await check(await reopen());
      }));

    it('pages notifications newest first with their read flag, and highlights alone', () =>
      withStorage(backend, async (storage) => {
        const { events, elsewhere } = await messages(storage, 4);
        const [m1, m2, m3, m4] = events as [EventRecord, EventRecord, EventRecord, EventRecord];
        await record(
          storage,
          [
            notification(m1),
            notification(m2, { highlight: true, threadId: ROOT, ts: 42 }),
            notification(m3),
            notification(m4, { highlight: true }),
            notification(elsewhere),
          ],
          elsewhere.streamOrdering,
        );
        await storage.notifications.markRead({
          userId: BOB,
          roomId: ROOM,
          threadId: ROOT,
          streamOrdering: m2.streamOrdering,
        });
        const page = (before: number | undefined, limit: number, onlyHighlight = false) =>
          storage.notifications.page({
            userId: BOB,
            limit,
            onlyHighlight,
            ...(before === undefined ? {} : { before }),
          });
        const all = await page(undefined, 10);
        assert.deepEqual(
          all.map((n) => [n.eventId, n.read]),
          [
            ['$elsewhere', false],
            ['$m4', false],
            ['$m3', false],
            ['$m2', true],
            ['$m1', false],
          ],
        );
        assert.deepEqual(all[3], {
          ...notification(m2, { highlight: true, threadId: ROOT, ts: 42 }),
          read: true,
        });
        assert.deepEqual(
          (await page(m4.streamOrdering, 2)).map((n) => n.eventId),
          ['$m3', '$m2'],
        );
        assert.deepEqual(
          (await page(undefined, 10, true)).map((n) => n.eventId),
          ['$m4', '$m2'],
        );
        assert.deepEqual(
          await storage.notifications.page({ userId: CAROL, limit: 5, onlyHighlight: false }),
          [],
        );
      }));

    it('gives pushers the unread notifications after a position, oldest first', () =>
      withStorage(backend, async (storage) => {
        const { events } = await messages(storage, 5);
        await record(
          storage,
          events.map((e) => notification(e)),
          events.at(-1)!.streamOrdering,
        );
        await storage.notifications.markRead({
          userId: BOB,
          roomId: ROOM,
          streamOrdering: events[1]!.streamOrdering,
        });
        const after = (position: number, limit: number) =>
          storage.notifications
            .unreadAfter(BOB, position, limit)
            .then((r) => r.map((n) => n.eventId));
        assert.deepEqual(await after(0, 10), ['$m3', '$m4', '$m5']);
        assert.deepEqual(await after(events[2]!.streamOrdering, 10), ['$m4', '$m5']);
        assert.deepEqual(await after(0, 2), ['$m3', '$m4']);
        const [first] = await storage.notifications.unreadAfter(BOB, 0, 1);
        assert.deepEqual(first, notification(events[2]!));
        assert.deepEqual(await storage.notifications.unreadAfter(CAROL, 0, 10), []);
      }));

    it('lists event IDs in a range of positions, oldest first, at most a limit', () =>
      withStorage(backend, async (storage) => {
        const { events } = await messages(storage, 4);
        const at = (i: number) => events[i]!.streamOrdering;
        assert.deepEqual(await storage.notifications.eventIdsAfter(at(0), at(3), 10), [
          '$m2',
          '$m3',
          '$m4',
        ]);
        assert.deepEqual(await storage.notifications.eventIdsAfter(at(0), at(3), 2), [
          '$m2',
          '$m3',
        ]);
        assert.deepEqual(await storage.notifications.eventIdsAfter(at(3), at(3), 10), []);
      }));

    it('prunes read notifications past their retention, and no count changes', () =>
      withStorage(backend, async (storage) => {
        const NOW = Date.UTC(2026, 10, 27);
        const DAY = 24 * 60 * 60 * 1000;
        const { events } = await messages(storage, 7);
        const e = (i: number) => events[i - 1]!;
        const aged = (i: number, age: number, options: Options = {}) =>
          notification(e(i), { ...options, ts: NOW - age });
        await record(
          storage,
          [
            aged(1, 2 * DAY), // read, old: pruned
            aged(2, 2 * DAY, { highlight: true }), // read highlight, younger than its cutoff: kept
            aged(3, 31 * DAY, { highlight: true }), // read highlight, older: pruned
            aged(4, 60 * 1000), // read, recent: kept
            aged(5, 2 * DAY, { threadId: ROOT }), // read through its thread's position: pruned
            aged(6, 2 * DAY, { threadId: '$other-root' }), // its thread is unread: kept
            aged(7, 2 * DAY), // unread: kept however old
            aged(1, 2 * DAY, { userId: CAROL }), // a user who never read: kept
          ],
          e(7).streamOrdering,
          [
            { userId: BOB, roomId: ROOM, threadId: 'main', streamOrdering: e(6).streamOrdering },
            { userId: BOB, roomId: ROOM, threadId: ROOT, streamOrdering: e(7).streamOrdering },
          ],
        );
        const cutoffs = { before: NOW - DAY, highlightsBefore: NOW - 30 * DAY };
        const listed = async (userId: string) =>
          (await storage.notifications.page({ userId, limit: 50, onlyHighlight: false }))
            .map((n) => n.eventId)
            .sort();
        const countsBefore = await unread(storage, ROOM);
        const aborted = new AbortController();
        aborted.abort();
        assert.equal(await storage.notifications.pruneRead(cutoffs, aborted.signal), 0);
        assert.equal(await storage.notifications.pruneRead(cutoffs), 3);
        assert.deepEqual(await listed(BOB), ['$m2', '$m4', '$m6', '$m7']);
        assert.deepEqual(await listed(CAROL), ['$m1']);
        assert.deepEqual(await unread(storage, ROOM), countsBefore);
        assert.equal(await storage.notifications.totalUnread(BOB), 2);
        assert.equal(await storage.notifications.pruneRead(cutoffs), 0);

        await storage.notifications.markRead({
          userId: BOB,
          roomId: ROOM,
          streamOrdering: e(7).streamOrdering,
        });
        assert.equal(await storage.notifications.pruneRead(cutoffs), 2);
        assert.deepEqual(await listed(BOB), ['$m2', '$m4']);
      }));

    it('prunes user after user, for more users than one step takes', () =>
      withStorage(backend, async (storage) => {
        const { events } = await messages(storage, 1);
        const users = Array.from({ length: 45 }, (_, i) => `@user${i}:localhost`);
        const m1 = events[0]!;
        await record(
          storage,
          users.map((userId) => notification(m1, { userId, ts: 1 })),
          m1.streamOrdering,
          users.map((userId) => ({ userId, roomId: ROOM, streamOrdering: m1.streamOrdering })),
        );
        assert.equal(await storage.notifications.pruneRead({ before: 2, highlightsBefore: 2 }), 45);
        assert.deepEqual(
          await storage.notifications.page({ userId: users[44]!, limit: 5, onlyHighlight: false }),
          [],
        );
      }));
  });
}
