import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Pdu } from '../../src/events/pdu.js';
import { PersistQueue } from '../../src/rooms/persist-queue.js';
import type { Storage } from '../../src/storage/storage.js';
import { minimalPdu } from '../support/pdus.js';
import { openSqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';

function pdu(type: string, depth: number, stateKey?: string): Pdu {
  return minimalPdu(stateKey === undefined ? { type, depth } : { type, depth, stateKey });
}

for (const writerThread of [false, true]) {
  describe(`persist queue (group commit)${writerThread ? ', writer thread' : ''}`, () => {
    let dir: string;
    let storage: Storage;
    const failures: string[][] = [];
    let queue: PersistQueue;

    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'weft-queue-'));
      storage = openSqliteStorage(path.join(dir, 'weft.db'), { writerThread });
      queue = new PersistQueue(storage, (rooms) => failures.push([...rooms].sort()));
      await storage.rooms.createRoom(
        { roomId: '!r:localhost', version: '11', creator: '@a:localhost' },
        0,
      );
      await storage.rooms.persistEvent({
        eventId: '$create',
        roomId: '!r:localhost',
        pdu: pdu('m.room.create', 1, ''),
      });
    });
    after(async () => {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('stores events handed in together, in order, and answers each after the commit', async () => {
      const records = await Promise.all(
        [2, 3, 4].map((depth) =>
          queue.enqueue({
            eventId: `$m${depth}`,
            roomId: '!r:localhost',
            pdu: pdu('m.room.message', depth),
          }),
        ),
      );
      assert.deepEqual(
        records.map((r) => r.eventId),
        ['$m2', '$m3', '$m4'],
      );
      assert.ok(records[0]!.streamOrdering < records[1]!.streamOrdering);
      for (const record of records) assert.ok(await storage.rooms.getEvent(record.eventId));
    });

    it('hands over the first 8 events of a turn at once, and the rest once the turn ends', async () => {
      const committed = Array.from({ length: 10 }, (_, i) =>
        queue.enqueue({
          eventId: `$h${i + 1}`,
          roomId: '!r:localhost',
          pdu: pdu('m.room.message', 20 + i),
        }),
      );
      if (!writerThread) {
        // Stored on this thread as soon as handed over: the first batch already is, still in this turn.
        assert.ok(await storage.rooms.getEvent('$h8'));
        assert.equal(await storage.rooms.getEvent('$h9'), undefined);
      }
      const records = await Promise.all(committed);
      assert.deepEqual(
        records.map((r) => r.eventId),
        Array.from({ length: 10 }, (_, i) => `$h${i + 1}`),
      );
      for (let i = 1; i < records.length; i++) {
        assert.ok(records[i - 1]!.streamOrdering < records[i]!.streamOrdering);
      }
    });

    it('fails a whole batch together, and later events of its rooms built before the failure', async () => {
      const good = queue.enqueue({
        eventId: '$g1',
        roomId: '!r:localhost',
        pdu: pdu('m.room.message', 5),
      });
      // An event for a room that does not exist makes the transaction fail.
      const bad = queue.enqueue({
        eventId: '$b1',
        roomId: '!nope:localhost',
        pdu: pdu('m.room.message', 1),
      });
      await assert.rejects(good);
      await assert.rejects(bad);
      assert.deepEqual(failures, [['!nope:localhost', '!r:localhost']]);
      assert.equal(
        await storage.rooms.getEvent('$g1'),
        undefined,
        'nothing of the batch was stored',
      );

      // Enqueued after the failure: a new generation, stored normally.
      const next = await queue.enqueue({
        eventId: '$g2',
        roomId: '!r:localhost',
        pdu: pdu('m.room.message', 5),
      });
      assert.equal(next.eventId, '$g2');
    });

    it('refuses writes sent before a failure was known, and takes the next ones', async () => {
      const message = (eventId: string, roomId = '!r:localhost') => ({
        eventId,
        roomId,
        pdu: pdu('m.room.message', 9),
      });
      // Both are handed to storage before the first one's failure comes back.
      const failed = storage.rooms.persistEvents([message('$x1', '!nope:localhost')]);
      const sentMeanwhile = storage.rooms.persistEvents([message('$x2')]);
      await assert.rejects(failed);
      if (writerThread) {
        // Refused, or stored in the same (failed) transaction: never stored on top of it.
        await assert.rejects(sentMeanwhile);
        assert.equal(await storage.rooms.getEvent('$x2'), undefined);
      } else {
        await sentMeanwhile;
      }
      const [after] = await storage.rooms.persistEvents([message('$x3')]);
      assert.equal(after!.eventId, '$x3');
      assert.ok(await storage.rooms.getEvent('$x3'));
    });
  });
}
