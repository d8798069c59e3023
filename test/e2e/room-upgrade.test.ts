import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';

type Body = Record<string, unknown>;

const ALICE = '@alice:localhost';
const BOB = '@bob:localhost';

describe('POST /rooms/{roomId}/upgrade', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob, carol, dave] = suite.users('alice', 'bob', 'carol', 'dave');

  const rooms = (roomId: string) => `${CLIENT_V3}/rooms/${encodeURIComponent(roomId)}`;
  const aliasUrl = (alias: string) => `${CLIENT_V3}/directory/room/${encodeURIComponent(alias)}`;

  /** A public room of `version` by alice, bob joined at 50, with a name, topic and an alias. */
  async function oldRoom(version: string, aliasName: string): Promise<string> {
    const users: Body = version === '12' ? { [BOB]: 50 } : { [ALICE]: 100, [BOB]: 50 };
    const res = await api.post(
      `${CLIENT_V3}/createRoom`,
      {
        room_version: version,
        preset: 'public_chat',
        name: 'Old name',
        topic: 'Old topic',
        room_alias_name: aliasName,
        power_level_content_override: {
          users,
          events: {
            'm.room.tombstone': version === '12' ? 150 : 100,
            'm.room.power_levels': 100,
            'org.example.custom': 42,
          },
        },
      },
      { token: alice.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const roomId = String(res.body.room_id);
    const joined = await api.post(`${rooms(roomId)}/join`, {}, { token: bob.access_token });
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
    const hv = await api.put(
      `${rooms(roomId)}/state/m.room.history_visibility`,
      { history_visibility: 'joined' },
      { token: alice.access_token },
    );
    assert.equal(hv.status, 200, JSON.stringify(hv.body));
    return roomId;
  }

  async function state(roomId: string, session = alice): Promise<Body[]> {
    const res = await api.get<Body[]>(`${rooms(roomId)}/state`, { token: session.access_token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  }
  const contentOf = (events: Body[], type: string) =>
    events.find((e) => e.type === type && e.state_key === '')?.content as Body | undefined;

  async function lastEventOf(roomId: string): Promise<string> {
    const extremities = await suite.server.weft.storage.rooms.forwardExtremities(roomId);
    assert.equal(extremities.length, 1);
    return extremities[0]!.eventId;
  }

  for (const [from, to] of [
    ['11', '12'],
    ['12', '12'],
    ['12', '11'],
  ] as const) {
    it(`upgrades a v${from} room to v${to}: predecessor, copied state, tombstone, moved alias`, async () => {
      const aliasName = `upgrade-${from}-${to}`;
      const alias = `#${aliasName}:localhost`;
      const oldId = await oldRoom(from, aliasName);
      const lastBefore = await lastEventOf(oldId);
      const oldState = await state(oldId);

      const res = await api.post(
        `${rooms(oldId)}/upgrade`,
        { new_version: to, additional_creators: [BOB] },
        { token: alice.access_token },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const newId = String(res.body.replacement_room);
      assert.notEqual(newId, oldId);
      if (to === '12') assert.match(newId, /^![A-Za-z0-9_-]{43}$/);
      else assert.match(newId, /^![A-Za-z0-9_-]+:localhost$/);

      // The new room: its create event names the old room.
      const newState = await state(newId);
      const create = newState.find((e) => e.type === 'm.room.create')!;
      assert.equal(create.sender, ALICE);
      const createContent = create.content as Body;
      assert.equal(createContent.room_version, to);
      const predecessor = createContent.predecessor as Body;
      assert.equal(predecessor.room_id, oldId);
      if (to === '12') {
        // v12 may omit event_id; Weft does, and lists the additional creators.
        assert.equal(predecessor.event_id, undefined);
        assert.deepEqual(createContent.additional_creators, [BOB]);
      } else {
        assert.equal(predecessor.event_id, lastBefore);
        assert.equal(createContent.additional_creators, undefined);
      }

      // The transferred state.
      assert.equal(contentOf(newState, 'm.room.name')?.name, 'Old name');
      assert.equal(contentOf(newState, 'm.room.topic')?.topic, 'Old topic');
      assert.equal(contentOf(newState, 'm.room.join_rules')?.join_rule, 'public');
      assert.equal(contentOf(newState, 'm.room.history_visibility')?.history_visibility, 'joined');
      assert.deepEqual(
        contentOf(newState, 'm.room.guest_access'),
        contentOf(oldState, 'm.room.guest_access'),
      );
      const newLevels = contentOf(newState, 'm.room.power_levels')!;
      const oldLevels = contentOf(oldState, 'm.room.power_levels')!;
      assert.deepEqual(newLevels.events, oldLevels.events);
      assert.equal(newLevels.invite, oldLevels.invite);
      assert.equal(newLevels.events_default, oldLevels.events_default);
      const users = newLevels.users as Body;
      if (to === '12') {
        // Creators (alice the upgrader, bob the additional creator) must not be listed.
        assert.deepEqual(users, {});
      } else {
        // alice was an all-powerful v12 creator: she keeps enough power to do everything.
        assert.equal(users[BOB], 50);
        assert.equal(users[ALICE], 150);
      }
      // Members are not carried over.
      const members = newState.filter((e) => e.type === 'm.room.member').map((e) => e.state_key);
      assert.deepEqual(members, [ALICE]);

      // The alias and the canonical alias moved.
      assert.equal(contentOf(newState, 'm.room.canonical_alias')?.alias, alias);
      const resolved = await api.get(aliasUrl(alias), { token: alice.access_token });
      assert.equal(resolved.body.room_id, newId);
      const oldAliases = await api.get(`${rooms(oldId)}/aliases`, { token: alice.access_token });
      assert.deepEqual(oldAliases.body.aliases, []);
      const newAliases = await api.get(`${rooms(newId)}/aliases`, { token: alice.access_token });
      assert.deepEqual(newAliases.body.aliases, [alias]);

      // The old room: tombstoned, its alias gone, ordinary members silenced.
      const after = await state(oldId);
      const tombstone = after.find((e) => e.type === 'm.room.tombstone')!;
      assert.equal(tombstone.sender, ALICE);
      assert.equal((tombstone.content as Body).replacement_room, newId);
      assert.equal(typeof (tombstone.content as Body).body, 'string');
      assert.equal(contentOf(after, 'm.room.canonical_alias')?.alias, undefined);
      const restricted = contentOf(after, 'm.room.power_levels')!;
      assert.equal(oldLevels.events_default, 0);
      assert.equal(restricted.events_default, 50);
      assert.equal(restricted.invite, 50);
      assert.deepEqual(restricted.users, oldLevels.users);
      const daveJoins = await api.post(`${rooms(oldId)}/join`, {}, { token: dave.access_token });
      assert.equal(daveJoins.status, 200, JSON.stringify(daveJoins.body));
      const daveSends = await api.put(
        `${rooms(oldId)}/send/m.room.message/upgrade-${from}-${to}`,
        { msgtype: 'm.text', body: 'hello?' },
        { token: dave.access_token },
      );
      assert.equal(daveSends.status, 403);

      // Bob is a creator of a v12 replacement: he may change its power levels at once.
      if (to === '12') {
        const bobJoins = await api.post(`${rooms(newId)}/join`, {}, { token: bob.access_token });
        assert.equal(bobJoins.status, 200, JSON.stringify(bobJoins.body));
        const bobSets = await api.put(
          `${rooms(newId)}/state/m.room.power_levels`,
          { ...newLevels, users: { [carol.user_id]: 10 } },
          { token: bob.access_token },
        );
        assert.equal(bobSets.status, 200, JSON.stringify(bobSets.body));
      }
    });
  }

  it('gives a v11 replacement room an upgrader below the needed levels their power back afterwards', async () => {
    // alice 100 in a v11 room where history visibility needs 100 but tombstone only 50: bob (60) upgrades.
    const res = await api.post(
      `${CLIENT_V3}/createRoom`,
      {
        room_version: '11',
        preset: 'public_chat',
        power_level_content_override: {
          users: { [ALICE]: 100, [BOB]: 60 },
          events: {
            'm.room.tombstone': 50,
            'm.room.history_visibility': 100,
            'm.room.power_levels': 100,
          },
        },
      },
      { token: alice.access_token },
    );
    const oldId = String(res.body.room_id);
    await api.post(`${rooms(oldId)}/join`, {}, { token: bob.access_token });
    const upgraded = await api.post(
      `${rooms(oldId)}/upgrade`,
      { new_version: '11' },
      { token: bob.access_token },
    );
    assert.equal(upgraded.status, 200, JSON.stringify(upgraded.body));
    const newId = String(upgraded.body.replacement_room);
    const newState = await state(newId, bob);
    assert.equal(contentOf(newState, 'm.room.history_visibility')?.history_visibility, 'shared');
    const levels = contentOf(newState, 'm.room.power_levels')!;
    assert.deepEqual(levels.users, { [ALICE]: 100, [BOB]: 60 });
    const createContent = newState.find((e) => e.type === 'm.room.create')!.content as Body;
    assert.equal(createContent.room_version, '11');
    // Bob could not change the old room's power levels (100): they stay as they were.
    const oldLevels = contentOf(await state(oldId, bob), 'm.room.power_levels')!;
    assert.equal(oldLevels.events_default, 0);
  });

  describe('refusals, before anything is created', () => {
    let roomId: string;
    const upgrade = (session: Session, body: Body) =>
      api.post(`${rooms(roomId)}/upgrade`, body, { token: session.access_token });
    const joinedRooms = async (session: Session) =>
      (await api.get(`${CLIENT_V3}/joined_rooms`, { token: session.access_token })).body
        .joined_rooms as string[];

    before(async () => {
      roomId = await oldRoom('12', 'refusals');
    });

    it('refuses a user who is not in the room', async () => {
      const before = await joinedRooms(carol);
      const res = await upgrade(carol, { new_version: '12' });
      assert.equal(res.status, 403);
      assert.equal(res.body.errcode, 'M_FORBIDDEN');
      assert.deepEqual(await joinedRooms(carol), before);
    });

    it('refuses a member without the power to send m.room.tombstone', async () => {
      const before = await joinedRooms(bob);
      const res = await upgrade(bob, { new_version: '12' });
      assert.equal(res.status, 403);
      assert.equal(res.body.errcode, 'M_FORBIDDEN');
      assert.match(String(res.body.error), /m\.room\.tombstone/);
      assert.deepEqual(await joinedRooms(bob), before);
      const tombstone = (await state(roomId)).find((e) => e.type === 'm.room.tombstone');
      assert.equal(tombstone, undefined);
    });

    it('refuses an unknown room version and a missing one', async () => {
      const before = await joinedRooms(alice);
      const unknown = await upgrade(alice, { new_version: '999' });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.errcode, 'M_UNSUPPORTED_ROOM_VERSION');
      const missing = await upgrade(alice, {});
      assert.equal(missing.status, 400);
      assert.equal(missing.body.errcode, 'M_MISSING_PARAM');
      const badCreators = await upgrade(alice, {
        new_version: '12',
        additional_creators: ['not a user'],
      });
      assert.equal(badCreators.status, 400);
      assert.deepEqual(await joinedRooms(alice), before);
    });

    it('refuses guests', async () => {
      const guest = await api.post(`${CLIENT_V3}/register?kind=guest`, {});
      assert.equal(guest.status, 200, JSON.stringify(guest.body));
      const res = await api.post(
        `${rooms(roomId)}/upgrade`,
        { new_version: '12' },
        { token: String(guest.body.access_token) },
      );
      assert.equal(res.status, 403);
      assert.equal(res.body.errcode, 'M_GUEST_ACCESS_FORBIDDEN');
    });
  });
});
