/**
 * Backfill for clients between two real Weft servers (a.test and b.test),
 * each with its own database: a user of B joins a room of A that already
 * holds 300 messages, and pages back through B's /messages, which fetches
 * the history from A (`/backfill`) as it goes, until the room's creation;
 * and matrix-js-sdk's scrollback does the same in another room.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventTimeline, type MatrixEvent } from 'matrix-js-sdk';
import { assertResponseMatchesSpec, CLIENT_V3, type Session } from '../support/fixture.js';
import {
  syncUntil,
  type FederatingSide,
  startFederatingPair,
  closeFederatingPair,
} from '../support/federation-pair.js';
import { releaseTimers, SdkClients, until } from '../support/sdk.js';

const MESSAGES = 300;

interface ClientEvent {
  event_id: string;
  type: string;
  content: { body?: string };
}

interface MessagesBody {
  start: string;
  end?: string;
  chunk: ClientEvent[];
}

async function messages(
  s: FederatingSide,
  who: Session,
  roomId: string,
  query: Record<string, string>,
): Promise<MessagesBody> {
  const search = new URLSearchParams(query).toString();
  const res = await s.api.get(
    `${CLIENT_V3}/rooms/${encodeURIComponent(roomId)}/messages?${search}`,
    { token: who.access_token },
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assertResponseMatchesSpec('get', `${CLIENT_V3}/rooms/{roomId}/messages`, 200, res.body);
  return res.body as unknown as MessagesBody;
}

const bodiesOf = (events: { type: string; content?: { body?: unknown } }[]) =>
  events.flatMap((e) =>
    e.type === 'm.room.message' && typeof e.content?.body === 'string' ? [e.content.body] : [],
  );

describe('federation backfill', { timeout: 300_000 }, () => {
  let a: FederatingSide;
  let b: FederatingSide;
  let alice: Session;
  let bob: Session;
  let roomId: string;
  const sent: string[] = [];

  before(async () => {
    [a, b] = await startFederatingPair();
    alice = await a.api.register('alice');
    bob = await b.api.register('bob');
    roomId = await a.helpers.createRoom(alice, { preset: 'public_chat', name: 'History' });
    for (let i = 1; i <= MESSAGES; i++) {
      const body = `message ${i}`;
      await a.helpers.send(alice, roomId, body);
      sent.push(body);
    }
    const join = await b.api.post(
      `${CLIENT_V3}/join/${encodeURIComponent(roomId)}?server_name=a.test`,
      {},
      { token: bob.access_token },
    );
    assert.equal(join.status, 200, JSON.stringify(join.body));
  });

  after(async () => {
    await closeFederatingPair([a, b]);
    releaseTimers();
  });

  it('holds none of the history before paging back (only the join and its state)', async () => {
    const body = await syncUntil(b, bob, (s) => s.rooms?.join?.[roomId] !== undefined);
    const timeline = body.rooms!.join![roomId]!.timeline?.events ?? [];
    assert.deepEqual(bodiesOf(timeline), []);
  });

  it('pages back to the room creation, every message once and in order', async () => {
    const synced = await b.helpers.sync(bob);
    const section = synced.rooms!.join![roomId]!;
    let from = (section.timeline as { prev_batch?: string }).prev_batch!;
    const newestFirst: ClientEvent[] = [];
    let pages = 0;
    for (;;) {
      const page = await messages(b, bob, roomId, { dir: 'b', from, limit: '40' });
      newestFirst.push(...page.chunk);
      pages++;
      assert.ok(pages < 40, 'paging never ended');
      if (page.end === undefined) break;
      assert.notEqual(page.end, from, 'a page must move on');
      from = page.end;
    }
    const oldestFirst = [...newestFirst].reverse();
    assert.equal(oldestFirst[0]?.type, 'm.room.create', 'paging ends at the creation');
    assert.deepEqual(bodiesOf(oldestFirst), sent);
    const ids = newestFirst.map((e) => e.event_id);
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
    // The same order as A holds: A's own history, read the same way, lists the same events.
    const onA = await messages(a, alice, roomId, { dir: 'b', limit: '1000' });
    const aIds = [...onA.chunk].reverse().map((e) => e.event_id);
    assert.deepEqual(
      oldestFirst.map((e) => e.event_id),
      aIds.filter((id) => ids.includes(id)),
    );
    // The rest of A's events are those of B's sync timeline (bob's join), which paging began before.
    const timelineIds = section.timeline!.events.flatMap((e) => e.event_id ?? []);
    assert.deepEqual(
      aIds.filter((id) => !ids.includes(id)),
      timelineIds.filter((id) => aIds.includes(id)),
    );
  });

  it('reads the backfilled history forwards from the start, and from a token of a page', async () => {
    const forwards = await messages(b, bob, roomId, { dir: 'f', limit: '1000' });
    assert.equal(forwards.chunk[0]?.type, 'm.room.create');
    assert.deepEqual(bodiesOf(forwards.chunk), sent);
    // A token in the middle of the backfilled history reads on from there.
    const back = await messages(b, bob, roomId, { dir: 'b', limit: '150' });
    assert.ok(back.end);
    const on = await messages(b, bob, roomId, { dir: 'b', from: back.end, limit: '10' });
    const before = bodiesOf([...back.chunk].reverse())[0];
    const index = sent.indexOf(before!);
    assert.deepEqual(bodiesOf([...on.chunk].reverse()), sent.slice(index - 10, index));
  });

  it('sends none of the history to /sync as new, and leaves the room current', async () => {
    const initial = await b.helpers.sync(bob);
    const since = initial.next_batch;
    // The newest events of an initial sync are still the newest: the join, not history.
    const timeline = initial.rooms!.join![roomId]!.timeline!.events;
    assert.ok(timeline.some((e) => e.type === 'm.room.member' && e.state_key === bob.user_id));
    await a.helpers.send(alice, roomId, 'live');
    const body = await syncUntil(
      b,
      bob,
      (s) => bodiesOf(s.rooms?.join?.[roomId]?.timeline?.events ?? []).includes('live'),
      { since, timeout: '1000' },
    );
    assert.deepEqual(bodiesOf(body.rooms!.join![roomId]!.timeline!.events), ['live']);
    // B's room still builds on its newest events: bob's message reaches A.
    await b.helpers.send(bob, roomId, 'reply');
    await syncUntil(a, alice, (s) =>
      bodiesOf(s.rooms?.join?.[roomId]?.timeline?.events ?? []).includes('reply'),
    );
    const state = await b.api.get(
      `${CLIENT_V3}/rooms/${encodeURIComponent(roomId)}/state/m.room.name/`,
      { token: bob.access_token },
    );
    assert.equal(state.body.name, 'History');
  });

  it('lets matrix-js-sdk scroll back through a remote room to its creation', async () => {
    // A room of A that B has never paged back in: the SDK's scrollback makes B backfill.
    const room2 = await a.helpers.createRoom(alice, { preset: 'public_chat', name: 'Scroll' });
    const history = Array.from({ length: 60 }, (_, i) => `scroll ${i + 1}`);
    for (const body of history) await a.helpers.send(alice, room2, body);
    const carol = await b.api.register('carol');
    const clients = new SdkClients(() => b.server.url);
    try {
      const client = await clients.started(carol, { initialSyncLimit: 5 });
      await client.joinRoom(room2, { viaServers: ['a.test'] });
      await until(() => client.getRoom(room2) !== null, 'the SDK has the room');
      const room = client.getRoom(room2)!;
      const timeline = room.getLiveTimeline();
      for (let round = 0; timeline.getPaginationToken(EventTimeline.BACKWARDS) !== null; round++) {
        assert.ok(round < 20, 'scrollback never reached the start');
        await client.scrollback(room, 20);
      }
      const events: MatrixEvent[] = timeline.getEvents();
      assert.equal(events[0]?.getType(), 'm.room.create');
      const bodies = events.flatMap((e) =>
        e.getType() === 'm.room.message' ? [e.getContent().body as string] : [],
      );
      assert.deepEqual(bodies, history);
    } finally {
      clients.stop();
    }
  });
});
