/**
 * The in-memory answers behind the E2EE parts of /sync, on a real SQLite file:
 * a to-device queue known to be empty, the one-time and fallback key counts
 * of a device, and where the newest membership event is (device lists). Each
 * must go stale on no write: every test makes the write between two reads and
 * checks the second against the database. Some also write behind the store's
 * back (a second connection) to show the answer really comes from memory.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import type { KeyWithId, Storage, ToDeviceRecipient } from '../../src/storage/storage.js';
import { testConfig } from '../support/server.js';

const ALICE = '@alice:test';
const BOB = '@bob:test';
const PHONE: ToDeviceRecipient = { userId: BOB, deviceId: 'PHONE' };
const LAPTOP: ToDeviceRecipient = { userId: BOB, deviceId: 'LAPTOP' };
const OTK = 'signed_curve25519';

/** A fresh database file per test, and a second connection to it that bypasses the stores. */
function useStorage() {
  const dirs: string[] = [];
  const handles: { storage: Storage; raw: Database.Database; file: string } = {} as never;
  beforeEach(() => {
    const config = testConfig();
    dirs.push(config.data_dir);
    handles.file = path.join(config.data_dir, 'weft.db');
    handles.storage = openSqliteStorage(handles.file);
    handles.raw = new Database(handles.file);
  });
  afterEach(async () => {
    handles.raw.close();
    await handles.storage.close();
  });
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  return handles;
}

let txn = 0;
async function send(storage: Storage, ...recipients: ToDeviceRecipient[]): Promise<number> {
  txn += 1;
  const done = await storage.toDevice.enqueue(
    { userId: ALICE, deviceId: 'A', endpoint: 'sendToDevice/m.test', txnId: `t${txn}` },
    recipients.map((recipient) => ({ recipient, messageJson: JSON.stringify({ n: txn }) })),
  );
  assert.ok(done);
  return done.lastPosition;
}

const positions = async (
  storage: Storage,
  device: ToDeviceRecipient,
  after: number,
  upTo: number,
  limit = 100,
) => (await storage.toDevice.pending(device, after, upTo, limit)).map((m) => m.position);

/** One /sync's to-device reads, as ToDeviceProvider makes them. */
async function syncOnce(storage: Storage, device: ToDeviceRecipient, since: number, upTo: number) {
  if (since > 0) await storage.toDevice.acknowledge(device, since);
  return positions(storage, device, since, upTo);
}

