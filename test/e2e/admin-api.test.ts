/**
 * Synapse's Admin API (server admins only): server_version, the user list and
 * one user, the admin flag, whois, username_available. Synapse-only, so the
 * answers are checked by hand rather than against the Matrix spec's schemas.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError } from '../support/spec-schemas.js';

const ADMIN = '/_synapse/admin';
const enc = encodeURIComponent;

interface UserJson {
  name: string;
  displayname: string | null;
  is_guest: boolean;
  admin: boolean;
  deactivated: boolean;
  creation_ts: number;
}
interface UserList {
  users: UserJson[];
  total: number;
  next_token?: string;
}

describe('Admin API', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [root, alice, bob] = suite.users('root', 'alice', 'bob');
  let guest: Session;
  const as = (session: Session) => ({ token: session.access_token });
  const list = async (query: string, session: Session = root) => {
    const res = await api.get<UserList>(`${ADMIN}/v2/users${query}`, as(session));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const names = async (query: string) => (await list(query)).users.map((u) => u.name);

  before(async () => {
    // The first admin comes from the shell (register-user --admin) or, here, storage itself.
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
    const registered = await api.post<Session>(`${CLIENT_V3}/register?kind=guest`, {});
    assert.equal(registered.status, 200);
    guest = registered.body;
    const named = await api.put(
      `${CLIENT_V3}/profile/${enc(bob.user_id)}/displayname`,
      { displayname: 'Zebra Bob' },
      as(bob),
    );
    assert.equal(named.status, 200);
  });

  /** One request of every endpoint (GET unless told). */
  const endpoints = (): [string, string, unknown?][] => [
    ['GET', `${ADMIN}/v2/users`],
    ['GET', `${ADMIN}/v2/users/${enc(alice.user_id)}`],
    ['GET', `${ADMIN}/v1/users/${enc(alice.user_id)}/admin`],
    ['PUT', `${ADMIN}/v1/users/${enc(alice.user_id)}/admin`, { admin: true }],
    ['GET', `${ADMIN}/v1/whois/${enc(alice.user_id)}`],
    ['GET', `${ADMIN}/v1/username_available?username=free`],
  ];

  it('refuses requests without a token, with a bad one, of non-admins and of guests', async () => {
    for (const [method, path, body] of endpoints()) {
      const where = `${method} ${path}`;
      const none = await api.request(method, path, body);
      expectError(none, 401, 'M_MISSING_TOKEN');
      const bad = await api.request(method, path, body, { token: 'wft_not_a_token' });
      expectError(bad, 401, 'M_UNKNOWN_TOKEN');
      const user = await api.request(method, path, body, as(alice));
      expectError(user, 403, 'M_FORBIDDEN');
      assert.equal(user.body.error, 'You are not a server admin', where);
      const asGuest = await api.request(method, path, body, as(guest));
      assert.equal(asGuest.status, 403, where);
    }
    // Nothing of the refused PUT happened.
    assert.equal((await suite.server.weft.storage.users.getUser(alice.user_id))?.isAdmin, false);
  });

  it('answers 405 for methods a known path does not serve, 404 for unknown paths', async () => {
    const post = await api.post(`${ADMIN}/v1/server_version`, {}, as(root));
    expectError(post, 405, 'M_UNRECOGNIZED');
    const del = await api.delete(`${ADMIN}/v1/users/${enc(alice.user_id)}/admin`, {}, as(root));
    expectError(del, 405, 'M_UNRECOGNIZED');
    expectError(await api.get(`${ADMIN}/v1/nothing_here`, as(root)), 404, 'M_UNRECOGNIZED');
  });

  it('server_version gives the package version, to anyone (as Synapse: admin UIs ask before login)', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    for (const session of [root, alice, undefined]) {
      const res = await api.get(`${ADMIN}/v1/server_version`, session && as(session));
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { server_version: version });
    }
  });

  it('lists users with the fields Synapse gives', async () => {
    const body = await list('');
    assert.equal(body.total, 4);
    assert.equal(body.next_token, undefined);
    const byName = new Map(body.users.map((u) => [u.name, u]));
    const bobJson = byName.get(bob.user_id)!;
    assert.ok(Math.abs(bobJson.creation_ts - Date.now()) < 60_000);
    assert.deepEqual(bobJson, {
      name: bob.user_id,
      user_type: null,
      is_guest: false,
      admin: false,
      deactivated: false,
      shadow_banned: false,
      displayname: 'Zebra Bob',
      avatar_url: null,
      creation_ts: bobJson.creation_ts,
      locked: false,
      suspended: false,
      approved: true,
    });
    assert.equal(byName.get(root.user_id)?.admin, true);
    assert.equal(byName.get(guest.user_id)?.is_guest, true);
  });

  it('pages with next_token until every user was visited once', async () => {
    const extra = [];
    for (let i = 0; i < 5; i++) extra.push(await suite.register(`pager-${i}`));
    const all = await names('');
    assert.equal(all.length, 9);
    const seen: string[] = [];
    let from: string | undefined = '0';
    let pages = 0;
    while (from !== undefined) {
      const page = await list(`?limit=2&from=${from}`);
      assert.equal(page.total, 9);
      assert.ok(page.users.length <= 2);
      seen.push(...page.users.map((u) => u.name));
      from = page.next_token;
      pages++;
    }
    assert.equal(pages, 5);
    assert.deepEqual(seen, all);
    assert.equal(new Set(seen).size, 9);
    // Past the end: an empty page, no next_token.
    assert.deepEqual(await list('?from=50'), { users: [], total: 9 });
    for (const session of extra) {
      await api.withPasswordAuth(
        'POST',
        `${CLIENT_V3}/account/deactivate`,
        {},
        {
          token: session.access_token,
          user: session.user_id,
        },
      );
    }
  });

  it('filters by user ID, name, guests, admins and deactivation', async () => {
    assert.deepEqual(await names('?user_id=ALIC'), [alice.user_id]);
    // name matches the localpart or the display name, not the server name.
    assert.deepEqual(await names('?name=zebra'), [bob.user_id]);
    assert.deepEqual(await names('?name=bob'), [bob.user_id]);
    assert.deepEqual(await names('?name=localhost'), []);
    assert.ok(!(await names('?guests=false')).includes(guest.user_id));
    assert.ok((await names('')).includes(guest.user_id));
    assert.deepEqual(await names('?admins=true'), [root.user_id]);
    assert.ok(!(await names('?admins=false')).includes(root.user_id));
    // The pagers deactivated above: hidden unless asked for.
    assert.equal((await list('')).total, 4);
    const withDeactivated = await list('?deactivated=true');
    assert.equal(withDeactivated.total, 9);
    const pager = withDeactivated.users.find((u) => u.name.startsWith('@pager-0:'));
    assert.equal(pager?.deactivated, true);
    // v3 lists everyone unless asked, and deactivated=true is a filter there.
    const v3 = async (query: string) => {
      const res = await api.get<UserList>(`${ADMIN}/v3/users${query}`, as(root));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body;
    };
    assert.equal((await v3('')).total, 9);
    assert.equal((await v3('?deactivated=false')).total, 4);
    const onlyDeactivated = await v3('?deactivated=true');
    assert.equal(onlyDeactivated.total, 5);
    assert.ok(onlyDeactivated.users.every((u) => u.deactivated && u.name.startsWith('@pager-')));
    for (const bad of [
      '?from=-1',
      '?limit=ten',
      '?guests=yes',
      '?deactivated=1',
      '?admins=maybe',
      '?order_by=password',
      '?dir=x',
    ]) {
      const res = await api.get(`${ADMIN}/v2/users${bad}`, as(root));
      expectError(res, 400, 'M_INVALID_PARAM');
    }
  });

  it('orders by name, display name, creation time and admin, both ways', async () => {
    const active = [root, alice, bob, guest].map((s) => s.user_id);
    const byId = [...active].sort();
    assert.deepEqual(await names(''), byId);
    assert.deepEqual(await names('?order_by=name&dir=b'), [...byId].reverse());
    // Registered in the order root, alice, bob, then the guest.
    assert.deepEqual(await names('?order_by=creation_ts'), active);
    assert.deepEqual(await names('?order_by=creation_ts&dir=b'), [...active].reverse());
    assert.equal((await names('?order_by=admin&dir=b'))[0], root.user_id);
    assert.equal((await names('?order_by=is_guest&dir=b'))[0], guest.user_id);
    // Display names, bytewise: the guest's numeric one, "Zebra Bob", "alice", "root".
    const byDisplayName = [guest, bob, alice, root].map((s) => s.user_id);
    assert.deepEqual(await names('?order_by=displayname'), byDisplayName);
    assert.deepEqual(await names('?order_by=displayname&dir=b'), [...byDisplayName].reverse());
  });

  it('shows one user, 404 for unknown ones and 400 for other servers', async () => {
    const res = await api.get(`${ADMIN}/v2/users/${enc(bob.user_id)}`, as(root));
    assert.equal(res.status, 200);
    const listed = (await list('?name=bob')).users[0];
    assert.deepEqual(res.body, { ...listed, threepids: [], external_ids: [] });
    const unknown = await api.get(`${ADMIN}/v2/users/${enc('@nobody:localhost')}`, as(root));
    expectError(unknown, 404, 'M_NOT_FOUND');
    assert.equal(unknown.body.error, 'User not found');
    const remote = await api.get(`${ADMIN}/v2/users/${enc('@bob:elsewhere')}`, as(root));
    assert.equal(remote.status, 400);
  });

  it('reads and sets the admin flag; a demotion counts at the very next call', async () => {
    const flag = `${ADMIN}/v1/users/${enc(bob.user_id)}/admin`;
    assert.deepEqual((await api.get(flag, as(root))).body, { admin: false });
    const promote = await api.put(flag, { admin: true }, as(root));
    assert.equal(promote.status, 200);
    assert.deepEqual(promote.body, {});
    assert.deepEqual((await api.get(flag, as(root))).body, { admin: true });
    // bob's same token works for the Admin API now...
    assert.equal((await api.get(`${ADMIN}/v2/users`, as(bob))).status, 200);
    // ...and not once root demotes him.
    assert.equal((await api.put(flag, { admin: false }, as(root))).status, 200);
    const demoted = await api.get(`${ADMIN}/v2/users`, as(bob));
    expectError(demoted, 403, 'M_FORBIDDEN');
    assert.deepEqual((await api.get(flag, as(root))).body, { admin: false });
  });

  it('refuses bad admin flag requests: not a boolean, missing, yourself, unknown users', async () => {
    const flag = (userId: string) => `${ADMIN}/v1/users/${enc(userId)}/admin`;
    const notBool = await api.put(flag(bob.user_id), { admin: 'yes' }, as(root));
    expectError(notBool, 400, 'M_BAD_JSON');
    expectError(await api.put(flag(bob.user_id), {}, as(root)), 400, 'M_MISSING_PARAM');
    const self = await api.put(flag(root.user_id), { admin: false }, as(root));
    assert.equal(self.status, 400);
    assert.equal(self.body.error, 'You may not demote yourself.');
    // Promoting yourself (a no-op) is allowed.
    assert.equal((await api.put(flag(root.user_id), { admin: true }, as(root))).status, 200);
    expectError(await api.get(flag('@nobody:localhost'), as(root)), 404, 'M_NOT_FOUND');
    const unknownPut = await api.put(flag('@nobody:localhost'), { admin: true }, as(root));
    expectError(unknownPut, 404, 'M_NOT_FOUND');
    assert.equal((await api.put(flag('@bob:elsewhere'), { admin: true }, as(root))).status, 400);
    assert.deepEqual(await names('?admins=true'), [root.user_id]);
  });

  it("whois gives the user's devices' last connections", async () => {
    const login = await api.login('alice');
    assert.equal(login.status, 200);
    await api.get(`${CLIENT_V3}/account/whoami`, as(alice));
    const res = await api.get<{
      user_id: string;
      devices: { '': { sessions: { connections: Record<string, unknown>[] }[] } };
    }>(`${ADMIN}/v1/whois/${enc(alice.user_id)}`, as(root));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.user_id, alice.user_id);
    const [session] = res.body.devices[''].sessions;
    // Her registration's device and the login's.
    assert.equal(session?.connections.length, 2);
    for (const connection of session!.connections) {
      assert.match(String(connection.ip), /127\.0\.0\.1/);
      assert.equal(typeof connection.last_seen, 'number');
      assert.ok('user_agent' in connection);
    }
    const unknown = await api.get(`${ADMIN}/v1/whois/${enc('@nobody:localhost')}`, as(root));
    expectError(unknown, 404, 'M_NOT_FOUND');
  });

  it('username_available follows /register/available', async () => {
    const available = (username: string) =>
      api.get(`${ADMIN}/v1/username_available?username=${enc(username)}`, as(root));
    const free = await available('newcomer');
    assert.equal(free.status, 200);
    assert.deepEqual(free.body, { available: true });
    expectError(await available('alice'), 400, 'M_USER_IN_USE');
    expectError(await available('ALICE'), 400, 'M_USER_IN_USE');
    expectError(await available('bad name'), 400, 'M_INVALID_USERNAME');
    expectError(await available('1234'), 400, 'M_INVALID_USERNAME');
    const missing = await api.get(`${ADMIN}/v1/username_available`, as(root));
    expectError(missing, 400, 'M_MISSING_PARAM');
  });
});
