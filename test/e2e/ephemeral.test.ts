/**
 * Typing notifications and receipts over HTTP, with the sync side: another
 * member sees typing start and end by the server's timeout (waking its
 * long-poll), private receipts stay private, m.fully_read is account data.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, ephemeralOf, serverSuite, type Session } from '../support/fixture.js';
import { assertResponseMatchesSpec, assertSpecError } from '../support/spec-schemas.js';

const TYPING = '/_matrix/client/v3/rooms/{roomId}/typing/{userId}';
const RECEIPT = '/_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}';
const MARKERS = '/_matrix/client/v3/rooms/{roomId}/read_markers';

describe('typing and receipts', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob, eve] = suite.users('alice', 'bob', 'eve');
  let roomId: string;
  before(async () => {
    roomId = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.join(bob, roomId);
  });

  const typing = (who: Session, body: unknown, user = who.user_id) =>
    api.put(`${CLIENT_V3}/rooms/${roomId}/typing/${encodeURIComponent(user)}`, body, {
      token: who.access_token,
    });
  const receipt = (who: Session, type: string, eventId: string, body: unknown = {}) =>
    api.post(`${CLIENT_V3}/rooms/${roomId}/receipt/${type}/${encodeURIComponent(eventId)}`, body, {
      token: who.access_token,
    });

  it('another member sees the typing notification, then sees it end by timeout', async () => {
    const start = await suite.sync(bob);
    const res = await typing(alice, { typing: true, timeout: 400 });
    assert.equal(res.status, 200);
    assertResponseMatchesSpec('put', TYPING, 200, res.body);
    const seen = await suite.sync(bob, { since: start.next_batch, timeout: '5000' });
    assert.deepEqual(ephemeralOf(seen, roomId, 'm.typing'), [
      { type: 'm.typing', content: { user_ids: [alice.user_id] } },
    ]);
    // Nothing else happens: only the server's timeout can wake this long-poll.
    const began = Date.now();
    const ended = await suite.sync(bob, { since: seen.next_batch, timeout: '10000' });
    assert.ok(Date.now() - began < 5_000, 'woken by the timeout, not the long-poll timeout');
    assert.deepEqual(ephemeralOf(ended, roomId, 'm.typing'), [
      { type: 'm.typing', content: { user_ids: [] } },
    ]);
  });

  it('stops typing on typing: false; refuses others and non-members', async () => {
    await typing(alice, { typing: true, timeout: 30_000 });
    const start = await suite.sync(bob);
    assert.deepEqual(ephemeralOf(start, roomId, 'm.typing')[0]?.content, {
      user_ids: [alice.user_id],
    });
    await typing(alice, { typing: false });
    const next = await suite.sync(bob, { since: start.next_batch, timeout: '5000' });
    assert.deepEqual(ephemeralOf(next, roomId, 'm.typing')[0]?.content, { user_ids: [] });
    const forOther = await typing(bob, { typing: true }, alice.user_id);
    assert.equal(forOther.status, 403);
    assertSpecError(forOther.body, 'M_FORBIDDEN');
    const outsider = await typing(eve, { typing: true });
    assert.equal(outsider.status, 403);
    const missing = await typing(alice, { timeout: 5 });
    assert.equal(missing.status, 400);
    assertSpecError(missing.body, 'M_MISSING_PARAM');
  });

  it('m.read reaches members on the right event; m.read.private only its owner', async () => {
    const first = await suite.send(alice, roomId, 'one');
    const second = await suite.send(alice, roomId, 'two');
    const bobStart = await suite.sync(bob);
    const aliceStart = await suite.sync(alice);
    const res = await receipt(bob, 'm.read', first);
    assert.equal(res.status, 200);
    assertResponseMatchesSpec('post', RECEIPT, 200, res.body);
    const atAlice = await suite.sync(alice, { since: aliceStart.next_batch, timeout: '5000' });
    const [event] = ephemeralOf(atAlice, roomId, 'm.receipt');
    const read = (event?.content[first] as Record<string, Record<string, { ts: number }>>)?.[
      'm.read'
    ];
    assert.ok(
      read?.[bob.user_id]?.ts,
      `bob's receipt on the first event: ${JSON.stringify(event)}`,
    );

    const mid = await suite.sync(alice, { since: atAlice.next_batch });
    const priv = await receipt(bob, 'm.read.private', second);
    assert.equal(priv.status, 200);
    const atBob = await suite.sync(bob, { since: bobStart.next_batch, timeout: '5000' });
    const own = ephemeralOf(atBob, roomId, 'm.receipt').map((e) => e.content[second]);
    assert.ok(
      own.some((c) => (c as Record<string, unknown> | undefined)?.['m.read.private']),
      'the owner sees their private receipt',
    );
    const notAlice = await suite.sync(alice, { since: mid.next_batch });
    assert.deepEqual(ephemeralOf(notAlice, roomId, 'm.receipt'), [], 'invisible to others');
    const initial = await suite.sync(alice);
    const all = JSON.stringify(ephemeralOf(initial, roomId, 'm.receipt'));
    assert.ok(!all.includes('m.read.private'), 'not in an initial sync either');
    assert.ok(all.includes(bob.user_id), 'the public one is');
  });

  it('ignores a receipt older than the stored one of the same type and thread', async () => {
    const older = await suite.send(alice, roomId, 'older');
    const newer = await suite.send(alice, roomId, 'newer');
    await receipt(bob, 'm.read', newer);
    const start = await suite.sync(alice);
    const res = await receipt(bob, 'm.read', older);
    assert.equal(res.status, 200);
    const next = await suite.sync(alice, { since: start.next_batch });
    assert.deepEqual(ephemeralOf(next, roomId, 'm.receipt'), [], 'no change');
    // Another thread is another receipt.
    const threaded = await receipt(bob, 'm.read', older, { thread_id: 'main' });
    assert.equal(threaded.status, 200);
    const after = await suite.sync(alice, { since: next.next_batch });
    const content = ephemeralOf(after, roomId, 'm.receipt')[0]?.content as Record<
      string,
      Record<string, Record<string, Record<string, unknown>>>
    >;
    assert.equal(content?.[older]?.['m.read']?.[bob.user_id]?.thread_id, 'main');
  });

  it('validates receipt types and thread_id', async () => {
    const eventId = await suite.send(alice, roomId, 'x');
    for (const [type, body] of [
      ['m.read', { thread_id: '' }],
      ['m.read', { thread_id: 5 }],
      ['m.read', { thread_id: 'not-an-event' }],
      ['m.fully_read', { thread_id: 'main' }],
      ['m.unknown', {}],
    ] as const) {
      const res = await receipt(bob, type, eventId, body);
      assert.equal(res.status, 400, `${type} ${JSON.stringify(body)}`);
      assertSpecError(res.body, 'M_INVALID_PARAM');
    }
    const unknownEvent = await receipt(bob, 'm.read', '$nope');
    assert.equal(unknownEvent.status, 404);
    const outsider = await receipt(eve, 'm.read', eventId);
    assert.equal(outsider.status, 403);
  });

  it('m.fully_read and /read_markers update the m.fully_read account data, never a receipt', async () => {
    const eventId = await suite.send(alice, roomId, 'read me');
    const start = await suite.sync(bob);
    const aliceStart = await suite.sync(alice);
    const res = await receipt(bob, 'm.fully_read', eventId);
    assert.equal(res.status, 200);
    const next = await suite.sync(bob, { since: start.next_batch, timeout: '5000' });
    assert.deepEqual(next.rooms.join[roomId]?.account_data.events, [
      { type: 'm.fully_read', content: { event_id: eventId } },
    ]);
    assert.deepEqual(ephemeralOf(next, roomId, 'm.receipt'), []);
    const later = await suite.send(alice, roomId, 'later');
    const markers = await api.post(
      `${CLIENT_V3}/rooms/${roomId}/read_markers`,
      { 'm.fully_read': later, 'm.read': later },
      { token: bob.access_token },
    );
    assert.equal(markers.status, 200);
    assertResponseMatchesSpec('post', MARKERS, 200, markers.body);
    const stored = await api.get(
      `${CLIENT_V3}/user/${encodeURIComponent(bob.user_id)}/rooms/${encodeURIComponent(roomId)}/account_data/m.fully_read`,
      { token: bob.access_token },
    );
    assert.deepEqual(stored.body, { event_id: later });
    const atAlice = await suite.sync(alice, { since: aliceStart.next_batch });
    const text = JSON.stringify(ephemeralOf(atAlice, roomId, 'm.receipt'));
    assert.ok(text.includes(later) && !text.includes('m.fully_read'), text);
  });
});
