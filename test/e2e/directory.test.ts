import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';

type Body = Record<string, unknown>;

const ALIAS_PATH = `${CLIENT_V3}/directory/room/{roomAlias}`;
const LIST_PATH = `${CLIENT_V3}/directory/list/room/{roomId}`;
const PUBLIC_ROOMS = `${CLIENT_V3}/publicRooms`;

const aliasUrl = (alias: string) => `${CLIENT_V3}/directory/room/${encodeURIComponent(alias)}`;
const listUrl = (roomId: string) => `${CLIENT_V3}/directory/list/room/${roomId}`;

for (const version of ['12', '11']) {
  describe(`room directory, version ${version}`, () => {
    const suite = serverSuite();
    const { api } = suite;
    const [alice, bob, carol] = suite.users('alice', 'bob', 'carol');

    const createRoom = (body: Body = {}, who: Session = alice) =>
      suite.createRoom(who, { room_version: version, ...body });
    /** Joins by room ID or alias; returns the room ID. */
    const join = async (who: Session, roomIdOrAlias: string) => {
      const res = await api.post(
        `${CLIENT_V3}/join/${encodeURIComponent(roomIdOrAlias)}`,
        {},
        { token: who.access_token },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return String(res.body.room_id);
    };
    const putAlias = (alias: string, roomId: string, who: Session) =>
      api.put(aliasUrl(alias), { room_id: roomId }, { token: who.access_token });
    const stateOf = async (roomId: string) =>
      (await api.get<Body[]>(`${CLIENT_V3}/rooms/${roomId}/state`, { token: alice.access_token }))
        .body;

    it('creates an alias, resolves it without a token, lists it, and refuses a second mapping', async () => {
      const roomId = await createRoom();
      const other = await createRoom();
      const alias = '#lobby:localhost';
      expectSpec(await putAlias(alias, roomId, alice), 'PUT', ALIAS_PATH);
      const resolved = expectSpec(await api.get(aliasUrl(alias)), 'GET', ALIAS_PATH);
      assert.deepEqual(resolved, { room_id: roomId, servers: ['localhost'] });

      const taken = await putAlias(alias, other, alice);
      expectSpec(taken, 'PUT', ALIAS_PATH, 409);
      assert.equal(taken.body.errcode, 'M_UNKNOWN');
      assert.equal(
        (await api.get(aliasUrl(alias))).body.room_id,
        roomId,
        'the first mapping stands',
      );

      const aliasesPath = `${CLIENT_V3}/rooms/{roomId}/aliases`;
      const listed = await api.get(`${CLIENT_V3}/rooms/${roomId}/aliases`, {
        token: alice.access_token,
      });
      assert.deepEqual(expectSpec(listed, 'GET', aliasesPath), { aliases: [alias] });
      const outsider = await api.get(`${CLIENT_V3}/rooms/${roomId}/aliases`, {
        token: bob.access_token,
      });
      expectSpec(outsider, 'GET', aliasesPath, 403);
      assert.equal(outsider.body.errcode, 'M_FORBIDDEN');
    });

    it('refuses aliases from non-members, of other servers, malformed ones and unknown rooms', async () => {
      const roomId = await createRoom();
      expectError(await putAlias('#mine:localhost', roomId, bob), 403, 'M_FORBIDDEN');
      assert.equal((await api.get(aliasUrl('#mine:localhost'))).status, 404, 'nothing was made');

      const foreign = await putAlias('#foreign:elsewhere.example', roomId, alice);
      expectSpec(foreign, 'PUT', ALIAS_PATH, 400);
      assert.equal(foreign.body.errcode, 'M_INVALID_PARAM');
      const remote = await api.get(aliasUrl('#foreign:elsewhere.example'));
      expectSpec(remote, 'GET', ALIAS_PATH, 404);
      assert.equal(remote.body.errcode, 'M_NOT_FOUND');

      for (const bad of ['#nocolon', 'lobby:localhost', '#:localhost', '#a:bad server']) {
        const res = await api.get(aliasUrl(bad));
        expectSpec(res, 'GET', ALIAS_PATH, 400);
        assert.equal(res.body.errcode, 'M_INVALID_PARAM', bad);
      }
      const unknown = await api.get(aliasUrl('#nobody-made-this:localhost'));
      expectSpec(unknown, 'GET', ALIAS_PATH, 404);
      assert.equal(unknown.body.errcode, 'M_NOT_FOUND');
      expectError(await putAlias('#ghost:localhost', '!nope:localhost', alice), 404, 'M_NOT_FOUND');
      assert.equal((await api.put(aliasUrl('#x:localhost'), { room_id: roomId })).status, 401);
    });

    it('lets only the creator of an alias or a room admin delete it', async () => {
      const roomId = await createRoom({ preset: 'public_chat' });
      await join(bob, roomId);
      await join(carol, roomId);
      expectSpec(await putAlias('#bobs:localhost', roomId, bob), 'PUT', ALIAS_PATH);
      expectSpec(await putAlias('#bobs-too:localhost', roomId, bob), 'PUT', ALIAS_PATH);

      const byCarol = await api.delete(aliasUrl('#bobs:localhost'), undefined, {
        token: carol.access_token,
      });
      expectError(byCarol, 403, 'M_FORBIDDEN');
      assert.equal((await api.get(aliasUrl('#bobs:localhost'))).status, 200, 'still there');

      const byCreator = await api.delete(aliasUrl('#bobs:localhost'), undefined, {
        token: bob.access_token,
      });
      expectSpec(byCreator, 'DELETE', ALIAS_PATH);
      // Alice created the room: an admin (v11: power 100; v12: a creator).
      const byAdmin = await api.delete(aliasUrl('#bobs-too:localhost'), undefined, {
        token: alice.access_token,
      });
      expectSpec(byAdmin, 'DELETE', ALIAS_PATH);
      for (const gone of ['#bobs:localhost', '#bobs-too:localhost']) {
        expectSpec(await api.get(aliasUrl(gone)), 'GET', ALIAS_PATH, 404);
      }
      const again = await api.delete(aliasUrl('#bobs:localhost'), undefined, {
        token: bob.access_token,
      });
      expectSpec(again, 'DELETE', ALIAS_PATH, 404);
      assert.equal(again.body.errcode, 'M_NOT_FOUND');
    });

    it('creates the alias and m.room.canonical_alias from room_alias_name, and joins by alias', async () => {
      const roomId = await createRoom({ preset: 'public_chat', room_alias_name: 'town-square' });
      const alias = '#town-square:localhost';
      const state = await stateOf(roomId);
      const canonical = state.find((e) => e.type === 'm.room.canonical_alias');
      assert.deepEqual(canonical?.content, { alias });
      // The spec's order: the canonical alias comes right after the power levels.
      const depthOf = async (type: string) => {
        const id = String(state.find((e) => e.type === type)?.event_id);
        return (await suite.server.weft.storage.rooms.getEvent(id))!.pdu.depth;
      };
      assert.equal(
        await depthOf('m.room.canonical_alias'),
        (await depthOf('m.room.power_levels')) + 1,
      );
      assert.equal(await depthOf('m.room.join_rules'), (await depthOf('m.room.power_levels')) + 2);
      assert.deepEqual((await api.get(aliasUrl(alias))).body, {
        room_id: roomId,
        servers: ['localhost'],
      });

      assert.equal(await join(bob, alias), roomId);
      const joined = await api.get(`${CLIENT_V3}/joined_rooms`, { token: bob.access_token });
      assert.ok((joined.body.joined_rooms as string[]).includes(roomId));
      const byIdRoute = await api.post(
        `${CLIENT_V3}/rooms/${encodeURIComponent(alias)}/join`,
        {},
        { token: carol.access_token },
      );
      expectError(byIdRoute, 404, 'M_NOT_FOUND');
      const unknownAlias = await api.post(
        `${CLIENT_V3}/join/${encodeURIComponent('#no-such-room:localhost')}`,
        {},
        { token: carol.access_token },
      );
      expectError(unknownAlias, 404, 'M_NOT_FOUND');
    });

    it('refuses a taken room_alias_name with M_ROOM_IN_USE before creating anything', async () => {
      await createRoom({ room_alias_name: 'taken' });
      const before = await api.get(`${CLIENT_V3}/joined_rooms`, { token: alice.access_token });
      const again = await api.post(
        `${CLIENT_V3}/createRoom`,
        { room_version: version, room_alias_name: 'taken', visibility: 'public' },
        { token: alice.access_token },
      );
      expectError(again, 400, 'M_ROOM_IN_USE');
      const afterwards = await api.get(`${CLIENT_V3}/joined_rooms`, { token: alice.access_token });
      assert.deepEqual(afterwards.body.joined_rooms, before.body.joined_rooms);

      const invalid = await api.post(
        `${CLIENT_V3}/createRoom`,
        { room_version: version, room_alias_name: 'a:b' },
        { token: alice.access_token },
      );
      expectError(invalid, 400, 'M_INVALID_PARAM');
      // A room that fails to be made gives its alias back.
      const broken = await api.post(
        `${CLIENT_V3}/createRoom`,
        {
          room_version: version,
          room_alias_name: 'given-back',
          initial_state: [{ type: 'm.room.member', state_key: '@x:localhost', content: {} }],
        },
        { token: alice.access_token },
      );
      expectError(broken, 400, 'M_INVALID_ROOM_STATE');
      assert.equal((await api.get(aliasUrl('#given-back:localhost'))).status, 404);
      await createRoom({ room_alias_name: 'given-back' });
    });

    it('publishes and unpublishes rooms: createRoom visibility, and PUT by a room admin only', async () => {
      const published = await createRoom({ visibility: 'public' });
      const visibility = await api.get(listUrl(published));
      assert.deepEqual(expectSpec(visibility, 'GET', LIST_PATH), { visibility: 'public' });

      const roomId = await createRoom({ preset: 'public_chat' });
      assert.deepEqual((await api.get(listUrl(roomId))).body, { visibility: 'private' });
      await join(bob, roomId);
      const byMember = await api.put(
        listUrl(roomId),
        { visibility: 'public' },
        { token: bob.access_token },
      );
      expectError(byMember, 403, 'M_FORBIDDEN');
      const byOutsider = await api.put(
        listUrl(roomId),
        { visibility: 'public' },
        { token: carol.access_token },
      );
      expectError(byOutsider, 403, 'M_FORBIDDEN');
      assert.deepEqual((await api.get(listUrl(roomId))).body, { visibility: 'private' });

      const listedIds = async () =>
        ((await api.get(`${PUBLIC_ROOMS}?limit=500`)).body.chunk as Body[]).map((r) => r.room_id);
      // The spec's default visibility for PUT is public.
      expectSpec(
        await api.put(listUrl(roomId), {}, { token: alice.access_token }),
        'PUT',
        LIST_PATH,
      );
      assert.deepEqual((await api.get(listUrl(roomId))).body, { visibility: 'public' });
      assert.ok((await listedIds()).includes(roomId));
      expectSpec(
        await api.put(listUrl(roomId), { visibility: 'private' }, { token: alice.access_token }),
        'PUT',
        LIST_PATH,
      );
      assert.ok(!(await listedIds()).includes(roomId));

      const bad = await api.put(
        listUrl(roomId),
        { visibility: 'hidden' },
        { token: alice.access_token },
      );
      expectError(bad, 400, 'M_INVALID_PARAM');
      expectSpec(await api.get(listUrl('!unknown:localhost')), 'GET', LIST_PATH, 404);
      const unknownPut = await api.put(
        listUrl('!unknown:localhost'),
        {},
        { token: alice.access_token },
      );
      expectSpec(unknownPut, 'PUT', LIST_PATH, 404);
    });

    it('describes published rooms from their current state', async () => {
      const roomId = await createRoom({
        visibility: 'public',
        name: `Describe ${version}`,
        topic: 'All about state',
        room_alias_name: `describe-${version}`,
        creation_content: { type: 'm.space' },
        initial_state: [
          { type: 'm.room.avatar', content: { url: 'mxc://localhost/avatar' } },
          { type: 'm.room.history_visibility', content: { history_visibility: 'world_readable' } },
        ],
      });
      await join(bob, roomId);
      const res = await api.post(
        PUBLIC_ROOMS,
        { filter: { generic_search_term: `describe ${version}` } },
        { token: carol.access_token },
      );
      const body = expectSpec(res, 'POST', PUBLIC_ROOMS);
      assert.deepEqual(body.chunk, [
        {
          room_id: roomId,
          num_joined_members: 2,
          world_readable: true,
          guest_can_join: false,
          name: `Describe ${version}`,
          topic: 'All about state',
          canonical_alias: `#describe-${version}:localhost`,
          avatar_url: 'mxc://localhost/avatar',
          join_rule: 'public',
          room_type: 'm.space',
        },
      ]);
      const spaces = await api.post(
        PUBLIC_ROOMS,
        { filter: { room_types: ['m.space'] } },
        { token: carol.access_token },
      );
      assert.deepEqual(
        (expectSpec(spaces, 'POST', PUBLIC_ROOMS).chunk as Body[]).map((r) => r.room_id),
        [roomId],
      );
      const plain = await api.post(
        PUBLIC_ROOMS,
        { filter: { room_types: [null] } },
        { token: carol.access_token },
      );
      const plainIds = (expectSpec(plain, 'POST', PUBLIC_ROOMS).chunk as Body[]).map(
        (r) => r.room_id,
      );
      assert.ok(plainIds.length > 0 && !plainIds.includes(roomId));

      // The text/plain representation of a rich topic (m.topic) is the one listed.
      const richTopic = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/state/m.room.topic/`,
        {
          topic: 'Older clients read this',
          'm.topic': {
            'm.text': [{ mimetype: 'text/html', body: '<b>Rich</b>' }, { body: 'Rich' }],
          },
        },
        { token: alice.access_token },
      );
      assert.equal(richTopic.status, 200);
      const afterTopic = await api.post(
        PUBLIC_ROOMS,
        { filter: { generic_search_term: `describe ${version}` } },
        { token: carol.access_token },
      );
      const listed = expectSpec(afterTopic, 'POST', PUBLIC_ROOMS).chunk as Body[];
      assert.equal(listed[0]?.topic, 'Rich');
    });

    it('pages through the directory with limit and since, without repeats, both ways', async () => {
      const ours = new Set<string>();
      for (let i = 0; i < 5; i++) {
        ours.add(await createRoom({ visibility: 'public', name: `Paging room ${i}` }));
      }
      const pages: Body[] = [];
      let since: string | undefined;
      do {
        const query = since === undefined ? '' : `&since=${encodeURIComponent(since)}`;
        const page = expectSpec(
          await api.get(`${PUBLIC_ROOMS}?limit=2${query}`),
          'GET',
          PUBLIC_ROOMS,
        );
        pages.push(page);
        since = page.next_batch as string | undefined;
        assert.ok(pages.length < 50, 'pagination ends');
      } while (since !== undefined);

      const seen = pages.flatMap((p) => (p.chunk as Body[]).map((r) => String(r.room_id)));
      assert.equal(new Set(seen).size, seen.length, 'no room twice');
      for (const roomId of ours) assert.ok(seen.includes(roomId), roomId);
      assert.equal(seen.length, pages[0]!.total_room_count_estimate);
      assert.ok(pages.every((p) => (p.chunk as Body[]).length <= 2));
      assert.equal(pages[0]!.prev_batch, undefined, 'nothing before the first page');
      assert.ok(pages.slice(1).every((p) => typeof p.prev_batch === 'string'));

      // prev_batch of the last page leads back to the page before it.
      const last = pages.at(-1)!;
      const back = await api.get(
        `${PUBLIC_ROOMS}?limit=2&since=${encodeURIComponent(String(last.prev_batch))}`,
      );
      assert.deepEqual(
        (expectSpec(back, 'GET', PUBLIC_ROOMS).chunk as Body[]).map((r) => r.room_id),
        (pages.at(-2)!.chunk as Body[]).map((r) => r.room_id),
      );
    });

    it('searches names, topics and aliases, paginating the matches', async () => {
      const matches = new Set<string>();
      for (let i = 0; i < 3; i++) {
        matches.add(await createRoom({ visibility: 'public', name: `Needle ${i}` }));
        await createRoom({ visibility: 'public', name: `Haystack ${i}` });
      }
      matches.add(await createRoom({ visibility: 'public', topic: 'a NEEDLE in the topic' }));
      matches.add(await createRoom({ visibility: 'public', room_alias_name: 'needle-alias' }));
      await createRoom({ name: 'Needle, but private' });

      const found: string[] = [];
      let since: string | undefined;
      do {
        const res = await api.post(
          PUBLIC_ROOMS,
          { limit: 2, since, filter: { generic_search_term: 'needle' } },
          { token: carol.access_token },
        );
        const page = expectSpec(res, 'POST', PUBLIC_ROOMS);
        const chunk = page.chunk as Body[];
        assert.ok(chunk.length > 0 && chunk.length <= 2, JSON.stringify(page));
        found.push(...chunk.map((r) => String(r.room_id)));
        since = page.next_batch as string | undefined;
      } while (since !== undefined);
      assert.deepEqual(new Set(found), matches);
      assert.equal(found.length, matches.size, 'no room twice');
    });

    it('answers GET /publicRooms without a token, asks other servers only for users, refuses bad input', async () => {
      expectSpec(await api.get(PUBLIC_ROOMS), 'GET', PUBLIC_ROOMS);
      expectSpec(await api.get(`${PUBLIC_ROOMS}?server=localhost`), 'GET', PUBLIC_ROOMS);
      // Another server's list is asked over federation: users only (as Synapse), so
      // anonymous requests cannot make this server query others for them.
      const remote = `${PUBLIC_ROOMS}?server=elsewhere.example`;
      expectError(await api.get(remote), 401, 'M_MISSING_TOKEN');
      // No such server answers: 502, by GET and by POST.
      expectError(await api.get(remote, { token: alice.access_token }), 502, 'M_UNKNOWN');
      const remotePost = await api.post(remote, {}, { token: alice.access_token });
      expectError(remotePost, 502, 'M_UNKNOWN');
      assert.equal((await api.post(PUBLIC_ROOMS, {})).status, 401);
      expectError(await api.get(`${PUBLIC_ROOMS}?since=garbage`), 400, 'M_INVALID_PARAM');
      expectError(await api.get(`${PUBLIC_ROOMS}?limit=two`), 400, 'M_INVALID_PARAM');
      const badLimit = await api.post(
        PUBLIC_ROOMS,
        { limit: 'two' },
        { token: alice.access_token },
      );
      expectError(badLimit, 400, 'M_BAD_JSON');
    });
  });
}
