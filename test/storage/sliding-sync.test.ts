/**
 * Contract tests of the sliding sync store on every backend: a pos is found
 * only for the connection it was issued to, a new pos keeps its base and
 * forgets the rest, positions expire, a user's connections are bounded, all
 * survive a reopen; the per-room latest positions (of any type or some), and
 * the rooms of a user's read receipts in a range of the receipts stream.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pdu } from '../../src/events/pdu.js';
import type { NewRoomEvent, Storage } from '../../src/storage/storage.js';
import { minimalPdu } from '../support/pdus.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const ALICE = '@alice:localhost';
const key = (connId: string, deviceId = 'D1', userId = ALICE) => ({ userId, deviceId, connId });
const limits = { expireBefore: 0, maxConnectionsPerUser: 10 };

let depth = 1;
let counter = 0;
function event(roomId: string, type: string, stateKey?: string): NewRoomEvent {
  const pdu: Pdu = {
    ...minimalPdu({ type, depth: depth++, roomId, sender: ALICE, content: {}, stateKey }),
    prev_events: [],
  };
  return { eventId: `$e${++counter}`, roomId, pdu };
}

async function save(storage: Storage, connId: string, pos: string, basePos?: string, now = 1) {
  await storage.slidingSync.savePosition(
    { key: key(connId), pos, basePos, stateJson: `{"pos":"${pos}"}`, now },
    limits,
  );
}

for (const backend of storageBackends()) {
  describe(`sliding sync store on ${backend.name}`, () => {
    it('finds a pos only for its own connection, and after a reopen', () =>
      withStorage(backend, async (storage, reopen) => {
        await save(storage, 'room-list', 'p1');
        const store = storage.slidingSync;
        assert.equal(await store.loadPosition(key('room-list'), 'p1'), '{"pos":"p1"}');
        assert.equal(await store.loadPosition(key('encryption'), 'p1'), undefined);
        assert.equal(await store.loadPosition(key('room-list', 'D2'), 'p1'), undefined);
        assert.equal(
          await store.loadPosition(key('room-list', 'D1', '@bob:localhost'), 'p1'),
          undefined,
        );
        assert.equal(await store.loadPosition(key('room-list'), 'nope'), undefined);
        const reopened = await reopen();
        assert.equal(
          await reopened.slidingSync.loadPosition(key('room-list'), 'p1'),
          '{"pos":"p1"}',
        );
      }));

    it('keeps the new pos and its base, forgets the connection’s others', () =>
      withStorage(backend, async (storage) => {
        const store = storage.slidingSync;
        await save(storage, 'c', 'p1');
        await save(storage, 'c', 'p2', 'p1');
        await save(storage, 'other', 'o1');
        assert.ok(await store.loadPosition(key('c'), 'p1'));
        assert.ok(await store.loadPosition(key('c'), 'p2'));
        // The client resent p1: p3 is built on it, p2 goes.
        await save(storage, 'c', 'p3', 'p1');
        assert.ok(await store.loadPosition(key('c'), 'p1'));
        assert.equal(await store.loadPosition(key('c'), 'p2'), undefined);
        assert.ok(await store.loadPosition(key('c'), 'p3'));
        await save(storage, 'c', 'p4', 'p3');
        assert.equal(await store.loadPosition(key('c'), 'p1'), undefined);
        assert.ok(await store.loadPosition(key('other'), 'o1'), 'other connections untouched');
      }));

    it('expires old positions and bounds a user’s connections', () =>
      withStorage(backend, async (storage) => {
        const store = storage.slidingSync;
        await save(storage, 'old', 'p-old', undefined, 100);
        await store.savePosition(
          { key: key('new'), pos: 'p-new', stateJson: '{}', now: 1_000 },
          { expireBefore: 500, maxConnectionsPerUser: 10 },
        );
        assert.equal(await store.loadPosition(key('old'), 'p-old'), undefined);
        for (let i = 0; i < 4; i++) {
          await store.savePosition(
            { key: key(`c${i}`), pos: `q${i}`, stateJson: '{}', now: 2_000 + i },
            { expireBefore: 0, maxConnectionsPerUser: 2 },
          );
        }
        assert.equal(await store.loadPosition(key('c0'), 'q0'), undefined);
        assert.equal(await store.loadPosition(key('c1'), 'q1'), undefined);
        assert.ok(await store.loadPosition(key('c2'), 'q2'));
        assert.ok(await store.loadPosition(key('c3'), 'q3'));
      }));

    it('answers the rooms of a user’s own read receipts in a range of the stream', () =>
      withStorage(backend, async (storage) => {
        const put = (roomId: string, userId: string, receiptType: string, at: number) =>
          storage.receipts.put({
            roomId,
            receiptType,
            userId,
            eventId: `$r${at}`,
            eventPosition: at,
            ts: 1,
          });
        const before = await put('!a:localhost', ALICE, 'm.read', 1);
        const first = await put('!b:localhost', ALICE, 'm.read.private', 2);
        await put('!c:localhost', '@bob:localhost', 'm.read', 3);
        const last = await put('!d:localhost', ALICE, 'm.read', 4);
        const store = storage.slidingSync;
        assert.deepEqual((await store.readReceiptRooms(ALICE, before!, last!)).sort(), [
          '!b:localhost',
          '!d:localhost',
        ]);
        assert.deepEqual(await store.readReceiptRooms(ALICE, before!, first!), ['!b:localhost']);
        assert.deepEqual(await store.readReceiptRooms(ALICE, last!, last! + 10), []);
      }));

    it('answers each room’s latest position, of any type or of some', () =>
      withStorage(backend, async (storage) => {
        const roomA = '!a:localhost';
        const roomB = '!b:localhost';
        for (const roomId of [roomA, roomB]) {
          await storage.rooms.createRoom({ roomId, version: '11', creator: ALICE }, 1_000);
        }
        const create = await storage.rooms.persistEvent(event(roomA, 'm.room.create', ''));
        const message = await storage.rooms.persistEvent(event(roomA, 'm.room.message'));
        const topic = await storage.rooms.persistEvent(event(roomA, 'm.room.topic', ''));
        const inB = await storage.rooms.persistEvent(event(roomB, 'm.room.create', ''));
        const store = storage.slidingSync;
        const all = await store.latestPositions([roomA, roomB, '!none:localhost'], 1e9);
        assert.deepEqual(
          [...all].sort(),
          [
            [roomA, topic.streamOrdering],
            [roomB, inB.streamOrdering],
          ].sort(),
        );
        const bounded = await store.latestPositions([roomA], message.streamOrdering);
        assert.equal(bounded.get(roomA), message.streamOrdering);
        const bumps = await store.latestPositions([roomA], 1e9, [
          'm.room.message',
          'm.room.create',
        ]);
        assert.equal(bumps.get(roomA), message.streamOrdering);
        const creates = await store.latestPositions([roomA], 1e9, ['m.room.create']);
        assert.equal(creates.get(roomA), create.streamOrdering);
      }));
  });
}
