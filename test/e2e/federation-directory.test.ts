/**
 * The Server-Server directory queries between two real Wefts (a.test holds
 * the rooms, b.test asks): `/publicRooms` (GET and POST), `/hierarchy` and
 * `/timestamp_to_event`, served (checked against the spec's schemas, with
 * their refusals: bad input, unknown rooms, servers not in the room, history
 * B may not see, a server ACL) and used by B's client API (`/publicRooms?server=`,
 * a space or children B does not hold, `timestamp_to_event` before B's join).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JsonObject } from '../../src/events/pdu.js';
import { CLIENT_V3, type Session } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';
import {
  freePort,
  type FederatingSide,
  startFederatingPair,
  closeFederatingPair,
} from '../support/federation-pair.js';

const FED_V1 = '/_matrix/federation/v1';
const CLIENT_V1 = '/_matrix/client/v1';
const PUBLIC_ROOMS = `${CLIENT_V3}/publicRooms`;
const HIERARCHY = `${CLIENT_V1}/rooms/{roomId}/hierarchy`;
const TIMESTAMP = `${CLIENT_V1}/rooms/{roomId}/timestamp_to_event`;
const enc = encodeURIComponent;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Chunk {
  room_id: string;
  name?: string;
  children_state?: { state_key: string }[];
}
interface Directory {
  chunk: Chunk[];
  next_batch?: string;
  prev_batch?: string;
  total_room_count_estimate?: number;
}
interface ServedHierarchy {
  room: Chunk & { children_state: { state_key: string }[] };
  children: Chunk[];
  inaccessible_children: string[];
}

describe('federation directory queries', { timeout: 180_000 }, () => {
  let a: FederatingSide;
  let b: FederatingSide;
  let alice: Session;
  let bob: Session;
  const room: Record<string, string> = {};
  /** Messages of the `history` room, sent before bob joined (m1–m3) and after (m4). */
  const sent: { eventId: string; ts: number }[] = [];

  /** b.test's signed request to a.test. */
  const askA = (method: 'GET' | 'POST', path: string, body?: JsonObject) =>
    b.server.weft.federation.request({
      destination: 'a.test',
      method,
      path,
      ...(body ? { body } : {}),
    });
  const asBob = { token: '' };
  const create = async (name: string, body: JsonObject) => {
    room[name] = await a.helpers.createRoom(alice, { name, ...body });
  };
  const addChild = (space: string, child: string, content: JsonObject) =>
    a.api.put(
      `${CLIENT_V3}/rooms/${enc(room[space]!)}/state/m.space.child/${enc(child)}`,
      content,
      { token: alice.access_token },
    );
  const joinFromB = async (roomId: string) => {
    const res = await b.api.post(
      `${CLIENT_V3}/join/${enc(roomId)}?server_name=a.test`,
      {},
      { token: bob.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  const eventTs = async (roomId: string, eventId: string) => {
    const res = await a.api.get<{ origin_server_ts: number }>(
      `${CLIENT_V3}/rooms/${enc(roomId)}/event/${enc(eventId)}`,
      { token: alice.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.origin_server_ts;
  };

  before(async () => {
    const downPort = await freePort();
    // Both share their public room lists over federation (off by default, as Synapse).
    [a, b] = await startFederatingPair(
      { 'down.test': `http://127.0.0.1:${downPort}` },
      { federation: { allow_public_rooms_over_federation: true } },
    );
    alice = await a.api.register('alice');
    bob = await b.api.register('bob');
    asBob.token = bob.access_token;

    // The published directory: three rooms (the others stay unlisted).
    await create('Alpha lobby', { preset: 'public_chat', visibility: 'public' });
    await create('Beta chat', { preset: 'public_chat', visibility: 'public', topic: 'bees' });
    await create('Gamma den', {
      preset: 'public_chat',
      visibility: 'public',
      creation_content: { type: 'm.space' },
    });

    // A space of room version 11 (its ID names a.test, where B asks of it).
    await create('space', {
      preset: 'public_chat',
      room_version: '11',
      creation_content: { type: 'm.space' },
    });
    await create('pub', { preset: 'public_chat' });
    await create('secret', { preset: 'private_chat' });
    await create('restricted', {
      preset: 'private_chat',
      initial_state: [
        {
          type: 'm.room.join_rules',
          content: {
            join_rule: 'restricted',
            allow: [{ type: 'm.room_membership', room_id: room.space! }],
          },
        },
      ],
    });
    for (const [child, order] of [
      ['pub', 'a'],
      ['secret', 'b'],
      ['restricted', 'c'],
    ] as const) {
      const res = await addChild('space', room[child]!, {
        via: ['a.test'],
        order,
        ...(child === 'pub' ? { suggested: true } : {}),
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    // A child nobody holds: left out by everyone.
    await addChild('space', '!unheld:a.test', { via: ['a.test'], order: 'd' });

    // History before and after bob's join; timestamps apart, so "nearest" is one event.
    await create('history', { preset: 'public_chat' });
    for (const body of ['m1', 'm2', 'm3']) {
      await pause(15);
      const eventId = await a.helpers.send(alice, room.history!, body);
      sent.push({ eventId, ts: await eventTs(room.history!, eventId) });
    }
    await pause(15);
    await joinFromB(room.history!);
    await pause(15);
    const m4 = await a.helpers.send(alice, room.history!, 'm4');
    sent.push({ eventId: m4, ts: await eventTs(room.history!, m4) });

    // History only members may read, and a room without b.test.
    await create('hidden', {
      preset: 'public_chat',
      initial_state: [
        { type: 'm.room.history_visibility', content: { history_visibility: 'joined' } },
      ],
    });
    await create('lonely', { preset: 'public_chat' });
  });

  after(async () => {
    await closeFederatingPair([a, b]);
  });

  describe('/publicRooms', () => {
    const names = (body: Directory) => body.chunk.map((r) => r.name).sort();

    it('serves the published rooms to another server, page by page', async () => {
      const template = `${FED_V1}/publicRooms`;
      const all = expectSpec(await askA('GET', template), 'GET', template) as Directory;
      assert.deepEqual(names(all), ['Alpha lobby', 'Beta chat', 'Gamma den']);
      assert.equal(all.total_room_count_estimate, 3);
      // limit=0 is the spec's "no limit".
      const zero = expectSpec(await askA('GET', `${template}?limit=0`), 'GET', template);
      assert.equal((zero as Directory).chunk.length, 3);

      const first = expectSpec(await askA('GET', `${template}?limit=2`), 'GET', template);
      const page1 = first as Directory;
      assert.equal(page1.chunk.length, 2);
      assert.ok(page1.next_batch);
      const second = await askA('GET', `${template}?limit=2&since=${enc(page1.next_batch)}`);
      const page2 = expectSpec(second, 'GET', template) as Directory;
      assert.equal(page2.chunk.length, 1);
      assert.ok(page2.prev_batch);
      assert.equal(page2.next_batch, undefined);
      assert.deepEqual([...page1.chunk, ...page2.chunk].map((r) => r.name).sort(), names(all));
    });

    it('filters by search term and room type over POST', async () => {
      const template = `${FED_V1}/publicRooms`;
      const bees = await askA('POST', template, { filter: { generic_search_term: 'BEE' } });
      assert.deepEqual(names(expectSpec(bees, 'POST', template) as Directory), ['Beta chat']);
      const spaces = await askA('POST', template, { filter: { room_types: ['m.space'] } });
      assert.deepEqual(names(expectSpec(spaces, 'POST', template) as Directory), ['Gamma den']);
      const plain = await askA('POST', template, { limit: 1, filter: { room_types: [null] } });
      const page = expectSpec(plain, 'POST', template) as Directory;
      assert.equal(page.chunk.length, 1);
      assert.ok(page.next_batch);
      const none = await askA('POST', template, { include_all_networks: true });
      assert.equal((expectSpec(none, 'POST', template) as Directory).chunk.length, 3);
    });

    it('refuses malformed requests', async () => {
      const template = `${FED_V1}/publicRooms`;
      expectError(await askA('GET', `${template}?limit=two`), 400, 'M_INVALID_PARAM');
      expectError(await askA('GET', `${template}?limit=-1`), 400, 'M_INVALID_PARAM');
      expectError(
        await askA('GET', `${template}?include_all_networks=maybe`),
        400,
        'M_INVALID_PARAM',
      );
      expectError(await askA('GET', `${template}?since=garbage`), 400, 'M_INVALID_PARAM');
      expectError(await askA('POST', template, { limit: 'two' }), 400, 'M_BAD_JSON');
      expectError(await askA('POST', template, { filter: { room_types: [1] } }), 400, 'M_BAD_JSON');
      expectError(
        await askA('POST', template, {
          include_all_networks: true,
          third_party_instance_id: 'irc|freenode',
        }),
        400,
        'M_INVALID_PARAM',
      );
      const unsigned = await fetch(`${a.server.url}${template}`);
      assert.equal(unsigned.status, 401);
    });

    it("lists another server's directory for a client with ?server=", async () => {
      const res = await b.api.get(`${PUBLIC_ROOMS}?server=a.test`, asBob);
      const all = expectSpec(res, 'GET', PUBLIC_ROOMS) as unknown as Directory;
      assert.deepEqual(names(all), ['Alpha lobby', 'Beta chat', 'Gamma den']);

      const seen: string[] = [];
      let since: string | undefined;
      do {
        const query = `?server=a.test&limit=2${since ? `&since=${enc(since)}` : ''}`;
        const page = expectSpec(
          await b.api.get(`${PUBLIC_ROOMS}${query}`, asBob),
          'GET',
          PUBLIC_ROOMS,
        ) as unknown as Directory;
        seen.push(...page.chunk.map((r) => r.room_id));
        since = page.next_batch;
      } while (since !== undefined);
      assert.deepEqual(seen.sort(), all.chunk.map((r) => r.room_id).sort());

      const filtered = await b.api.post(
        `${PUBLIC_ROOMS}?server=a.test`,
        { filter: { generic_search_term: 'alpha' } },
        asBob,
      );
      const alpha = expectSpec(filtered, 'POST', PUBLIC_ROOMS) as unknown as Directory;
      assert.deepEqual(names(alpha), ['Alpha lobby']);
    });

    it('refuses anonymous, malformed and unreachable remote directories', async () => {
      expectError(await b.api.get(`${PUBLIC_ROOMS}?server=a.test`), 401, 'M_MISSING_TOKEN');
      expectError(
        await b.api.get(`${PUBLIC_ROOMS}?server=${enc('bad name!')}`, asBob),
        400,
        'M_INVALID_PARAM',
      );
      expectError(await b.api.get(`${PUBLIC_ROOMS}?server=down.test`, asBob), 502, 'M_UNKNOWN');
      // A's refusal reaches the client as A gave it.
      expectError(
        await b.api.get(`${PUBLIC_ROOMS}?server=a.test&since=garbage`, asBob),
        400,
        'M_INVALID_PARAM',
      );
      // Our own name is our own directory, without a token.
      expectSpec(await b.api.get(`${PUBLIC_ROOMS}?server=b.test`), 'GET', PUBLIC_ROOMS);
    });
  });

  describe('/hierarchy', () => {
    const template = `${FED_V1}/hierarchy/{roomId}`;
    const served = async (roomId: string, query = '') =>
      expectSpec(
        await askA('GET', `${FED_V1}/hierarchy/${enc(roomId)}${query}`),
        'GET',
        template,
      ) as ServedHierarchy;
    const clientHierarchy = async (roomId: string, query = '') =>
      expectSpec(
        await b.api.get(`${CLIENT_V1}/rooms/${enc(roomId)}/hierarchy${query}`, asBob),
        'GET',
        HIERARCHY,
      ) as unknown as { rooms: Chunk[] };

    it('serves a space and the children the asking server may see', async () => {
      const body = await served(room.space!);
      assert.equal(body.room.room_id, room.space);
      assert.deepEqual(
        body.room.children_state.map((e) => e.state_key),
        [room.pub, room.secret, room.restricted, '!unheld:a.test'],
      );
      assert.deepEqual(
        body.children.map((c) => c.room_id),
        [room.pub],
      );
      // b.test has nobody in the space yet, so the restricted room is closed to it too.
      assert.deepEqual(body.inaccessible_children, [room.secret, room.restricted]);

      const suggested = await served(room.space!, '?suggested_only=true');
      assert.deepEqual(
        suggested.room.children_state.map((e) => e.state_key),
        [room.pub],
      );
      assert.deepEqual(
        suggested.children.map((c) => c.room_id),
        [room.pub],
      );
      assert.deepEqual(suggested.inaccessible_children, []);
    });

    it('answers 404 for rooms it does not hold or the server may not see, 400 for bad input', async () => {
      for (const roomId of [room.secret!, '!unheld:a.test']) {
        const res = await askA('GET', `${FED_V1}/hierarchy/${enc(roomId)}`);
        expectError(res, 404, 'M_NOT_FOUND');
        expectSpec(res, 'GET', template, 404);
      }
      expectError(
        await askA('GET', `${FED_V1}/hierarchy/${enc(room.space!)}?suggested_only=maybe`),
        400,
        'M_INVALID_PARAM',
      );
    });

    it('walks a space B does not hold through the server its ID names', async () => {
      const body = await clientHierarchy(room.space!);
      assert.deepEqual(
        body.rooms.map((r) => r.room_id),
        [room.space, room.pub],
      );
      const entry = body.rooms[0]!;
      assert.equal(entry.name, 'space');
      assert.equal(entry.children_state?.length, 4);
    });

    it('asks for the children B does not hold through their via, once bob is in the space', async () => {
      await joinFromB(room.space!);
      // Now b.test has a member in the space, A lets it see the restricted room.
      const servedNow = await served(room.space!);
      assert.deepEqual(
        servedNow.children.map((c) => c.room_id),
        [room.pub, room.restricted],
      );
      assert.deepEqual(servedNow.inaccessible_children, [room.secret]);

      const body = await clientHierarchy(room.space!);
      assert.deepEqual(
        body.rooms.map((r) => r.room_id),
        [room.space, room.pub, room.restricted],
      );
      const suggested = await clientHierarchy(room.space!, '?suggested_only=true');
      assert.deepEqual(
        suggested.rooms.map((r) => r.room_id),
        [room.space, room.pub],
      );
      // The space itself is local to B now: its page tokens work as for any space.
      const first = await clientHierarchy(room.space!, '?limit=1');
      assert.equal(first.rooms.length, 1);
    });

    it('refuses a client a remote room none of its answers lets it see', async () => {
      // A version 12 room B does not hold (no server to ask), and one A answers 404 for.
      for (const roomId of [room.secret!, '!unheld:a.test']) {
        expectError(
          await b.api.get(`${CLIENT_V1}/rooms/${enc(roomId)}/hierarchy`, asBob),
          403,
          'M_FORBIDDEN',
        );
      }
    });
  });

  describe('/timestamp_to_event', () => {
    const template = `${FED_V1}/timestamp_to_event/{roomId}`;
    const path = (roomId: string, query: string) =>
      `${FED_V1}/timestamp_to_event/${enc(roomId)}${query}`;
    const clientLookup = (roomId: string, query: string) =>
      b.api.get<{ event_id: string; origin_server_ts: number }>(
        `${CLIENT_V1}/rooms/${enc(roomId)}/timestamp_to_event${query}`,
        asBob,
      );

    it('serves the nearest event either way', async () => {
      const [m1, m2, m3] = sent;
      const back = await askA('GET', path(room.history!, `?ts=${m2!.ts}&dir=b`));
      assert.deepEqual(expectSpec(back, 'GET', template), {
        event_id: m2!.eventId,
        origin_server_ts: m2!.ts,
      });
      const forward = await askA('GET', path(room.history!, `?ts=${m2!.ts + 1}&dir=f`));
      assert.equal((expectSpec(forward, 'GET', template) as JsonObject).event_id, m3!.eventId);
      const before = await askA('GET', path(room.history!, `?ts=${m1!.ts - 1}&dir=b`));
      assert.notEqual((expectSpec(before, 'GET', template) as JsonObject).event_id, m1!.eventId);
      const none = await askA('GET', path(room.history!, '?ts=1&dir=b'));
      expectError(none, 404, 'M_NOT_FOUND');
      expectSpec(none, 'GET', template, 404);
    });

    it('refuses bad input, unknown rooms and servers not in the room', async () => {
      for (const query of ['?ts=soon&dir=f', '?ts=1.5&dir=b', '?ts=5&dir=x']) {
        expectError(await askA('GET', path(room.history!, query)), 400, 'M_INVALID_PARAM');
      }
      expectError(await askA('GET', path(room.history!, '?dir=f')), 400, 'M_MISSING_PARAM');
      expectError(await askA('GET', path(room.history!, '?ts=5')), 400, 'M_MISSING_PARAM');
      const unknown = await askA('GET', path('!nowhere:a.test', '?ts=5&dir=f'));
      expectError(unknown, 404, 'M_NOT_FOUND');
      expectError(await askA('GET', path(room.lonely!, '?ts=5&dir=f')), 403, 'M_FORBIDDEN');
    });

    it('hides events the asking server may not see by history visibility', async () => {
      const early = await a.helpers.send(alice, room.hidden!, 'before bob');
      const earlyTs = await eventTs(room.hidden!, early);
      await pause(15);
      await joinFromB(room.hidden!);
      await pause(15);
      const late = await a.helpers.send(alice, room.hidden!, 'after bob');
      const lateTs = await eventTs(room.hidden!, late);
      expectError(
        await askA('GET', path(room.hidden!, `?ts=${earlyTs}&dir=b`)),
        404,
        'M_NOT_FOUND',
      );
      const visible = await askA('GET', path(room.hidden!, `?ts=${lateTs}&dir=b`));
      assert.equal((expectSpec(visible, 'GET', template) as JsonObject).event_id, late);
    });

    it('asks the room’s other servers for history B does not hold, and checks what they name', async () => {
      const [m1, m2] = sent;
      // B holds nothing at or before m2: A names m2, B fetches and checks it.
      const back = await clientLookup(room.history!, `?ts=${m2!.ts}&dir=b`);
      assert.deepEqual(expectSpec(back, 'GET', TIMESTAMP), {
        event_id: m2!.eventId,
        origin_server_ts: m2!.ts,
      });
      // Forward from before m1, B's nearest is bob's join, next to a gap: A's m1 is nearer.
      const forward = await clientLookup(room.history!, `?ts=${m1!.ts - 1}&dir=f`);
      assert.equal(expectSpec(forward, 'GET', TIMESTAMP).event_id, m1!.eventId);
      // After the join, B's own events answer.
      const m4 = sent[3]!;
      const local = await clientLookup(room.history!, `?ts=${m4.ts}&dir=b`);
      assert.equal(expectSpec(local, 'GET', TIMESTAMP).event_id, m4.eventId);
      // Nothing anywhere: 404.
      expectError(await clientLookup(room.history!, '?ts=1&dir=b'), 404, 'M_NOT_FOUND');
    });
  });

  describe('server ACLs', () => {
    it('refuses a server the room’s ACL denies, with 403', async () => {
      await create('acl', { preset: 'public_chat', creation_content: { type: 'm.space' } });
      await joinFromB(room.acl!);
      const ts = Date.now();
      const hierarchyPath = `${FED_V1}/hierarchy/${enc(room.acl!)}`;
      const timestampPath = `${FED_V1}/timestamp_to_event/${enc(room.acl!)}?ts=${ts}&dir=b`;
      assert.equal((await askA('GET', hierarchyPath)).status, 200);
      assert.equal((await askA('GET', timestampPath)).status, 200);
      const acl = await a.api.put(
        `${CLIENT_V3}/rooms/${enc(room.acl!)}/state/m.room.server_acl/`,
        { allow: ['*'], deny: ['b.test'], allow_ip_literals: false },
        { token: alice.access_token },
      );
      assert.equal(acl.status, 200, JSON.stringify(acl.body));
      expectError(await askA('GET', hierarchyPath), 403, 'M_FORBIDDEN');
      expectError(await askA('GET', timestampPath), 403, 'M_FORBIDDEN');
      // Let b.test in again.
      const open = await a.api.put(
        `${CLIENT_V3}/rooms/${enc(room.acl!)}/state/m.room.server_acl/`,
        { allow: ['*'], allow_ip_literals: false },
        { token: alice.access_token },
      );
      assert.equal(open.status, 200, JSON.stringify(open.body));
      assert.equal((await askA('GET', hierarchyPath)).status, 200);
    });
  });
});
