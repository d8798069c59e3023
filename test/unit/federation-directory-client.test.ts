/**
 * FederationDirectoryClient against a fake federation sender: the POST
 * `/publicRooms` falling back to GET (filtered here), errors passed on or
 * made 502, and spaces' answers tried through `via` and kept a while.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FederationDirectoryClient } from '../../src/federation/directory-client.js';
import {
  FederationUnreachable,
  type FederationRequest,
  type FederationResponse,
} from '../../src/federation/outbound.js';
import { MatrixError } from '../../src/protocol/errors.js';

const room = (roomId: string, name: string) => ({
  room_id: roomId,
  name,
  num_joined_members: 1,
  world_readable: false,
  guest_can_join: false,
});

function clientAnswering(answer: (request: FederationRequest) => FederationResponse) {
  const requests: FederationRequest[] = [];
  let now = 0;
  const sender = {
    request: async (request: FederationRequest) => {
      requests.push(request);
      return answer(request);
    },
  };
  const client = new FederationDirectoryClient(sender, { info: () => undefined }, () => now);
  return { client, requests, advance: (ms: number) => (now += ms) };
}

describe('FederationDirectoryClient', () => {
  it('asks with GET without a filter, passing limit, since and networks', async () => {
    const { client, requests } = clientAnswering(() => ({
      status: 200,
      body: { chunk: [room('!a:x', 'Alpha')], next_batch: 'n' },
    }));
    const answer = await client.publicRooms('x', {
      limit: 5,
      since: 's',
      network: { includeAllNetworks: true },
    });
    assert.deepEqual(answer, { chunk: [room('!a:x', 'Alpha')], next_batch: 'n' });
    assert.equal(requests[0]!.method, 'GET');
    assert.equal(
      requests[0]!.path,
      '/_matrix/federation/v1/publicRooms?limit=5&since=s&include_all_networks=true',
    );
  });

  it('falls back to GET and filters here when POST is not served', async () => {
    const { client, requests } = clientAnswering((request) =>
      request.method === 'POST'
        ? { status: 404, body: { errcode: 'M_UNRECOGNIZED', error: 'no' } }
        : { status: 200, body: { chunk: [room('!a:x', 'Alpha'), room('!b:x', 'Beta')] } },
    );
    const answer = await client.publicRooms('x', { searchTerm: 'bet' });
    assert.deepEqual(answer.chunk, [room('!b:x', 'Beta')]);
    assert.deepEqual(
      requests.map((r) => r.method),
      ['POST', 'GET'],
    );
    assert.deepEqual(requests[0]!.body, { filter: { generic_search_term: 'bet' } });
  });

  it('passes on 400, 403 and 404; anything else, or no answer, is a 502', async () => {
    const failing = (response: FederationResponse | 'down') =>
      clientAnswering(() => {
        if (response === 'down') throw new FederationUnreachable('x', 'refused');
        return response;
      }).client.publicRooms('x', {});
    const refusal = (status: number, errcode: string) => (err: unknown) =>
      err instanceof MatrixError && err.status === status && err.errcode === errcode;
    await assert.rejects(
      failing({ status: 403, body: { errcode: 'M_FORBIDDEN', error: 'no' } }),
      refusal(403, 'M_FORBIDDEN'),
    );
    await assert.rejects(failing({ status: 500, body: {} }), refusal(502, 'M_UNKNOWN'));
    await assert.rejects(failing({ status: 200, body: { chunk: 5 } }), refusal(502, 'M_UNKNOWN'));
    await assert.rejects(failing('down'), refusal(502, 'M_UNKNOWN'));
  });

  it("tries a space's via in turn and keeps the answer a while", async () => {
    const space = { ...room('!s:x', 'Space'), room_type: 'm.space', children_state: [] };
    const { client, requests, advance } = clientAnswering((request) => {
      if (request.destination === 'down') throw new FederationUnreachable('down', 'refused');
      if (request.destination === 'wrong')
        return { status: 200, body: { room: room('!other:x', 'x') } };
      return { status: 200, body: { room: space, children: [], inaccessible_children: ['!i:x'] } };
    });
    const answer = await client.space('!s:x', ['down', 'wrong', 'good'], true);
    assert.equal(answer?.room.room_id, '!s:x');
    assert.deepEqual(answer?.inaccessible, ['!i:x']);
    assert.deepEqual(
      requests.map((r) => r.destination),
      ['down', 'wrong', 'good'],
    );
    assert.equal(requests[2]!.path, '/_matrix/federation/v1/hierarchy/!s%3Ax?suggested_only=true');
    await client.space('!s:x', ['good'], true);
    assert.equal(requests.length, 3, 'answered from what was kept');
    advance(31_000);
    await client.space('!s:x', ['good'], true);
    assert.equal(requests.length, 4);
    assert.equal(await client.space('!s:x', ['down'], false), undefined);
  });
});
