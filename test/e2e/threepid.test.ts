/**
 * The 3PID operations of a server with no email and no identity server: delete
 * and unbind succeed with `no-support` (nothing is bound), add, bind and the
 * deprecated POST /account/3pid are refused with 403 M_FORBIDDEN before any
 * UIA, the requestToken endpoints keep M_THREEPID_MEDIUM_NOT_SUPPORTED, and
 * third-party invites are refused with words that say so while invites by user
 * ID work.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';

const ACCOUNT = `${CLIENT_V3}/account`;
const EMAIL = { medium: 'email', address: 'alice@example.org' };

describe('3PIDs without email or identity server', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob] = suite.users('alice', 'bob');
  const post = (path: string, body: unknown) =>
    api.post(`${ACCOUNT}${path}`, body, { token: alice.access_token });

  it('deletes and unbinds with no-support: nothing was bound', async () => {
    for (const path of ['/3pid/delete', '/3pid/unbind']) {
      const res = await post(path, { ...EMAIL, id_server: 'id.example.org' });
      const body = expectSpec(res, 'POST', `${ACCOUNT}${path}`);
      assert.deepEqual(body, { id_server_unbind_result: 'no-support' });
      expectError(await post(path, { medium: 'email' }), 400, 'M_MISSING_PARAM');
      expectError(await post(path, { ...EMAIL, address: 5 }), 400, 'M_BAD_JSON');
      expectError(await api.post(`${ACCOUNT}${path}`, EMAIL), 401, 'M_MISSING_TOKEN');
    }
    const listed = await api.get(`${ACCOUNT}/3pid`, { token: alice.access_token });
    assert.deepEqual(expectSpec(listed, 'GET', `${ACCOUNT}/3pid`), { threepids: [] });
  });

  it('refuses add, bind and the deprecated POST /account/3pid before any UIA', async () => {
    const session = { client_secret: 'secret', sid: 'sid' };
    for (const [path, body] of [
      ['/3pid/add', session],
      ['/3pid/bind', { ...session, id_server: 'id.example.org', id_access_token: 'x' }],
      ['/3pid', { three_pid_creds: { ...session, id_server: 'id.example.org' } }],
    ] as const) {
      const res = await post(path, body);
      expectError(res, 403, 'M_FORBIDDEN');
      assert.equal((res.body as { flows?: unknown }).flows, undefined, `${path}: no UIA`);
      assert.match(String(res.body.error), /3PID|identity server/, path);
    }
  });

  it('keeps refusing requestToken with M_THREEPID_MEDIUM_NOT_SUPPORTED', async () => {
    const body = { client_secret: 'secret', email: 'alice@example.org', send_attempt: 1 };
    const res = await post('/3pid/email/requestToken', body);
    expectError(res, 400, 'M_THREEPID_MEDIUM_NOT_SUPPORTED');
  });

  it('refuses third-party invites clearly, and still invites by user ID', async () => {
    const roomId = await suite.createRoom(alice);
    const invite = (body: unknown) =>
      api.post(`${CLIENT_V3}/rooms/${roomId}/invite`, body, { token: alice.access_token });
    const res = await invite({ id_server: 'id.example.org', id_access_token: 'x', ...EMAIL });
    expectError(res, 403, 'M_FORBIDDEN');
    assert.match(String(res.body.error), /[Tt]hird-party invites .* not supported/);
    expectError(await invite({ ...EMAIL }), 403, 'M_FORBIDDEN');
    expectError(await invite({ reason: 'hi' }), 400, 'M_MISSING_PARAM');
    assert.equal((await invite({ user_id: bob.user_id })).status, 200);
    const members = await api.get<{
      chunk: { state_key: string; content: { membership: string } }[];
    }>(`${CLIENT_V3}/rooms/${roomId}/members`, { token: alice.access_token });
    const bobs = members.body.chunk.find((event) => event.state_key === bob.user_id);
    assert.equal(bobs?.content.membership, 'invite');
  });
});
