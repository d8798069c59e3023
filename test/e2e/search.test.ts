/**
 * `POST /_matrix/client/v3/search` (search.yaml): what the index finds (case,
 * accents, prefixes, keys), rank and recent order, next_batch pages, count,
 * context, groups, state; and what it must never return: rooms never joined,
 * events after a leave, `joined` history before the join, redacted events,
 * ignored users' messages. Bad bodies are 400; query syntax in the term is text.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';

const TEMPLATE = `${CLIENT_V3}/search`;

interface SearchResult {
  rank: number;
  result: { event_id: string; room_id: string; sender: string; content: { body?: string } };
  context?: {
    start: string;
    end: string;
    events_before: { event_id: string }[];
    events_after: { event_id: string }[];
    profile_info?: Record<string, { displayname?: string }>;
  };
}

interface RoomEventsResults {
  results: SearchResult[];
  count: number;
  highlights: string[];
  next_batch?: string;
  groups?: Record<
    string,
    Record<string, { results: string[]; order: number; next_batch?: string }>
  >;
  state?: Record<string, { type: string }[]>;
}

describe('POST /search', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob, carol, dave, eve] = suite.users('alice', 'bob', 'carol', 'dave', 'eve');
  const as = (session: Session) => ({ token: session.access_token });
  let roomA: string;
  let roomB: string;

  async function search(
    who: Session,
    criteria: Record<string, unknown>,
    nextBatch?: string,
  ): Promise<RoomEventsResults> {
    const query = nextBatch === undefined ? '' : `?next_batch=${encodeURIComponent(nextBatch)}`;
    const res = await api.post<{ search_categories: { room_events: RoomEventsResults } }>(
      `${TEMPLATE}${query}`,
      { search_categories: { room_events: criteria } },
      as(who),
    );
    return expectSpec(res, 'POST', TEMPLATE).search_categories.room_events;
  }
  const idsOf = (results: RoomEventsResults) => results.results.map((r) => r.result.event_id);

  before(async () => {
    roomA = await suite.createRoom(alice, {
      preset: 'private_chat',
      name: 'Zebrafish lounge',
      topic: 'Quokka matters',
    });
    roomB = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.join(bob, roomB);
  });

  it('finds words whatever their case and accents, the last word as a prefix', async () => {
    const id = await suite.send(alice, roomA, 'Le CAFÉ Crème est très bon');
    for (const term of ['café', 'cafe', 'CAFE', 'creme', 'crè', 'tres bon', 'cafe cr']) {
      const found = await search(alice, { search_term: term });
      assert.deepEqual(idsOf(found), [id], term);
      assert.equal(found.count, 1, term);
    }
    const highlighted = await search(alice, { search_term: 'cafe cr' });
    assert.deepEqual(highlighted.highlights, ['cafe', 'creme']);
    // Every word must occur: one missing finds nothing.
    assert.deepEqual(idsOf(await search(alice, { search_term: 'cafe absentword' })), []);
    // A prefix applies to the last word only.
    assert.deepEqual(idsOf(await search(alice, { search_term: 'caf bon' })), []);
  });

  it('searches the keys asked for: a room name and topic, message bodies', async () => {
    const byName = await search(alice, { search_term: 'zebrafish', keys: ['content.name'] });
    assert.equal(byName.results.length, 1);
    assert.equal(byName.results[0]!.result.room_id, roomA);
    const topic = await search(alice, { search_term: 'quokka' });
    assert.equal(topic.results.length, 1, 'every key by default');
    assert.deepEqual(
      idsOf(await search(alice, { search_term: 'zebrafish', keys: ['content.body'] })),
      [],
    );
  });

  it('orders by rank (closer matches first) or by recent (newest first)', async () => {
    const loose = await suite.send(
      alice,
      roomB,
      'walrus in a long sentence about many other things',
    );
    const close = await suite.send(alice, roomB, 'walrus walrus walrus');
    const newest = await suite.send(alice, roomB, 'one walrus and a few more words here');
    const ranked = await search(alice, { search_term: 'walrus' });
    assert.equal(ranked.results[0]!.result.event_id, close);
    const ranks = ranked.results.map((r) => r.rank);
    assert.deepEqual(
      ranks,
      [...ranks].sort((a, b) => b - a),
      'rank decreases',
    );
    const recent = await search(alice, { search_term: 'walrus', order_by: 'recent' });
    assert.deepEqual(idsOf(recent), [newest, close, loose]);
  });

  it('pages with next_batch, in both orders, and counts every match', async () => {
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) sent.push(await suite.send(alice, roomB, `pelican number ${i}`));
    for (const order_by of ['recent', 'rank']) {
      const criteria = { search_term: 'pelican', order_by, filter: { limit: 2 } };
      const seen: string[] = [];
      let next: string | undefined;
      let pages = 0;
      do {
        const page = await search(alice, criteria, next);
        assert.equal(page.count, 5);
        assert.ok(page.results.length <= 2);
        seen.push(...idsOf(page));
        next = page.next_batch;
        pages += 1;
      } while (next !== undefined && pages < 10);
      assert.deepEqual([...seen].sort(), [...sent].sort(), order_by);
      if (order_by === 'recent') assert.deepEqual(seen, [...sent].reverse());
    }
    // A token of one order is refused for the other.
    const first = await search(alice, {
      search_term: 'pelican',
      order_by: 'recent',
      filter: { limit: 2 },
    });
    const res = await api.post(
      `${TEMPLATE}?next_batch=${first.next_batch}`,
      { search_categories: { room_events: { search_term: 'pelican', order_by: 'rank' } } },
      as(alice),
    );
    expectError(res, 400, 'M_INVALID_PARAM');
  });

  it('gives context around a result, with the senders’ profiles', async () => {
    const beforeId = await suite.send(alice, roomB, 'just before');
    const hit = await suite.send(bob, roomB, 'the narwhal surfaces');
    const afterId = await suite.send(alice, roomB, 'just after');
    const found = await search(alice, {
      search_term: 'narwhal',
      event_context: { before_limit: 1, after_limit: 1, include_profile: true },
    });
    const [result] = found.results;
    assert.equal(result?.result.event_id, hit);
    assert.deepEqual(
      result.context?.events_before.map((e) => e.event_id),
      [beforeId],
    );
    assert.deepEqual(
      result.context?.events_after.map((e) => e.event_id),
      [afterId],
    );
    assert.ok(result.context?.profile_info?.[bob.user_id], 'the sender’s profile');
    assert.ok(result.context?.profile_info?.[alice.user_id], 'the context senders’ profiles');
    // The tokens page /messages from there.
    const messages = await api.get<{ chunk: { event_id: string }[] }>(
      `${CLIENT_V3}/rooms/${encodeURIComponent(roomB)}/messages?dir=b&limit=1&from=${encodeURIComponent(result.context!.start)}`,
      as(alice),
    );
    assert.equal(messages.status, 200);
    assert.notEqual(messages.body.chunk[0]?.event_id, beforeId, 'start is before events_before');
  });

  it('groups by room and by sender, and includes the rooms’ state', async () => {
    const inA = await suite.send(alice, roomA, 'ocelot here');
    const inB = await suite.send(bob, roomB, 'ocelot there');
    const found = await search(alice, {
      search_term: 'ocelot',
      order_by: 'recent',
      include_state: true,
      groupings: { group_by: [{ key: 'room_id' }, { key: 'sender' }] },
    });
    assert.deepEqual(found.groups?.room_id?.[roomA]?.results, [inA]);
    assert.deepEqual(found.groups?.room_id?.[roomB]?.results, [inB]);
    assert.deepEqual(found.groups?.sender?.[alice.user_id]?.results, [inA]);
    assert.deepEqual(found.groups?.sender?.[bob.user_id]?.results, [inB]);
    assert.equal(found.groups?.room_id?.[roomB]?.order, 1, 'the newest result’s room first');
    assert.ok(found.state?.[roomA]?.some((e) => e.type === 'm.room.create'));
    assert.ok(found.state?.[roomB]?.some((e) => e.type === 'm.room.create'));
  });

  it('pages through one group with its next_batch', async () => {
    for (let i = 0; i < 3; i++) await suite.send(alice, roomA, `tapir ${i}`);
    await suite.send(bob, roomB, 'tapir elsewhere');
    const first = await search(alice, {
      search_term: 'tapir',
      order_by: 'recent',
      filter: { limit: 1 },
      groupings: { group_by: [{ key: 'room_id' }] },
    });
    const [roomOfFirst] = Object.keys(first.groups!.room_id!);
    assert.equal(roomOfFirst, roomB);
    const groupNext = first.groups!.room_id![roomB]!.next_batch;
    assert.ok(groupNext);
    const rest = await search(alice, { search_term: 'tapir', order_by: 'recent' }, groupNext);
    assert.deepEqual(
      rest.results.map((r) => r.result.room_id),
      [],
      'roomB has no more tapirs',
    );
  });

  it('never returns rooms the user is not in, nor events after they left', async () => {
    const secret = await suite.send(alice, roomA, 'armadillo secret');
    assert.deepEqual(idsOf(await search(bob, { search_term: 'armadillo' })), []);
    assert.equal((await search(bob, { search_term: 'armadillo' })).count, 0);
    // carol reads roomB's shared history while in it, up to her leave after.
    const room = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.join(carol, room);
    const during = await suite.send(alice, room, 'capybara during');
    await suite.leave(carol, room);
    await suite.send(alice, room, 'capybara late');
    assert.deepEqual(idsOf(await search(carol, { search_term: 'capybara' })), [during]);
    // What /messages shows her of the room, no more.
    const messages = await api.get<{ chunk: { event_id: string; content: { body?: string } }[] }>(
      `${CLIENT_V3}/rooms/${encodeURIComponent(room)}/messages?dir=b&limit=50`,
      as(carol),
    );
    const readable = messages.body.chunk.filter((e) => e.content.body?.startsWith('capybara'));
    assert.deepEqual(
      readable.map((e) => e.event_id),
      [during],
    );
    assert.deepEqual(idsOf(await search(alice, { search_term: 'armadillo' })), [secret]);
  });

  it('hides what `joined` history visibility hides: events before the join', async () => {
    const room = await suite.createRoom(alice, {
      preset: 'public_chat',
      initial_state: [
        {
          type: 'm.room.history_visibility',
          state_key: '',
          content: { history_visibility: 'joined' },
        },
      ],
    });
    await suite.send(alice, room, 'meerkat before');
    await suite.join(dave, room);
    const after = await suite.send(alice, room, 'meerkat after');
    assert.deepEqual(idsOf(await search(dave, { search_term: 'meerkat' })), [after]);
    assert.equal((await search(alice, { search_term: 'meerkat' })).results.length, 2);
  });

  it('drops redacted events and the messages of users the searcher ignores', async () => {
    const gone = await suite.send(alice, roomB, 'lemur to be redacted');
    const kept = await suite.send(alice, roomB, 'lemur kept');
    const redaction = await api.put(
      `${CLIENT_V3}/rooms/${encodeURIComponent(roomB)}/redact/${encodeURIComponent(gone)}/r1`,
      {},
      as(alice),
    );
    assert.equal(redaction.status, 200);
    const found = await search(alice, { search_term: 'lemur' });
    assert.deepEqual(idsOf(found), [kept]);
    assert.equal(found.count, 1, 'the index itself forgot it');

    await suite.join(eve, roomB);
    const fromEve = await suite.send(eve, roomB, 'gecko from eve');
    assert.deepEqual(idsOf(await search(bob, { search_term: 'gecko' })), [fromEve]);
    const ignore = await api.put(
      `${CLIENT_V3}/user/${encodeURIComponent(bob.user_id)}/account_data/m.ignored_user_list`,
      { ignored_users: { [eve.user_id]: {} } },
      as(bob),
    );
    assert.equal(ignore.status, 200);
    assert.deepEqual(idsOf(await search(bob, { search_term: 'gecko' })), []);
  });

  it('applies the filter: rooms, not_rooms, senders, types', async () => {
    const inA = await suite.send(alice, roomA, 'okapi a');
    const inB = await suite.send(bob, roomB, 'okapi b');
    const only = (filter: Record<string, unknown>) =>
      search(alice, { search_term: 'okapi', filter });
    assert.deepEqual(idsOf(await only({ rooms: [roomA] })), [inA]);
    assert.deepEqual(idsOf(await only({ not_rooms: [roomA] })), [inB]);
    assert.deepEqual(idsOf(await only({ senders: [bob.user_id] })), [inB]);
    assert.deepEqual(idsOf(await only({ types: ['m.room.topic'] })), []);
  });

  it('reads query syntax in the term as plain words', async () => {
    const id = await suite.send(alice, roomB, 'iguana said "hello" OR (maybe) not');
    // Words of the text, whatever surrounds them: found.
    for (const term of ['"iguana', 'iguana*', 'iguana OR', '(maybe) "hello', "iguana' & !:*"]) {
      assert.deepEqual(idsOf(await search(alice, { search_term: term })), [id], term);
    }
    // Operators are words too (absent from the text), or nothing at all: no error, no match.
    for (const term of [
      'NEAR(iguana)',
      '{body}: iguana',
      'iguana -x',
      'iguana AND zzz',
      '***',
      '',
    ]) {
      assert.deepEqual(idsOf(await search(alice, { search_term: term })), [], term);
    }
    assert.deepEqual(idsOf(await search(alice, { search_term: '"' })), []);
  });

  it('refuses bad bodies and ignores unknown categories', async () => {
    const post = (body: unknown, query = '') => api.post(`${TEMPLATE}${query}`, body, as(alice));
    expectError(await post({}), 400, 'M_MISSING_PARAM');
    expectError(await post({ search_categories: { room_events: {} } }), 400, 'M_MISSING_PARAM');
    const criteria = (extra: Record<string, unknown>) => ({
      search_categories: { room_events: { search_term: 'x', ...extra } },
    });
    expectError(await post(criteria({ search_term: 5 })), 400, 'M_BAD_JSON');
    expectError(await post(criteria({ order_by: 'oldest' })), 400, 'M_BAD_JSON');
    expectError(await post(criteria({ keys: ['content.url'] })), 400, 'M_BAD_JSON');
    expectError(await post(criteria({ keys: 'content.body' })), 400, 'M_BAD_JSON');
    expectError(await post(criteria({ event_context: { before_limit: -1 } })), 400, 'M_BAD_JSON');
    expectError(
      await post(criteria({ groupings: { group_by: [{ key: 'type' }] } })),
      400,
      'M_BAD_JSON',
    );
    expectError(await post(criteria({ filter: { limit: 'x' } })), 400, 'M_BAD_JSON');
    expectError(await post(criteria({}), '?next_batch=nonsense'), 400, 'M_INVALID_PARAM');
    expectError(await post(criteria({}), '?next_batch=WyJyZWNlbnQiLC0xXQ'), 400, 'M_INVALID_PARAM');
    expectError(await post([1]), 400, 'M_BAD_JSON');
    const unknown = await post({ search_categories: { not_a_category: {} } });
    assert.deepEqual(expectSpec(unknown, 'POST', TEMPLATE), { search_categories: {} });
    const anonymous = await api.post(TEMPLATE, criteria({}));
    expectError(anonymous, 401, 'M_MISSING_TOKEN');
  });
});
