/**
 * What another server can send: every Server-Server endpoint of a.test asked,
 * correctly signed by b.test (joined to a room of a.test, so requests get past
 * the membership checks), with malformed parameters and bodies. Each answer is
 * a Matrix error below 500, or a success; never a 500 or a dropped connection.
 * A raw body that is not JSON is 400 M_NOT_JSON. a.test serves its room as
 * before afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JsonValue } from '../../src/events/pdu.js';
import { CLIENT_V3 } from '../support/fixture.js';
import {
  closeFederatingPair,
  federationRequest,
  startFederatingPair,
  type FederatingSide,
} from '../support/federation-pair.js';

const V1 = '/_matrix/federation/v1';
const V2 = '/_matrix/federation/v2';
const KEYS = '/_matrix/key/v2';
const enc = encodeURIComponent;

type Method = 'GET' | 'PUT' | 'POST';
type Probe = [Method, string, JsonValue?];

/** Bodies of the wrong shape, for every endpoint that takes one. */
const BAD_BODIES: JsonValue[] = [
  {},
  [],
  'a string',
  42,
  null,
  { pdus: 'x', edus: 5, event: [], room_version: {}, limit: 'ten' },
  { pdus: [1, null, 'x', {}, { type: 5, room_id: [] }], edus: [1, { edu_type: 5, content: 'x' }] },
  { origin_server_ts: -1, depth: Number.MAX_SAFE_INTEGER, content: { body: { a: [[[[]]]] } } },
];

function probes(roomId: string, eventId: string, userB: string): Probe[] {
  const room = enc(roomId);
  const event = enc(eventId);
  const user = enc(userB);
  const gets: string[] = [
    `${V1}/event/${enc('$not-an-event')}`,
    `${V1}/event/${enc('%00')}`,
    `${V1}/state/${room}`,
    `${V1}/state/${room}?event_id=${enc('garbage')}`,
    `${V1}/state/${enc('!nope:a.test')}?event_id=${event}`,
    `${V1}/state_ids/${room}?event_id=`,
    `${V1}/event_auth/${room}/${enc('garbage')}`,
    `${V1}/backfill/${room}`,
    `${V1}/backfill/${room}?v=${event}&limit=abc`,
    `${V1}/backfill/${room}?v=${event}&limit=-5`,
    `${V1}/backfill/${room}?v=${event}&limit=999999999999999999999999`,
    `${V1}/make_join/${room}/${enc('not a user')}?ver=abc`,
    `${V1}/make_join/${room}/${enc('@someone:a.test')}?ver=11`,
    `${V1}/make_join/${enc('!nope:a.test')}/${user}?ver=11`,
    `${V1}/make_knock/${room}/${user}?ver=`,
    `${V1}/make_leave/${room}/${enc('@:')}`,
    `${V1}/publicRooms?limit=abc&since=garbage`,
    `${V1}/publicRooms?limit=-1&include_all_networks=maybe`,
    `${V1}/query/directory`,
    `${V1}/query/directory?room_alias=${enc('no alias')}`,
    `${V1}/query/profile?user_id=garbage&field=123`,
    `${V1}/query/profile`,
    `${V1}/timestamp_to_event/${room}?ts=abc&dir=x`,
    `${V1}/timestamp_to_event/${room}?ts=1e400&dir=f`,
    `${V1}/timestamp_to_event/${room}`,
    `${V1}/user/devices/${enc('garbage')}`,
    `${V1}/user/devices/${enc('@nobody:a.test')}`,
    `${V1}/hierarchy/${room}?suggested_only=maybe`,
    `${V1}/hierarchy/${enc('not a room')}`,
    `${KEYS}/server/${enc('garbage')}`,
    `${KEYS}/query/${enc('not a server!')}`,
  ];
  const withBodies: [Method, string][] = [
    ['PUT', `${V1}/send/bad-input`],
    ['PUT', `${V2}/send_join/${room}/${enc('$garbage')}`],
    ['PUT', `${V2}/send_leave/${room}/${enc('$garbage')}`],
    ['PUT', `${V1}/send_knock/${room}/${enc('$garbage')}`],
    ['PUT', `${V2}/invite/${room}/${enc('$garbage')}`],
    ['POST', `${V1}/get_missing_events/${room}`],
    ['POST', `${V1}/user/keys/query`],
    ['POST', `${V1}/user/keys/claim`],
    ['POST', `${V1}/publicRooms`],
    ['POST', `${KEYS}/query`],
  ];
  return [
    ...gets.map((uri): Probe => ['GET', uri]),
    ...withBodies.flatMap(([method, uri], i) =>
      BAD_BODIES.map((body, j): Probe => [method, uri.replace('bad-input', `bad-${i}-${j}`), body]),
    ),
  ];
}

describe('what another server sends that is malformed', { timeout: 180_000 }, () => {
  let a: FederatingSide;
  let b: FederatingSide;
  let roomId: string;
  let eventId: string;
  let bobId: string;

  before(async () => {
    [a, b] = await startFederatingPair();
    const alice = await a.api.register('alice');
    const bob = await b.api.register('bob');
    bobId = bob.user_id;
    roomId = await a.helpers.createRoom(alice, { preset: 'public_chat' });
    eventId = await a.helpers.send(alice, roomId, 'before');
    const join = await b.api.post(
      `${CLIENT_V3}/join/${enc(roomId)}?server_name=a.test`,
      {},
      { token: bob.access_token },
    );
    assert.equal(join.status, 200, JSON.stringify(join.body));
  });

  after(() => closeFederatingPair([a, b]));

  it('answers every endpoint with a Matrix error or a success, never a 500', async () => {
    for (const [method, uri, body] of probes(roomId, eventId, bobId)) {
      const what = `${method} ${uri} ${JSON.stringify(body)}`;
      const res = await federationRequest(b, a, method, uri, body);
      assert.ok(res.status < 500, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
      if (res.status >= 400) {
        const errcode = (res.body as { errcode?: unknown }).errcode;
        assert.match(String(errcode), /^M_[A-Z_]+$/, `${what}: ${JSON.stringify(res.body)}`);
      }
    }
  });

  it('refuses a body that is not JSON with 400 M_NOT_JSON', async () => {
    for (const [method, uri] of [
      ['PUT', `${V1}/send/not-json`],
      ['POST', `${V1}/user/keys/query`],
      ['PUT', `${V2}/invite/${enc(roomId)}/${enc('$x')}`],
    ] as const) {
      const res = await federationRequest(b, a, method, uri, undefined, '{oops');
      assert.equal(res.status, 400, `${method} ${uri}: ${JSON.stringify(res.body)}`);
      assert.equal((res.body as { errcode?: string }).errcode, 'M_NOT_JSON');
    }
  });

  it('refuses JSON that canonical JSON cannot hold (no signature can cover it)', async () => {
    const uri = `${V1}/send/out-of-range`;
    const raw = '{"origin":"b.test","origin_server_ts":1e300,"pdus":[],"edus":[]}';
    const res = await federationRequest(b, a, 'PUT', uri, undefined, raw);
    assert.ok([400, 401].includes(res.status), `${res.status} ${JSON.stringify(res.body)}`);
    assert.match(String((res.body as { errcode?: unknown }).errcode), /^M_[A-Z_]+$/);
  });

  it('still serves the room afterwards', async () => {
    const res = await federationRequest(b, a, 'GET', `${V1}/event/${enc(eventId)}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
});
