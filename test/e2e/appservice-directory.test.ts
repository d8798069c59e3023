/**
 * The application service room directory: rooms a service publishes under its
 * networks, and /publicRooms with third_party_instance_id and include_all_networks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';
import { testRegistration, writeRegistrations } from '../support/appservice-registrations.js';

const NETWORK_LIST = `${CLIENT_V3}/directory/list/appservice/{networkId}/{roomId}`;
const PUBLIC_ROOMS = `${CLIENT_V3}/publicRooms`;

const bridge = testRegistration('bridge', { protocols: ['irc'] });

describe('application service room directory', () => {
  const suite = serverSuite({ app_service_config_files: writeRegistrations([bridge]) });
  const { api } = suite;
  const carol = suite.user('carol');
  const networkUrl = (networkId: string, roomId: string) =>
    `${CLIENT_V3}/directory/list/appservice/${networkId}/${encodeURIComponent(roomId)}`;
  const publish = (networkId: string, roomId: string, visibility = 'public') =>
    api.put(networkUrl(networkId, roomId), { visibility }, { token: bridge.as_token });
  /** The room IDs /publicRooms lists for this body, sorted. */
  const listed = async (body: Record<string, unknown>) => {
    const res = await api.post(PUBLIC_ROOMS, body, { token: carol.access_token });
    const page = expectSpec(res, 'POST', PUBLIC_ROOMS);
    return (page.chunk as { room_id: string }[]).map((room) => room.room_id).sort();
  };

  it('lists a network only when asked, every list with include_all_networks', async () => {
    const main = await suite.createRoom(carol, { preset: 'public_chat', visibility: 'public' });
    const irc = await suite.createRoom(carol, { preset: 'public_chat' });
    const slack = await suite.createRoom(carol, { preset: 'public_chat' });
    expectSpec(await publish('irc', irc), 'PUT', NETWORK_LIST);
    expectSpec(await publish('slack', slack), 'PUT', NETWORK_LIST);
    expectSpec(await publish('irc', irc), 'PUT', NETWORK_LIST); // again: no change

    assert.deepEqual(await listed({}), [main]);
    assert.deepEqual(await listed({ third_party_instance_id: 'bridge|irc' }), [irc]);
    assert.deepEqual(await listed({ third_party_instance_id: 'bridge|slack' }), [slack]);
    assert.deepEqual(await listed({ third_party_instance_id: 'nobody|irc' }), []);
    assert.deepEqual(await listed({ include_all_networks: true }), [main, irc, slack].sort());

    // Pages over every list: one room each, all of them, no repeats.
    const seen: string[] = [];
    let since: string | undefined;
    for (let i = 0; i < 4; i++) {
      const body = { include_all_networks: true, limit: 1, ...(since ? { since } : {}) };
      const res = await api.post(PUBLIC_ROOMS, body, { token: carol.access_token });
      const page = expectSpec(res, 'POST', PUBLIC_ROOMS);
      seen.push(...(page.chunk as { room_id: string }[]).map((room) => room.room_id));
      since = page.next_batch as string | undefined;
      if (!since) break;
    }
    assert.deepEqual(seen.sort(), [main, irc, slack].sort());

    expectSpec(await publish('irc', irc, 'private'), 'PUT', NETWORK_LIST);
    assert.deepEqual(await listed({ third_party_instance_id: 'bridge|irc' }), []);
    const removed = await api.delete(networkUrl('slack', slack), undefined, {
      token: bridge.as_token,
    });
    // DELETE is Synapse's (the spec has PUT with `private`): the same answer.
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.deepEqual(removed.body, {});
    assert.deepEqual(await listed({ include_all_networks: true }), [main]);
  });

  it('refuses ordinary users, unknown rooms and bad bodies', async () => {
    const roomId = await suite.createRoom(carol);
    const byUser = await api.put(
      networkUrl('irc', roomId),
      { visibility: 'public' },
      { token: carol.access_token },
    );
    expectError(byUser, 403, 'M_FORBIDDEN');
    expectError(await publish('irc', '!nowhere:localhost'), 404, 'M_NOT_FOUND');
    expectError(await publish('irc', roomId, 'hidden'), 400, 'M_INVALID_PARAM');
    const both = await api.post(
      PUBLIC_ROOMS,
      { include_all_networks: true, third_party_instance_id: 'bridge|irc' },
      { token: carol.access_token },
    );
    expectError(both, 400, 'M_INVALID_PARAM');
    const badId = await api.post(
      PUBLIC_ROOMS,
      { third_party_instance_id: 'irc' },
      { token: carol.access_token },
    );
    expectError(badId, 400, 'M_INVALID_PARAM');
    assert.deepEqual(await listed({ third_party_instance_id: 'bridge|irc' }), []);
  });
});
