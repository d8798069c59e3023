/**
 * A member's sync in a room of 1,000 members (issue 18): what it carries must
 * not grow with members who did nothing. No presence of members who never had
 * one (they only joined), and with lazy-loaded members a named room sends no
 * heroes, so its state holds the member events of the timeline's senders and
 * the user's own only.
 *
 * The members are made straight in storage (an account and an access token
 * each, as registration stores them) rather than through /register, whose
 * password hashing would cost most of the test's time; they join over HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateAccessToken, hashToken } from '../../src/auth/secrets.js';
import { Api, CLIENT_V3, type Session } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { UserHelpers, type SyncBody } from '../support/user-helpers.js';

const MEMBERS = 1_000;
/** Joins in flight at once. */
const JOIN_CONCURRENCY = 100;
const LAZY = JSON.stringify({
  room: { timeline: { limit: 10 }, state: { lazy_load_members: true } },
});

interface Summary {
  'm.heroes'?: string[];
  'm.joined_member_count'?: number;
  'm.invited_member_count'?: number;
}

describe(`sync in a room of ${MEMBERS} members`, () => {
  let server: TestServer;
  let api: Api;
  let h: UserHelpers;
  let owner: Session;
  let members: Session[];
  let viewer: Session;
  let roomId: string;

  /** A user with an access token, stored as registration stores one. */
  async function storedUser(localpart: string, device: number): Promise<Session> {
    const userId = `@${localpart}:${server.config.server_name}`;
    const accessToken = generateAccessToken();
    const now = Date.now();
    const created = await server.weft.storage.users.createUser(
      { userId, passwordHash: null, isGuest: false, isAdmin: false, now, displayName: localpart },
      {
        userId,
        deviceId: `SCALE${device}`,
        initialDisplayName: null,
        tokenHash: hashToken(accessToken),
        ip: null,
        now,
      },
    );
    assert.ok(created, userId);
    return { user_id: userId, access_token: accessToken, device_id: `SCALE${device}` };
  }

  const presenceSenders = (body: SyncBody) => new Set(body.presence.events.map((e) => e.sender));

  before(async () => {
    server = await startTestServer();
    api = new Api(server.url);
    h = new UserHelpers(api);
    owner = await api.register('owner');
    roomId = await h.createRoom(owner, { preset: 'public_chat', name: 'Town hall' });
    members = await Promise.all(
      Array.from({ length: MEMBERS - 1 }, (_, i) => storedUser(`member${i}`, i)),
    );
    for (let i = 0; i < members.length; i += JOIN_CONCURRENCY) {
      await Promise.all(members.slice(i, i + JOIN_CONCURRENCY).map((m) => h.join(m, roomId)));
    }
    viewer = members.at(-1)!;
    for (let i = 0; i < 3; i++) await h.send(owner, roomId, `owner ${i}`);
  });
  after(() => server.close());

  it('gives a named room no heroes, and so no member events beyond the senders and the user', async () => {
    const body = await h.sync(viewer, { filter: LAZY, set_presence: 'offline' });
    const room = body.rooms.join[roomId]!;
    const summary = (room as unknown as { summary: Summary }).summary;
    assert.equal(summary['m.heroes'], undefined, 'the room has a name');
    assert.equal(summary['m.joined_member_count'], MEMBERS);
    assert.equal(summary['m.invited_member_count'], 0);
    const senders = new Set(room.timeline.events.map((e) => e.sender));
    const membersSent = [...room.state.events, ...room.timeline.events]
      .filter((e) => e.type === 'm.room.member')
      .map((e) => e.state_key!);
    for (const userId of membersSent) {
      assert.ok(senders.has(userId) || userId === viewer.user_id, `${userId}'s member event`);
    }
    assert.ok(membersSent.includes(viewer.user_id), "the user's own member event");
  });

  it('sends no presence of members who never had one, and that of a member who set it', async () => {
    const talker = members[0]!;
    const present = members[1]!;
    await h.send(talker, roomId, 'a message is activity');
    const put = await api.put(
      `${CLIENT_V3}/presence/${encodeURIComponent(present.user_id)}/status`,
      { presence: 'online' },
      { token: present.access_token },
    );
    assert.equal(put.status, 200);

    const initial = await h.sync(viewer, { filter: LAZY, set_presence: 'offline' });
    assert.deepEqual(
      [...presenceSenders(initial)].sort(),
      [owner.user_id, talker.user_id, present.user_id].sort(),
      'the room creator and the talker were active, one member set a presence; nobody else',
    );
    const presentContent = initial.presence.events.find((e) => e.sender === present.user_id);
    assert.equal(presentContent?.content.presence, 'online');

    // Incremental: a change of a member with a presence comes; members who only join, or
    // change their name, without ever having one, do not.
    const quiet = members[2]!;
    const newcomer = await storedUser('newcomer', MEMBERS);
    await h.join(newcomer, roomId);
    const renamed = await api.put(
      `${CLIENT_V3}/profile/${encodeURIComponent(quiet.user_id)}/displayname`,
      { displayname: 'Quiet One' },
      { token: quiet.access_token },
    );
    assert.equal(renamed.status, 200);
    await api.put(
      `${CLIENT_V3}/presence/${encodeURIComponent(present.user_id)}/status`,
      { presence: 'unavailable' },
      { token: present.access_token },
    );
    let next = await h.sync(viewer, { since: initial.next_batch, set_presence: 'offline' });
    const seen = [...next.presence.events];
    for (let i = 0; i < 5 && !presenceSenders(next).has(present.user_id); i++) {
      next = await h.sync(viewer, {
        since: next.next_batch,
        timeout: '2000',
        set_presence: 'offline',
      });
      seen.push(...next.presence.events);
    }
    const changeOf = (userId: string) =>
      seen.filter((e) => e.sender === userId).map((e) => e.content.presence);
    assert.deepEqual(changeOf(present.user_id), ['unavailable']);
    assert.deepEqual(changeOf(newcomer.user_id), [], 'a join is no presence');
    assert.deepEqual(changeOf(quiet.user_id), [], 'a new name of a user with no presence is none');
    // The active ones may time out meanwhile on a slow machine; nobody else appears.
    for (const event of seen) {
      assert.ok(
        [present, owner, talker].some((who) => who.user_id === event.sender),
        `presence of ${event.sender}`,
      );
    }
  });
});
