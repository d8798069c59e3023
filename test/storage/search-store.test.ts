/**
 * Contract tests on every backend of the search index (SearchStore), written
 * with the events (RoomStore.persistEvents): folding of case and accents,
 * prefixes, keys, rooms and their read limits, both orders and their pages,
 * the sender restriction, counts, redactions leaving the index in their
 * batch or later, and what survives a reopen.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SearchPageQuery, SearchQuery } from '../../src/storage/storage.js';
import { SEARCH_KEYS } from '../../src/events/search-fields.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';
import { TestRoom } from '../support/stored-events.js';

const BOB = '@bob:localhost';
const everywhere = (
  terms: string[],
  rooms: TestRoom[],
  extra: Partial<SearchPageQuery> = {},
): SearchPageQuery => ({
  terms,
  keys: SEARCH_KEYS,
  rooms: rooms.map((room) => ({ roomId: room.roomId, upTo: Number.MAX_SAFE_INTEGER })),
  order: 'recent',
  limit: 50,
  ...extra,
});
const message = (eventId: string, body: string, sender?: string) => ({
  eventId,
  content: { msgtype: 'm.text', body },
  ...(sender ? { sender } : {}),
});

for (const backend of storageBackends()) {
  describe(`search index on ${backend.name}`, () => {
    it('matches folded words, the last as a prefix, in the keys asked for', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage);
        await room.sendAll([
          message('$cafe', 'Le Café CRÈME'),
          message('$other', 'nothing to see'),
          { eventId: '$name', type: 'm.room.name', stateKey: '', content: { name: 'Café room' } },
          { eventId: '$topic', type: 'm.room.topic', stateKey: '', content: { topic: 'cafés' } },
          { eventId: '$enc', type: 'm.room.encrypted', content: { ciphertext: 'cafe' } },
        ]);
        const ids = async (query: SearchPageQuery) =>
          (await storage.search.search(query)).map((hit) => hit.eventId);
        assert.deepEqual(await ids(everywhere(['cafe'], [room])), ['$topic', '$name', '$cafe']);
        assert.deepEqual(await ids(everywhere(['cafe', 'cr'], [room])), ['$cafe']);
        assert.deepEqual(await ids(everywhere(['creme', 'caf'], [room])), ['$cafe']);
        assert.deepEqual(await ids(everywhere(['cafe'], [room], { keys: ['content.name'] })), [
          '$name',
        ]);
        assert.deepEqual(
          await ids(everywhere(['caf'], [room], { keys: ['content.body', 'content.topic'] })),
          ['$topic', '$cafe'],
        );
        assert.deepEqual(await ids(everywhere(['caf', 'creme'], [room])), [], 'prefix: last only');
        assert.equal(await storage.search.count(everywhere(['cafe'], [room])), 3);
        await room.send(message('$cyrillic', 'Большой ТЕКСТ'));
        assert.deepEqual(await ids(everywhere(['текст'], [room])), ['$cyrillic'], 'not only ASCII');
        assert.deepEqual(await ids(everywhere([], [room])), []);
        assert.deepEqual(await ids(everywhere(['cafe'], [])), []);
      }));

    it('keeps to the rooms given, each up to its read limit, and to one sender', () =>
      withStorage(backend, async (storage) => {
        const a = await TestRoom.create(storage, '!a:localhost');
        const b = await TestRoom.create(storage, '!b:localhost');
        const early = await a.send(message('$a1', 'otter one'));
        await a.send(message('$a2', 'otter two', BOB));
        await b.send(message('$b1', 'otter three'));
        const hits = await storage.search.search({
          ...everywhere(['otter'], []),
          rooms: [
            { roomId: a.roomId, upTo: early.streamOrdering },
            { roomId: '!unknown:localhost', upTo: Number.MAX_SAFE_INTEGER },
          ],
        });
        assert.deepEqual(
          hits.map((hit) => [hit.eventId, hit.roomId, hit.streamOrdering]),
          [['$a1', a.roomId, early.streamOrdering]],
        );
        const bobs = await storage.search.search(everywhere(['otter'], [a, b], { sender: BOB }));
        assert.deepEqual(
          bobs.map((hit) => hit.eventId),
          ['$a2'],
        );
        assert.equal(
          await storage.search.count({ ...everywhere(['otter'], [a, b]), sender: BOB }),
          1,
        );
        assert.equal(await storage.search.count(everywhere(['otter'], [a, b])), 3);
      }));

    it('pages recent by position and rank by offset, best first', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage);
        await room.sendAll([
          message('$weak', 'seal among a great many other words in this long message'),
          message('$strong', 'seal seal seal'),
          message('$mid', 'seal and friends'),
        ]);
        const recent = await storage.search.search(everywhere(['seal'], [room], { limit: 2 }));
        assert.deepEqual(
          recent.map((hit) => hit.eventId),
          ['$mid', '$strong'],
        );
        const older = await storage.search.search(
          everywhere(['seal'], [room], { before: recent[1]!.streamOrdering }),
        );
        assert.deepEqual(
          older.map((hit) => hit.eventId),
          ['$weak'],
        );
        const ranked = await storage.search.search(everywhere(['seal'], [room], { order: 'rank' }));
        assert.equal(ranked[0]!.eventId, '$strong');
        assert.equal(ranked.at(-1)!.eventId, '$weak');
        assert.ok(ranked[0]!.rank > ranked.at(-1)!.rank, 'higher is closer');
        const second = await storage.search.search(
          everywhere(['seal'], [room], { order: 'rank', offset: 1, limit: 1 }),
        );
        assert.deepEqual(
          second.map((hit) => hit.eventId),
          [ranked[1]!.eventId],
        );
      }));

    it('forgets a redacted event, in the same batch or later, and survives a reopen', () =>
      withStorage(backend, async (storage, reopen) => {
        const room = await TestRoom.create(storage);
        await room.sendAll([
          message('$same', 'heron same batch'),
          { eventId: '$r1', redacts: '$same' },
          message('$later', 'heron redacted later'),
          message('$kept', 'heron kept'),
        ]);
        await room.send({ eventId: '$r2', redacts: '$later' });
        const ids = async () =>
          (await room.storage.search.search(everywhere(['heron'], [room]))).map((h) => h.eventId);
        assert.deepEqual(await ids(), ['$kept']);
        room.storage = await reopen();
        assert.deepEqual(await ids(), ['$kept']);
        assert.equal(await room.storage.search.count(everywhere(['heron'], [room])), 1);
      }));

    it('forgets the events of a purged room', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage);
        await room.sendAll([message('$p1', 'puffin one'), message('$p2', 'puffin two')]);
        assert.equal(await storage.search.count(everywhere(['puffin'], [room])), 2);
        while ((await storage.adminJobs.purgeRoomBatch(room.roomId, 100)).more);
        assert.equal(await storage.search.count(everywhere(['puffin'], [room])), 0);
      }));

    it('treats query syntax as nothing but letters and digits', () =>
      withStorage(backend, async (storage) => {
        const room = await TestRoom.create(storage);
        await room.send(message('$x', 'quote " star * colon : and or near'));
        const query: SearchQuery = everywhere(['and', 'or', 'near', 'not'], [room]);
        assert.equal(await storage.search.count(query), 0, '"not" is not in the text');
        assert.equal(await storage.search.count(everywhere(['and', 'or', 'near'], [room])), 1);
      }));
  });
}