describe('to-device queue known to be empty', () => {
  const h = useStorage();

  it('answers an empty queue from memory once a sync found nothing', async () => {
    assert.deepEqual(await syncOnce(h.storage, PHONE, 0, 0), []);
    // Written behind the store's back: the store still answers from memory.
    h.raw
      .prepare('INSERT INTO to_device_messages (user_id, device_id, message_json) VALUES (?, ?, ?)')
      .run(BOB, 'PHONE', '{}');
    assert.deepEqual(await syncOnce(h.storage, PHONE, 0, 5), []);
  });

  it('sees a message enqueued after the queue was found empty', async () => {
    assert.deepEqual(await syncOnce(h.storage, PHONE, 0, 0), []);
    const p = await send(h.storage, PHONE);
    assert.deepEqual(await syncOnce(h.storage, PHONE, 0, p), [p]);
    // Acknowledged by the next sync, then empty again, then a new message.
    assert.deepEqual(await syncOnce(h.storage, PHONE, p, p), []);
    // One send to both: LAPTOP's message first, then PHONE's.
    const q = await send(h.storage, LAPTOP, PHONE);
    assert.deepEqual(await syncOnce(h.storage, PHONE, p, q), [q]);
    assert.deepEqual(await syncOnce(h.storage, LAPTOP, 0, q), [q - 1]);
  });

  it('is not fooled by a message enqueued between acknowledge and pending', async () => {
    const first = await send(h.storage, PHONE);
    assert.deepEqual(await syncOnce(h.storage, PHONE, 0, first), [first]);
    // The next sync acknowledges `first`; a message arrives before it reads its range.
    await h.storage.toDevice.acknowledge(PHONE, first);
    const second = await send(h.storage, PHONE);
    assert.deepEqual(await positions(h.storage, PHONE, first, first), []);
    assert.deepEqual(await syncOnce(h.storage, PHONE, first, second), [second]);
  });

  it('is not fooled by a message above the range stored before the sync', async () => {
    const first = await send(h.storage, PHONE);
    const second = await send(h.storage, PHONE);
    // A sync whose upper bound was taken before `second` was notified.
    assert.deepEqual(await syncOnce(h.storage, PHONE, first, first), []);
    assert.deepEqual(await syncOnce(h.storage, PHONE, first, second), [second]);
  });

  it('is not fooled by a message left below `after` by an older acknowledge', async () => {
    const first = await send(h.storage, PHONE);
    const second = await send(h.storage, PHONE);
    await h.storage.toDevice.acknowledge(PHONE, first);
    // A range after `second` with nothing in it, but no acknowledge covered `second`.
    assert.deepEqual(await positions(h.storage, PHONE, second, second), []);
    assert.deepEqual(await positions(h.storage, PHONE, first, second), [second]);
  });

  it('is not fooled by a message stored below an acknowledge past the newest position', async () => {
    // No sync does this (its token is clamped to the server's positions); the store copes anyway.
    await h.storage.toDevice.acknowledge(PHONE, 100);
    const p = await send(h.storage, PHONE);
    assert.ok(p < 100);
    assert.deepEqual(await positions(h.storage, PHONE, 100, 100), []);
    assert.deepEqual(await positions(h.storage, PHONE, 0, p), [p]);
  });

  it('is not fooled by a backlog delivered in parts (the position held back)', async () => {
    const first = await send(h.storage, PHONE);
    const second = await send(h.storage, PHONE);
    // The sync that delivered only `first` resumes from it, though its bound was `second`.
    assert.deepEqual(await positions(h.storage, PHONE, 0, second, 1), [first]);
    assert.deepEqual(await syncOnce(h.storage, PHONE, first, second), [second]);
    assert.deepEqual(await syncOnce(h.storage, PHONE, second, second), []);
  });

  it('sees messages of an enqueue that was a retried transaction only once', async () => {
    assert.deepEqual(await syncOnce(h.storage, PHONE, 0, 0), []);
    const transaction = { userId: ALICE, deviceId: 'A', endpoint: 'sendToDevice/x', txnId: 'same' };
    const message = { recipient: PHONE, messageJson: '{}' };
    const done = await h.storage.toDevice.enqueue(transaction, [message]);
    assert.equal(await h.storage.toDevice.enqueue(transaction, [message]), undefined);
    assert.ok(done);
    assert.deepEqual(await syncOnce(h.storage, PHONE, 0, done.lastPosition), [done.lastPosition]);
  });

  it('keeps messages stored before a restart (they are at or below the position then)', async () => {
    const first = await send(h.storage, PHONE);
    const second = await send(h.storage, PHONE);
    await h.storage.close();
    h.storage = openSqliteStorage(h.file);
    // A range below what was stored before the restart finds nothing, and proves nothing.
    assert.deepEqual(await syncOnce(h.storage, PHONE, 0, first - 1), []);
    assert.deepEqual(await syncOnce(h.storage, PHONE, 0, second), [first, second]);
    assert.deepEqual(await syncOnce(h.storage, PHONE, first, first), []);
    assert.deepEqual(await syncOnce(h.storage, PHONE, first, second), [second]);
  });

  it('matches the database through random interleavings of sends and syncs', async () => {
    const devices = [PHONE, LAPTOP, { userId: ALICE, deviceId: 'A' }];
    const select = h.raw.prepare(
      `SELECT stream_id FROM to_device_messages
       WHERE user_id = ? AND device_id = ? AND stream_id > ? AND stream_id <= ?
       ORDER BY stream_id LIMIT ?`,
    );
    const since = new Map(devices.map((d) => [d, 0]));
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    let max = 0;
    for (let step = 0; step < 600; step++) {
      const device = devices[random(devices.length)]!;
      const action = random(10);
      if (action < 3) {
        max = await send(h.storage, ...devices.filter(() => random(2) === 0), device);
      } else {
        // A sync whose upper bound may lag the newest message, and whose token may be old.
        const upTo = Math.max(0, max - random(3));
        const from = Math.min(upTo, Math.max(0, since.get(device)! - random(2)));
        if (from > 0) await h.storage.toDevice.acknowledge(device, from);
        const limit = 1 + random(3);
        const got = await positions(h.storage, device, from, upTo, limit);
        const expected = (
          select.pluck().all(device.userId, device.deviceId, from, upTo, limit) as number[]
        ).filter((p) => p > from);
        assert.deepEqual(got, expected, `step ${step}`);
        since.set(device, got.at(-1) ?? upTo);
      }
    }
  });
});

async function createDevice(storage: Storage, userId: string, deviceId: string) {
  await storage.users.createUser(
    { userId, passwordHash: null, isGuest: false, isAdmin: false, now: 1 },
    { userId, deviceId, initialDisplayName: null, tokenHash: `h-${deviceId}`, ip: null, now: 1 },
  );
}

