/**
 * Presence over HTTP and in /sync: set and read, delivered to room-mates,
 * idle users going unavailable then offline (timeouts made short here),
 * `set_presence` on /sync, and the switch that turns presence off.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Api, CLIENT_V3, type Session } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { assertResponseMatchesSpec, assertSpecError } from '../support/spec-schemas.js';
import { UserHelpers, type SyncBody } from '../support/user-helpers.js';

const STATUS = '/_matrix/client/v3/presence/{userId}/status';

const statusPath = (who: Session | string) =>
  `${CLIENT_V3}/presence/${encodeURIComponent(typeof who === 'string' ? who : who.user_id)}/status`;

function presenceOf(body: SyncBody, userId: string) {
  return body.presence.events.filter((e) => e.sender === userId).at(-1)?.content;
}

describe('presence', () => {
  let server: TestServer;
  let api: Api;
  let h: UserHelpers;
  let alice: Session;
  let bob: Session;
  let eve: Session;
  let roomId: string;
  before(async () => {
    server = await startTestServer({
      presence: { idle_timeout_ms: 300, offline_timeout_ms: 1_000 },
    });
    api = new Api(server.url);
    h = new UserHelpers(api);
    alice = await api.register('alice');
    bob = await api.register('bob');
    eve = await api.register('eve');
    roomId = await h.createRoom(alice, { preset: 'public_chat' });
    await h.join(bob, roomId);
  });
  after(() => server.close());

  /** Long-polls as bob until alice's presence is `state` (or gives up). */
  async function untilAlice(since: string, state: string) {
    let body = await h.sync(bob, { since, timeout: '3000', set_presence: 'offline' });
    for (let i = 0; i < 5 && presenceOf(body, alice.user_id)?.presence !== state; i++) {
      body = await h.sync(bob, {
        since: body.next_batch,
        timeout: '3000',
        set_presence: 'offline',
      });
    }
    return body;
  }

  it('sets and reads presence; room-mates see it; it goes unavailable, then offline, when idle', async () => {
    const start = await h.sync(bob, { set_presence: 'offline' });
    const put = await api.put(
      statusPath(alice),
      { presence: 'online', status_msg: 'Busy' },
      {
        token: alice.access_token,
      },
    );
    assert.equal(put.status, 200);
    assertResponseMatchesSpec('put', STATUS, 200, put.body);
    const got = await api.get(statusPath(alice), { token: bob.access_token });
    assert.equal(got.status, 200);
    assertResponseMatchesSpec('get', STATUS, 200, got.body);
    assert.equal((got.body as { presence: string }).presence, 'online');
    assert.equal((got.body as { status_msg: string }).status_msg, 'Busy');
    assert.equal((got.body as { currently_active: boolean }).currently_active, true);

    const online = await untilAlice(start.next_batch, 'online');
    const content = presenceOf(online, alice.user_id);
    assert.equal(content?.presence, 'online');
    assert.equal(content?.status_msg, 'Busy');
    assert.equal(content?.displayname, 'alice', 'presence carries the profile');
    const idle = await untilAlice(online.next_batch, 'unavailable');
    assert.equal(
      presenceOf(idle, alice.user_id)?.presence,
      'unavailable',
      'after the idle timeout',
    );
    const gone = await untilAlice(idle.next_batch, 'offline');
    assert.equal(presenceOf(gone, alice.user_id)?.presence, 'offline', 'after the offline timeout');
  });

  it('activity and syncing bring a user back online; set_presence=unavailable sets it', async () => {
    const start = await h.sync(bob, { set_presence: 'offline' });
    await h.sync(alice, { set_presence: 'unavailable' });
    const away = await untilAlice(start.next_batch, 'unavailable');
    assert.equal(presenceOf(away, alice.user_id)?.presence, 'unavailable');
    await h.sync(alice);
    const get = await api.get(statusPath(alice), { token: alice.access_token });
    assert.equal(
      (get.body as { presence: string }).presence,
      'unavailable',
      'a plain sync does not override it',
    );
    await h.send(alice, await h.createRoom(alice), 'activity');
    const back = await untilAlice(away.next_batch, 'online');
    assert.equal(
      presenceOf(back, alice.user_id)?.presence,
      'online',
      'sending an event is activity',
    );
  });

  it('refuses strangers, other users and bad states', async () => {
    const stranger = await api.get(statusPath(alice), { token: eve.access_token });
    assert.equal(stranger.status, 403);
    assertSpecError(stranger.body, 'M_FORBIDDEN');
    const unknown = await api.get(statusPath('@nobody:localhost'), { token: eve.access_token });
    assert.equal(unknown.status, 404);
    const other = await api.put(
      statusPath(alice),
      { presence: 'online' },
      { token: bob.access_token },
    );
    assert.equal(other.status, 403);
    const bad = await api.put(
      statusPath(bob),
      { presence: 'dancing' },
      { token: bob.access_token },
    );
    assert.equal(bad.status, 400);
    const missing = await api.put(statusPath(bob), {}, { token: bob.access_token });
    assertSpecError(missing.body, 'M_MISSING_PARAM');
    const presenceOfEve = (await h.sync(eve)).presence.events.map((e) => e.sender);
    assert.ok(!presenceOfEve.includes(alice.user_id), 'no presence of users sharing no room');
  });

  it('tells only of users who have a presence; an initial sync leaves offline ones out', async () => {
    await api.put(statusPath(alice), { presence: 'online' }, { token: alice.access_token });
    const start = await h.sync(bob, { set_presence: 'offline' });
    assert.equal(presenceOf(start, alice.user_id)?.presence, 'online');
    // Carol joins and renames herself, but never syncs, sets a presence or sends a message.
    const carol = await api.register('carol');
    await h.join(carol, roomId);
    const renamed = await api.put(
      `${CLIENT_V3}/profile/${encodeURIComponent(carol.user_id)}/displayname`,
      { displayname: 'Carol' },
      { token: carol.access_token },
    );
    assert.equal(renamed.status, 200);
    // Alice times out: a change, sent to incremental syncs.
    const seen: string[] = [];
    let body = start;
    for (let i = 0; i < 8 && presenceOf(body, alice.user_id)?.presence !== 'offline'; i++) {
      body = await h.sync(bob, {
        since: body.next_batch,
        timeout: '3000',
        set_presence: 'offline',
      });
      seen.push(...body.presence.events.map((e) => e.sender!));
    }
    assert.equal(presenceOf(body, alice.user_id)?.presence, 'offline');
    assert.ok(!seen.includes(carol.user_id), 'no presence of a user who has none');
    const initial = await h.sync(bob, { set_presence: 'offline' });
    const senders = (synced: SyncBody) => synced.presence.events.map((e) => e.sender);
    assert.ok(!senders(initial).includes(carol.user_id), 'nor in an initial sync');
    assert.ok(!senders(initial).includes(alice.user_id), 'offline users are left out');

    await api.put(statusPath(alice), { presence: 'online' }, { token: alice.access_token });
    const back = await h.sync(bob, { set_presence: 'offline' });
    assert.equal(presenceOf(back, alice.user_id)?.presence, 'online');
    assert.ok(!senders(back).includes(carol.user_id));
  });
});

describe('presence switched off', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ presence: { enabled: false } });
  });
  after(() => server.close());

  it('answers the endpoints and sends no presence in sync', async () => {
    const api = new Api(server.url);
    const h = new UserHelpers(api);
    const alice = await api.register('alice');
    const put = await api.put(
      statusPath(alice),
      { presence: 'online' },
      { token: alice.access_token },
    );
    assert.equal(put.status, 200);
    const get = await api.get(statusPath(alice), { token: alice.access_token });
    assert.equal(get.status, 200);
    assertResponseMatchesSpec('get', STATUS, 200, get.body);
    assert.equal((get.body as { presence: string }).presence, 'offline');
    assert.deepEqual((await h.sync(alice)).presence.events, []);
  });
});
