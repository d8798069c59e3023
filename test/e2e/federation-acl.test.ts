/**
 * Server ACLs between two real Weft servers (a.test and b.test): once a room
 * of A bans b.test by `m.room.server_acl`, B's PDUs and room EDUs sent to A
 * are dropped (the /send answer says why) and B's requests to A's
 * room-scoped federation endpoints get 403 M_FORBIDDEN. The test speaks for
 * B itself, signing with B's key, to see A's answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JsonObject } from '../../src/events/pdu.js';
import { CLIENT_V3, type Session, type SyncBody } from '../support/fixture.js';
import {
  federationRequest,
  syncUntil,
  type FederatingSide,
  startFederatingPair,
  closeFederatingPair,
} from '../support/federation-pair.js';

const bodiesIn = (body: SyncBody, roomId: string) =>
  (body.rooms?.join?.[roomId]?.timeline?.events ?? []).map((e) => e.content?.body);

const typistsIn = (body: SyncBody, roomId: string): unknown[] => {
  const ephemeral = (body.rooms?.join?.[roomId] as { ephemeral?: { events?: unknown[] } })
    ?.ephemeral?.events as { type: string; content: { user_ids?: unknown[] } }[] | undefined;
  return ephemeral?.find((e) => e.type === 'm.typing')?.content.user_ids ?? [];
};

const V1 = '/_matrix/federation/v1';
const V2 = '/_matrix/federation/v2';
const enc = encodeURIComponent;

describe('federation server ACLs', { timeout: 120_000 }, () => {
  let a: FederatingSide;
  let b: FederatingSide;
  let alice: Session;
  let bob: Session;
  let roomId: string;
  /** An event of the room A holds: what B asks for. */
  let knownEventId: string;
  let txn = 0;

  before(async () => {
    [a, b] = await startFederatingPair();
    alice = await a.api.register('alice');
    bob = await b.api.register('bob');
    roomId = await a.helpers.createRoom(alice, { preset: 'public_chat' });
    const join = await b.api.post(
      `${CLIENT_V3}/join/${enc(roomId)}?server_name=a.test`,
      {},
      { token: bob.access_token },
    );
    assert.equal(join.status, 200, JSON.stringify(join.body));
    knownEventId = await a.helpers.send(alice, roomId, 'known');
  });

  after(async () => {
    await closeFederatingPair([a, b]);
  });

  /** Every room-scoped request B may make of A, with a body where it needs one. */
  const roomRequests = (): [string, 'GET' | 'PUT' | 'POST', string, JsonObject?][] => [
    ['event', 'GET', `${V1}/event/${enc(knownEventId)}`],
    ['state', 'GET', `${V1}/state/${enc(roomId)}?event_id=${enc(knownEventId)}`],
    ['state_ids', 'GET', `${V1}/state_ids/${enc(roomId)}?event_id=${enc(knownEventId)}`],
    ['event_auth', 'GET', `${V1}/event_auth/${enc(roomId)}/${enc(knownEventId)}`],
    ['backfill', 'GET', `${V1}/backfill/${enc(roomId)}?v=${enc(knownEventId)}&limit=10`],
    [
      'get_missing_events',
      'POST',
      `${V1}/get_missing_events/${enc(roomId)}`,
      { earliest_events: [], latest_events: [knownEventId], limit: 10 },
    ],
    ['make_join', 'GET', `${V1}/make_join/${enc(roomId)}/${enc('@carol:b.test')}?ver=10&ver=11`],
    ['make_leave', 'GET', `${V1}/make_leave/${enc(roomId)}/${enc(bob.user_id)}`],
    ['make_knock', 'GET', `${V1}/make_knock/${enc(roomId)}/${enc('@carol:b.test')}?ver=10`],
    ['send_join', 'PUT', `${V2}/send_join/${enc(roomId)}/${enc('$x')}`, {}],
    ['send_leave', 'PUT', `${V2}/send_leave/${enc(roomId)}/${enc('$x')}`, {}],
    ['send_knock', 'PUT', `${V1}/send_knock/${enc(roomId)}/${enc('$x')}`, {}],
    ['invite', 'PUT', `${V2}/invite/${enc(roomId)}/${enc('$x')}`, {}],
  ];

  /** A transaction of B's to A: the PDUs, and bob typing in the room. */
  const transactionFromB = (pdus: JsonObject[]) =>
    federationRequest(b, a, 'PUT', `${V1}/send/acl${++txn}`, {
      origin: 'b.test',
      origin_server_ts: Date.now(),
      pdus,
      edus: [
        { edu_type: 'm.typing', content: { room_id: roomId, user_id: bob.user_id, typing: true } },
      ],
    });

  it('serves B before the room has an ACL', async () => {
    const event = await federationRequest(b, a, 'GET', `${V1}/event/${enc(knownEventId)}`);
    assert.equal(event.status, 200, JSON.stringify(event.body));
    const backfill = await federationRequest(b, a, 'GET', roomRequests()[4]![2]);
    assert.equal(backfill.status, 200, JSON.stringify(backfill.body));
    await b.helpers.send(bob, roomId, 'before the ACL');
    await syncUntil(a, alice, (s) => bodiesIn(s, roomId).includes('before the ACL'));
  });

  it('drops B’s messages and typing once the room denies b.test, and says why', async () => {
    const acl = await a.api.put(
      `${CLIENT_V3}/rooms/${enc(roomId)}/state/m.room.server_acl/`,
      { allow: ['*'], deny: ['B.TEST'], allow_ip_literals: false },
      { token: alice.access_token },
    );
    assert.equal(acl.status, 200, JSON.stringify(acl.body));
    // B hears of the ACL (it is a state event of the room) and still sends: A refuses.
    const sentId = await b.helpers.send(bob, roomId, 'after the ACL');
    // The PDU as B holds it, asked for as A (A is not denied), then pushed to A as B.
    const held = await federationRequest(a, b, 'GET', `${V1}/event/${enc(sentId)}`);
    assert.equal(held.status, 200, JSON.stringify(held.body));
    const pdu = (held.body as { pdus: JsonObject[] }).pdus[0]!;
    const send = await transactionFromB([pdu]);
    assert.equal(send.status, 200, JSON.stringify(send.body));
    const results = (send.body as { pdus: Record<string, { error?: string }> }).pdus;
    assert.match(results[sentId]?.error ?? '', /server ACL/);
    // Not stored on A, and the typing EDU left no trace.
    const onA = await a.api.get(`${CLIENT_V3}/rooms/${enc(roomId)}/event/${enc(sentId)}`, {
      token: alice.access_token,
    });
    assert.equal(onA.status, 404, JSON.stringify(onA.body));
    const now = await a.helpers.sync(alice);
    assert.ok(!typistsIn(now, roomId).includes(bob.user_id));
    // A's own messages still flow.
    await a.helpers.send(alice, roomId, 'still here');
    await syncUntil(a, alice, (s) => bodiesIn(s, roomId).includes('still here'));
  });

  it('refuses every room-scoped request of B with 403 M_FORBIDDEN', async () => {
    for (const [name, method, uri, body] of roomRequests()) {
      const res = await federationRequest(b, a, method, uri, body);
      assert.equal(res.status, 403, `${name}: ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal((res.body as { errcode?: string }).errcode, 'M_FORBIDDEN', name);
      // Refused for the ACL, not for anything else about the request.
      assert.match((res.body as { error?: string }).error ?? '', /server ACL/, name);
    }
  });

  it('serves B again once the ACL lets it in', async () => {
    const acl = await a.api.put(
      `${CLIENT_V3}/rooms/${enc(roomId)}/state/m.room.server_acl/`,
      { allow: ['*'], deny: [] },
      { token: alice.access_token },
    );
    assert.equal(acl.status, 200, JSON.stringify(acl.body));
    const event = await federationRequest(b, a, 'GET', `${V1}/event/${enc(knownEventId)}`);
    assert.equal(event.status, 200, JSON.stringify(event.body));
    const send = await transactionFromB([]);
    assert.equal(send.status, 200, JSON.stringify(send.body));
    await syncUntil(a, alice, (s) => typistsIn(s, roomId).includes(bob.user_id));
  });
});