const key = (keyId: string, algorithm = OTK): KeyWithId => ({
  algorithm,
  keyId,
  keyJson: JSON.stringify({ key: keyId }),
});

describe('key counts of a device', () => {
  const h = useStorage();
  const counts = () => h.storage.e2eeKeys.oneTimeKeyCounts(BOB, 'PHONE');
  const fallback = () => h.storage.e2eeKeys.unusedFallbackKeyTypes(BOB, 'PHONE');
  const upload = (oneTimeKeys: KeyWithId[], fallbackKeys: KeyWithId[] = []) =>
    h.storage.e2eeKeys.uploadKeys({ userId: BOB, deviceId: 'PHONE', oneTimeKeys, fallbackKeys });
  const claim = () =>
    h.storage.e2eeKeys.claimKeys([{ userId: BOB, deviceId: 'PHONE', algorithm: OTK }]);

  beforeEach(() => createDevice(h.storage, BOB, 'PHONE'));

  it('follows uploads and claims of one-time keys', async () => {
    assert.deepEqual(await counts(), {});
    await upload([key('a'), key('b'), key('c', 'other')]);
    assert.deepEqual(await counts(), { [OTK]: 2, other: 1 });
    assert.deepEqual(await counts(), { [OTK]: 2, other: 1 });
    assert.equal((await claim())[0]?.keyId, 'a');
    assert.deepEqual(await counts(), { [OTK]: 1, other: 1 });
    await claim();
    assert.deepEqual(await counts(), { other: 1 });
    assert.deepEqual(await claim(), []);
    assert.deepEqual(await counts(), { other: 1 });
    await upload([key('d')]);
    assert.deepEqual(await counts(), { [OTK]: 1, other: 1 });
  });

  it('follows fallback keys: uploaded, claimed, re-uploaded, replaced', async () => {
    assert.deepEqual(await fallback(), []);
    await upload([], [key('f1')]);
    assert.deepEqual(await fallback(), [OTK]);
    assert.equal((await claim())[0]?.keyId, 'f1');
    assert.deepEqual(await fallback(), []);
    await upload([], [key('f1')]);
    assert.deepEqual(await fallback(), [], 'the same key re-uploaded stays used');
    await upload([], [key('f2')]);
    assert.deepEqual(await fallback(), [OTK]);
    // A one-time key is claimed first: the fallback key stays unused.
    await upload([key('o1')]);
    assert.deepEqual(await fallback(), [OTK]);
    await claim();
    assert.deepEqual(await fallback(), [OTK]);
    assert.deepEqual(await counts(), {});
  });

  it('is unchanged by an upload that conflicts and rolls back', async () => {
    await upload([key('a')]);
    assert.deepEqual(await counts(), { [OTK]: 1 });
    const conflicting = { ...key('a'), keyJson: '"other"' };
    const result = await upload([key('b'), conflicting], [key('f')]);
    assert.equal(result.ok, false);
    assert.deepEqual(await counts(), { [OTK]: 1 });
    assert.deepEqual(await fallback(), []);
  });

  it('forgets a deleted device, and a device created again under its ID', async () => {
    await upload([key('a')], [key('f')]);
    assert.deepEqual(await counts(), { [OTK]: 1 });
    assert.deepEqual(await fallback(), [OTK]);
    await h.storage.devices.deleteDevices(BOB, ['PHONE']);
    assert.deepEqual(await counts(), {});
    assert.deepEqual(await fallback(), []);
    await h.storage.tokens.createSession({
      userId: BOB,
      deviceId: 'PHONE',
      initialDisplayName: null,
      tokenHash: 'again',
      ip: null,
      now: 2,
    });
    await upload([key('b'), key('c')], [key('g')]);
    assert.deepEqual(await counts(), { [OTK]: 2 });
    assert.deepEqual(await fallback(), [OTK]);
    await h.storage.users.deactivate(BOB);
    assert.deepEqual(await counts(), {});
    assert.deepEqual(await fallback(), []);
  });

  it('keeps the counts of other devices apart, and answers copies', async () => {
    await createDevice(h.storage, BOB, 'LAPTOP');
    await upload([key('a')]);
    assert.deepEqual(await h.storage.e2eeKeys.oneTimeKeyCounts(BOB, 'LAPTOP'), {});
    // Read once from the database, then from memory: neither answer is the cached value itself.
    for (let i = 0; i < 2; i++) {
      const got = await counts();
      got[OTK] = 99;
      (await fallback()).push('mutated');
    }
    assert.deepEqual(await counts(), { [OTK]: 1 });
    assert.deepEqual(await fallback(), []);
  });

  it('answers from memory while nothing changed', async () => {
    await upload([key('a')]);
    assert.deepEqual(await counts(), { [OTK]: 1 });
    assert.deepEqual(await fallback(), []);
    h.raw.prepare('DELETE FROM e2e_one_time_keys').run();
    assert.deepEqual(await counts(), { [OTK]: 1 });
    await upload([]);
    assert.deepEqual(await counts(), {});
  });
});

