/**
 * Who is connecting: each request's User-Agent is kept with the device's last
 * IP and time, and shown by the client API's `/admin/whois` (to the user and
 * to server admins) and by the Admin API's device list.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';

const TEMPLATE = '/_matrix/client/v3/admin/whois/{userId}';
const AGENT = 'Element/1.11.0 (Weft test)';
const enc = encodeURIComponent;

describe('whois and user agents', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [root, alice, bob] = suite.users('root', 'alice', 'bob');
  const as = (session: Session) => ({ token: session.access_token });
  /** Asked with the same User-Agent: each request of the caller's device records its own. */
  const whois = async (userId: string, caller: Session) => {
    const res = await fetch(`${suite.server.url}${CLIENT_V3}/admin/whois/${enc(userId)}`, {
      headers: { authorization: `Bearer ${caller.access_token}`, 'user-agent': AGENT },
    });
    return { status: res.status, body: (await res.json()) as unknown };
  };

  before(async () => {
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
    // A request with a User-Agent of its own, as a real client sends.
    const res = await fetch(`${suite.server.url}${CLIENT_V3}/account/whoami`, {
      headers: { authorization: `Bearer ${alice.access_token}`, 'user-agent': AGENT },
    });
    assert.equal(res.status, 200);
  });

  type Whois = {
    devices: Record<string, { sessions: { connections: { user_agent: string }[] }[] }>;
  };
  const agents = (body: Whois) =>
    Object.values(body.devices).flatMap((d) =>
      d.sessions.flatMap((s) => s.connections.map((c) => c.user_agent)),
    );

  it('shows users their own connections, user agent included', async () => {
    const body = expectSpec(await whois(alice.user_id, alice), 'GET', TEMPLATE) as Whois;
    assert.ok(agents(body).includes(AGENT), JSON.stringify(body));
  });

  it('shows anyone to server admins, and no one else to others', async () => {
    const body = expectSpec(await whois(alice.user_id, root), 'GET', TEMPLATE) as Whois;
    assert.ok(agents(body).includes(AGENT));
    expectError(await whois(alice.user_id, bob), 403, 'M_FORBIDDEN');
    expectError(await whois('@nobody:localhost', root), 404, 'M_NOT_FOUND');
  });

  it('lists the user agent in the Admin API’s devices (stored: test/storage/accounts)', async () => {
    const res = await api.get<{
      devices: { device_id: string; last_seen_user_agent: string | null }[];
    }>(`/_synapse/admin/v2/users/${enc(alice.user_id)}/devices`, as(root));
    assert.equal(res.status, 200);
    const device = res.body.devices.find((d) => d.device_id === alice.device_id);
    assert.equal(device?.last_seen_user_agent, AGENT);
  });

  it('cuts a very long User-Agent before keeping it', async () => {
    const long = 'x'.repeat(5000);
    const res = await fetch(`${suite.server.url}${CLIENT_V3}/account/whoami`, {
      headers: { authorization: `Bearer ${bob.access_token}`, 'user-agent': long },
    });
    assert.equal(res.status, 200);
    const body = (await whois(bob.user_id, root)).body as Whois;
    assert.ok(agents(body).some((agent) => agent === long.slice(0, 512)));
  });

  it('does not add the user agent to the client API’s own device list', async () => {
    const res = await api.get<{ devices: Record<string, unknown>[] }>(
      `${CLIENT_V3}/devices`,
      as(alice),
    );
    assert.ok(res.body.devices.every((d) => !('last_seen_user_agent' in d)));
  });
});
