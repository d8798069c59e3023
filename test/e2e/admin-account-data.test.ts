/**
 * `GET /_synapse/admin/v1/users/{userId}/accountdata`: what the user stored
 * through the client API, global and per room; server admins only.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError } from '../support/spec-schemas.js';

const enc = encodeURIComponent;
const accountDataOf = (userId: string) => `/_synapse/admin/v1/users/${enc(userId)}/accountdata`;

describe('Admin API: a user’s account data', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [root, alice, bob] = suite.users('root', 'alice', 'bob');
  const as = (session: Session) => ({ token: session.access_token });
  let roomId: string;

  before(async () => {
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
    const created = await api.post<{ room_id: string }>(`${CLIENT_V3}/createRoom`, {}, as(alice));
    assert.equal(created.status, 200);
    roomId = created.body.room_id;
    const user = `${CLIENT_V3}/user/${enc(alice.user_id)}`;
    const puts = [
      api.put(`${user}/account_data/org.example.first`, { n: 1 }, as(alice)),
      api.put(`${user}/account_data/org.example.first`, { n: 2 }, as(alice)),
      api.put(`${user}/rooms/${enc(roomId)}/account_data/org.example.room`, { r: true }, as(alice)),
      api.put(`${user}/rooms/${enc(roomId)}/tags/u.work`, { order: 0.5 }, as(alice)),
      // A push rule edit: its rules are not account data (the marker row is left out).
      api.put(
        `${CLIENT_V3}/pushrules/global/content/org.example.rule`,
        { actions: ['notify'], pattern: 'cake' },
        as(alice),
      ),
    ];
    for (const put of puts) {
      const res = await put;
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  });

  it('lists the global and per-room data, each type at its latest content', async () => {
    const res = await api.get<{
      account_data: { global: Record<string, unknown>; rooms: Record<string, unknown> };
    }>(accountDataOf(alice.user_id), as(root));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.account_data.global['org.example.first'], { n: 2 });
    assert.ok(!('m.push_rules' in res.body.account_data.global));
    assert.deepEqual(res.body.account_data.rooms, {
      [roomId]: {
        'org.example.room': { r: true },
        'm.tag': { tags: { 'u.work': { order: 0.5 } } },
      },
    });
  });

  it('gives empty maps for a user with none', async () => {
    const res = await api.get<{ account_data: { rooms: unknown } }>(
      accountDataOf(bob.user_id),
      as(root),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.account_data.rooms, {});
  });

  it('refuses non-admins, unknown and remote users', async () => {
    expectError(await api.get(accountDataOf(alice.user_id), as(alice)), 403, 'M_FORBIDDEN');
    expectError(await api.get(accountDataOf('@nobody:localhost'), as(root)), 404, 'M_NOT_FOUND');
    const remote = await api.get(accountDataOf('@someone:elsewhere.example'), as(root));
    assert.equal(remote.status, 400);
  });
});