describe('membership changes of device lists', () => {
  const h = useStorage();
  let eventNumber = 0;
  /** Appends an event (a member event when `membership` is given) and returns its position. */
  const append = (roomId: string, membership?: string, userId = BOB): number => {
    eventNumber += 1;
    const result = h.raw
      .prepare(
        `INSERT INTO events (event_id, room_id, type, state_key, sender, depth, state_group, json, membership)
         VALUES (?, ?, ?, ?, ?, 1, 0, '{}', ?)`,
      )
      .run(
        `$e${eventNumber}`,
        roomId,
        membership ? 'm.room.member' : 'm.room.message',
        membership ? userId : null,
        userId,
        membership ?? null,
      );
    return Number(result.lastInsertRowid);
  };
  const changes = async (after: number, upTo: number, rooms = ['!r', '!s']) =>
    (await h.storage.deviceLists.memberChanges(rooms, after, upTo)).map((c) => c.streamOrdering);
  const own = async (after: number, upTo: number, userId = BOB) =>
    (await h.storage.deviceLists.ownMemberChanges(userId, after, upTo)).map(
      (c) => c.streamOrdering,
    );

  it('sees a member event appended after ranges with none', async () => {
    const first = append('!r');
    const message = append('!r');
    assert.deepEqual(await changes(first, message), []);
    assert.deepEqual(await own(first, message), []);
    const m2 = append('!t', 'join', ALICE);
    assert.deepEqual(await changes(first, m2), [], 'a room not asked about');
    assert.deepEqual(await changes(first, m2, ['!t']), [m2]);
    assert.deepEqual(await changes(message, m2), []);
    const m3 = append('!r', 'leave');
    assert.deepEqual(await changes(message, m3), [m3]);
    assert.deepEqual(await own(message, m3), [m3]);
    assert.deepEqual(await own(message, m3, ALICE), [m2]);
    assert.deepEqual(await own(m2, m3, ALICE), []);
  });

  it('matches the database for every range, appending and querying in turn', async () => {
    const all = h.raw.prepare(
      `SELECT stream_ordering FROM events WHERE type = 'm.room.member'
       AND stream_ordering > ? AND stream_ordering <= ? ORDER BY stream_ordering`,
    );
    const plan = ['msg', 'join', 'msg', 'msg', 'leave', 'msg', 'msg', 'msg', 'join', 'msg'];
    for (const [i, kind] of plan.entries()) {
      append('!r', kind === 'msg' ? undefined : kind);
      const newest = i + 1;
      // Ranges reaching past the newest event too (a /keys/changes token from the future).
      for (let upTo = newest + 2; upTo >= 0; upTo--) {
        for (let after = 0; after <= upTo; after++) {
          const expected = all.pluck().all(after, upTo) as number[];
          assert.deepEqual(await changes(after, upTo), expected, `(${after}, ${upTo}]`);
          assert.deepEqual(await own(after, upTo), expected, `own (${after}, ${upTo}]`);
        }
      }
    }
  });

  it('does not take a range past the newest event as known', async () => {
    const m1 = append('!r', 'join');
    assert.deepEqual(await changes(m1, m1 + 10), []);
    const m2 = append('!r', 'leave');
    assert.deepEqual(await changes(m1, m1 + 10), [m2]);
  });

  it('learns backwards from a later first range', async () => {
    const m1 = append('!r', 'join');
    const message = append('!r');
    const m2 = append('!r');
    assert.deepEqual(await changes(message, m2), []);
    assert.deepEqual(await changes(0, m2), [m1]);
    assert.deepEqual(await changes(m1, m2), []);
  });

  it('answers "none" from memory within what it has read', async () => {
    const join = append('!r', 'join');
    append('!r');
    const last = append('!r');
    assert.deepEqual(await changes(join, last), []);
    // Impossible in the server (events are append-only): shows that no query is made.
    h.raw
      .prepare(
        `UPDATE events SET type = 'm.room.member', membership = 'leave' WHERE stream_ordering = ?`,
      )
      .run(last);
    assert.deepEqual(await changes(join, last), []);
    assert.deepEqual(await changes(join - 1, last), [join, last], 'read again: it was not "none"');
  });
});
