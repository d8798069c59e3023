import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stateMapKey } from '../../src/events/auth/auth-state.js';
import { contentHash, eventIdFor } from '../../src/events/hashing.js';
import { verifyEventSignature } from '../../src/events/signing.js';
import { roomVersion } from '../../src/events/room-versions.js';
import { CLIENT_V3, serverSuite, type Session, withServer } from '../support/fixture.js';

type Body = Record<string, unknown>;

for (const version of ['12', '11']) {
  describe(`rooms, version ${version}`, () => {
    const suite = serverSuite();
    const { api } = suite;
    const [alice, bob] = suite.users('alice', 'bob');

    const createRoom = (body: Body = {}) =>
      suite.createRoom(alice, { room_version: version, ...body });

    it("creates a room with the spec's events and real, signed, reference-hashed events", async () => {
      const roomId = await createRoom({ name: 'Lobby', topic: 'Hello' });
      if (version === '12') assert.match(roomId, /^![A-Za-z0-9_-]{43}$/);
      else assert.match(roomId, /^![A-Za-z0-9_-]+:localhost$/);
      const state = await api.get<Body[]>(`${CLIENT_V3}/rooms/${roomId}/state`, {
        token: alice.access_token,
      });
      const types = state.body.map((e) => e.type).sort();
      assert.deepEqual(types, [
        'm.room.create',
        'm.room.guest_access',
        'm.room.history_visibility',
        'm.room.join_rules',
        'm.room.member',
        'm.room.name',
        'm.room.power_levels',
        'm.room.topic',
      ]);
      const create = state.body.find((e) => e.type === 'm.room.create')!;
      assert.equal((create.content as Body).room_version, version);
      const topic = state.body.find((e) => e.type === 'm.room.topic')!;
      assert.deepEqual((topic.content as Body)['m.topic'], {
        'm.text': [{ body: 'Hello', mimetype: 'text/plain' }],
      });
      const powerLevels = (
        state.body.find((e) => e.type === 'm.room.power_levels')!.content as Body
      ).users as Body;
      // v12 creators have unlimited power and are not listed.
      assert.deepEqual(powerLevels, version === '12' ? {} : { '@alice:localhost': 100 });

      const v = roomVersion(version);
      for (const { event_id } of state.body) {
        const stored = await suite.server.weft.storage.rooms.getEvent(String(event_id));
        assert.ok(stored);
        assert.equal(eventIdFor(stored.pdu, v), event_id, 'the event ID is the reference hash');
        assert.equal(stored.pdu.hashes.sha256, contentHash(stored.pdu));
        const { keyId, publicKeyBase64 } = suite.server.weft.keys.signingKey;
        assert.ok(verifyEventSignature(stored.pdu, 'localhost', keyId, publicKeyBase64, v));
      }
    });

    it('sends messages idempotently per transaction ID and chains prev_events and depth', async () => {
      const roomId = await createRoom();
      const path = `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/txn-1`;
      const first = await api.put(
        path,
        { msgtype: 'm.text', body: 'hi' },
        { token: alice.access_token },
      );
      const retry = await api.put(
        path,
        { msgtype: 'm.text', body: 'hi' },
        { token: alice.access_token },
      );
      assert.equal(first.status, 200);
      assert.equal(retry.body.event_id, first.body.event_id);
      const second = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/txn-2`,
        { msgtype: 'm.text', body: 'again' },
        { token: alice.access_token },
      );
      assert.notEqual(second.body.event_id, first.body.event_id);
      const stored = await suite.server.weft.storage.rooms.getEvent(String(second.body.event_id));
      const previous = await suite.server.weft.storage.rooms.getEvent(String(first.body.event_id));
      assert.deepEqual(stored!.pdu.prev_events, [first.body.event_id]);
      assert.equal(stored!.pdu.depth, previous!.pdu.depth + 1);
      const event = await api.get(`${CLIENT_V3}/rooms/${roomId}/event/${first.body.event_id}`, {
        token: alice.access_token,
      });
      assert.equal(event.body.sender, '@alice:localhost');
      assert.deepEqual(event.body.content, { msgtype: 'm.text', body: 'hi' });

      // The same transaction ID on another path (room or event type) is a new request.
      const otherRoom = await createRoom();
      const elsewhere = await api.put(
        `${CLIENT_V3}/rooms/${otherRoom}/send/m.room.message/txn-1`,
        { msgtype: 'm.text', body: 'elsewhere' },
        { token: alice.access_token },
      );
      const otherType = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/send/m.reaction.other/txn-1`,
        { body: 'other type' },
        { token: alice.access_token },
      );
      const ids = [first.body.event_id, elsewhere.body.event_id, otherType.body.event_id];
      assert.equal(new Set(ids).size, 3, JSON.stringify(ids));
      const stored3 = await suite.server.weft.storage.rooms.getEvent(
        String(elsewhere.body.event_id),
      );
      assert.equal(stored3?.roomId, otherRoom);
    });

    it('keeps uninvited users out of invite-only rooms and lets invited ones in', async () => {
      const roomId = await createRoom();
      const uninvited = await api.post(
        `${CLIENT_V3}/rooms/${roomId}/join`,
        {},
        { token: bob.access_token },
      );
      assert.equal(uninvited.status, 403);
      assert.equal(uninvited.body.errcode, 'M_FORBIDDEN');
      assert.match(String(uninvited.body.error), /join/);
      const notMember = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/x`,
        { body: 'x' },
        { token: bob.access_token },
      );
      assert.equal(notMember.status, 403);
      assert.equal(
        (await api.get(`${CLIENT_V3}/rooms/${roomId}/state`, { token: bob.access_token })).status,
        403,
      );

      assert.equal(
        (
          await api.post(
            `${CLIENT_V3}/rooms/${roomId}/invite`,
            { user_id: '@bob:localhost' },
            { token: alice.access_token },
          )
        ).status,
        200,
      );
      const joined = await api.post(`${CLIENT_V3}/join/${roomId}`, {}, { token: bob.access_token });
      assert.equal(joined.status, 200);
      assert.equal(joined.body.room_id, roomId);
      const rooms = await api.get(`${CLIENT_V3}/joined_rooms`, { token: bob.access_token });
      assert.deepEqual(rooms.body.joined_rooms, [roomId]);
    });

    it('refuses state changes and kicks without power, and banned users rejoining', async () => {
      const roomId = await createRoom({ preset: 'public_chat' });
      assert.equal(
        (await api.post(`${CLIENT_V3}/rooms/${roomId}/join`, {}, { token: bob.access_token }))
          .status,
        200,
      );
      const name = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/state/m.room.name`,
        { name: 'mine' },
        { token: bob.access_token },
      );
      assert.equal(name.status, 403);
      assert.match(String(name.body.error), /power level/);
      const kick = await api.post(
        `${CLIENT_V3}/rooms/${roomId}/kick`,
        { user_id: '@alice:localhost' },
        { token: bob.access_token },
      );
      assert.equal(kick.status, 403);

      const ban = await api.post(
        `${CLIENT_V3}/rooms/${roomId}/ban`,
        { user_id: '@bob:localhost', reason: 'spam' },
        { token: alice.access_token },
      );
      assert.equal(ban.status, 200);
      const rejoin = await api.post(
        `${CLIENT_V3}/rooms/${roomId}/join`,
        {},
        { token: bob.access_token },
      );
      assert.equal(rejoin.status, 403);
      assert.match(String(rejoin.body.error), /banned/);
      const member = await api.get(
        `${CLIENT_V3}/rooms/${roomId}/state/m.room.member/@bob:localhost`,
        { token: alice.access_token },
      );
      assert.deepEqual(member.body, { membership: 'ban', reason: 'spam' });
    });

    it('kicks only those in the room, unbans only the banned, and checks user IDs', async () => {
      const roomId = await createRoom({ preset: 'public_chat' });
      const act = (action: string, userId: string) =>
        api.post(
          `${CLIENT_V3}/rooms/${roomId}/${action}`,
          { user_id: userId },
          { token: alice.access_token },
        );
      const membershipOf = async (userId: string) =>
        (
          await api.get(`${CLIENT_V3}/rooms/${roomId}/state/m.room.member/${userId}`, {
            token: alice.access_token,
          })
        ).body.membership;
      await api.post(`${CLIENT_V3}/rooms/${roomId}/join`, {}, { token: bob.access_token });
      // An unban of someone not banned must not kick them.
      const unbanJoined = await act('unban', bob.user_id);
      assert.equal(unbanJoined.status, 403);
      assert.equal(unbanJoined.body.errcode, 'M_BAD_STATE');
      assert.equal(await membershipOf(bob.user_id), 'join');
      // A kick of someone never in the room, or banned (it would lift the ban), is refused.
      const kickStranger = await act('kick', '@stranger:localhost');
      assert.equal(kickStranger.status, 403);
      assert.equal(kickStranger.body.errcode, 'M_BAD_STATE');
      assert.equal((await act('ban', bob.user_id)).status, 200);
      assert.equal((await act('kick', bob.user_id)).status, 403);
      assert.equal(await membershipOf(bob.user_id), 'ban');
      assert.equal((await act('unban', bob.user_id)).status, 200);
      assert.equal(await membershipOf(bob.user_id), 'leave');
      for (const bad of ['notauser', '@no-server', 'x y']) {
        const res = await act('invite', bad);
        assert.equal(res.status, 400, bad);
        assert.equal(res.body.errcode, 'M_INVALID_PARAM');
      }
    });

    it('serves state as content or as the event, and the state at their leave to former members', async () => {
      const roomId = await createRoom({ preset: 'public_chat', name: 'Before' });
      const path = `${CLIENT_V3}/rooms/${roomId}/state/m.room.name`;
      const asEvent = await api.get(`${path}?format=event`, { token: alice.access_token });
      assert.equal(asEvent.status, 200);
      assert.equal(asEvent.body.type, 'm.room.name');
      assert.equal(asEvent.body.sender, alice.user_id);
      assert.deepEqual(asEvent.body.content, { name: 'Before' });
      assert.match(String(asEvent.body.event_id), /^\$/);
      const bad = await api.get(`${path}?format=html`, { token: alice.access_token });
      assert.equal(bad.status, 400);

      await api.post(`${CLIENT_V3}/rooms/${roomId}/join`, {}, { token: bob.access_token });
      await api.post(`${CLIENT_V3}/rooms/${roomId}/leave`, {}, { token: bob.access_token });
      await api.put(path, { name: 'After' }, { token: alice.access_token });
      const former = await api.get(path, { token: bob.access_token });
      assert.equal(former.status, 200);
      assert.deepEqual(former.body, { name: 'Before' });
      const formerAll = await api.get<Body[]>(`${CLIENT_V3}/rooms/${roomId}/state`, {
        token: bob.access_token,
      });
      assert.equal(formerAll.status, 200);
      const nameEvent = formerAll.body.find((e) => e.type === 'm.room.name');
      assert.deepEqual(nameEvent?.content, { name: 'Before' });

      const members = await api.get(`${CLIENT_V3}/rooms/${roomId}/members?membership=joined`, {
        token: alice.access_token,
      });
      assert.equal(members.status, 400);
      assert.equal(members.body.errcode, 'M_INVALID_PARAM');
    });

    it('checks the aliases an m.room.canonical_alias event adds', async () => {
      const roomId = await createRoom({ room_alias_name: `canonical-${version}` });
      const other = await createRoom({ room_alias_name: `elsewhere-${version}` });
      const own = `#canonical-${version}:localhost`;
      const put = (content: Body) =>
        api.put(`${CLIENT_V3}/rooms/${roomId}/state/m.room.canonical_alias`, content, {
          token: alice.access_token,
        });
      const refused = async (content: Body, errcode: string) => {
        const res = await put(content);
        assert.equal(res.status, 400, JSON.stringify(content));
        assert.equal(res.body.errcode, errcode);
      };
      await refused({ alias: 'not an alias' }, 'M_INVALID_PARAM');
      await refused({ alias: own, alt_aliases: 'nope' }, 'M_INVALID_PARAM');
      await refused({ alias: `#elsewhere-${version}:localhost` }, 'M_BAD_ALIAS');
      await refused({ alias: own, alt_aliases: [`#missing-${version}:localhost`] }, 'M_BAD_ALIAS');
      await refused({ alias: '#remote:other.example' }, 'M_BAD_ALIAS');
      assert.equal((await put({ alias: own, alt_aliases: [own] })).status, 200);
      // Aliases already listed are not checked again, even once they stop pointing here.
      const deleted = await api.delete(
        `${CLIENT_V3}/directory/room/${encodeURIComponent(own)}`,
        undefined,
        { token: alice.access_token },
      );
      assert.equal(deleted.status, 200);
      assert.equal((await put({ alias: own })).status, 200);
      assert.equal((await put({})).status, 200);
      assert.ok(other);
    });

    it('serves a redacted state event stripped by GET /state and /members too', async () => {
      const roomId = await createRoom({ preset: 'public_chat' });
      const topic = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/state/m.room.topic/`,
        { topic: 'to be removed' },
        { token: alice.access_token },
      );
      const redact = (eventId: unknown, txn: string) =>
        api.put(
          `${CLIENT_V3}/rooms/${roomId}/redact/${String(eventId)}/${txn}`,
          {},
          {
            token: alice.access_token,
          },
        );
      assert.equal((await redact(topic.body.event_id, 'rt')).status, 200);
      const state = await api.get(`${CLIENT_V3}/rooms/${roomId}/state/m.room.topic/`, {
        token: alice.access_token,
      });
      assert.equal(state.status, 200);
      assert.deepEqual(state.body, {});

      await api.post(`${CLIENT_V3}/rooms/${roomId}/join`, {}, { token: bob.access_token });
      const members = await api.get<{ chunk: Body[] }>(`${CLIENT_V3}/rooms/${roomId}/members`, {
        token: alice.access_token,
      });
      const bobJoin = members.body.chunk.find((e) => e.state_key === bob.user_id)!;
      assert.equal((await redact(bobJoin.event_id, 'rm')).status, 200);
      const after = await api.get<{ chunk: Body[] }>(`${CLIENT_V3}/rooms/${roomId}/members`, {
        token: alice.access_token,
      });
      const redactedJoin = after.body.chunk.find((e) => e.state_key === bob.user_id)!;
      // The redaction algorithm keeps only `membership` (and join_authorised_via_users_server).
      assert.deepEqual(redactedJoin.content, { membership: 'join' });
      assert.ok((redactedJoin.unsigned as Body).redacted_because);
    });

    it('redacts: content stripped, redacted_because set, redacts in both places; others need power', async () => {
      const roomId = await createRoom({ preset: 'public_chat' });
      await api.post(`${CLIENT_V3}/rooms/${roomId}/join`, {}, { token: bob.access_token });
      const send = async (who: Session, txn: string, body: Body) =>
        String(
          (
            await api.put(`${CLIENT_V3}/rooms/${roomId}/send/m.room.message/${txn}`, body, {
              token: who.access_token,
            })
          ).body.event_id,
        );
      const aliceMsg = await send(alice, 'a1', { msgtype: 'm.text', body: 'secret' });
      const bobMsg = await send(bob, 'b1', { msgtype: 'm.text', body: 'oops' });

      const denied = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/redact/${aliceMsg}/r1`,
        {},
        { token: bob.access_token },
      );
      assert.equal(denied.status, 403);
      assert.match(String(denied.body.error), /redact/);

      const own = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/redact/${bobMsg}/r2`,
        { reason: 'typo' },
        { token: bob.access_token },
      );
      assert.equal(own.status, 200);
      const redacted = await api.get(`${CLIENT_V3}/rooms/${roomId}/event/${bobMsg}`, {
        token: alice.access_token,
      });
      assert.deepEqual(redacted.body.content, {});
      const because = (redacted.body.unsigned as Body).redacted_because as Body;
      assert.equal(because.event_id, own.body.event_id);
      assert.equal(because.type, 'm.room.redaction');

      const redaction = await api.get(`${CLIENT_V3}/rooms/${roomId}/event/${own.body.event_id}`, {
        token: alice.access_token,
      });
      assert.equal(redaction.body.redacts, bobMsg);
      assert.deepEqual(redaction.body.content, { reason: 'typo', redacts: bobMsg });
      const stored = await suite.server.weft.storage.rooms.getEvent(String(own.body.event_id));
      // The PDU itself keeps `redacts` where the room version puts it.
      if (version === '11' || version === '12') assert.equal(stored!.pdu.content.redacts, bobMsg);

      // The room admin may redact others' events, here through /send.
      const viaSend = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/send/m.room.redaction/r3`,
        { redacts: aliceMsg },
        { token: alice.access_token },
      );
      assert.equal(viaSend.status, 200);
      const gone = await api.get(`${CLIENT_V3}/rooms/${roomId}/event/${aliceMsg}`, {
        token: bob.access_token,
      });
      assert.deepEqual(gone.body.content, {});
    });

    it('serves prev_content for state and transaction_id to the sending device only', async () => {
      const roomId = await createRoom({ name: 'first' });
      const renamed = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/state/m.room.name`,
        { name: 'second' },
        { token: alice.access_token },
      );
      const event = await api.get(`${CLIENT_V3}/rooms/${roomId}/event/${renamed.body.event_id}`, {
        token: alice.access_token,
      });
      assert.deepEqual((event.body.unsigned as Body).prev_content, { name: 'first' });

      const sent = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/mine`,
        { body: 'x' },
        { token: alice.access_token },
      );
      const own = await api.get(`${CLIENT_V3}/rooms/${roomId}/event/${sent.body.event_id}`, {
        token: alice.access_token,
      });
      assert.equal((own.body.unsigned as Body).transaction_id, 'mine');
      const otherDevice = (await api.login('alice')).body.access_token;
      const other = await api.get(`${CLIENT_V3}/rooms/${roomId}/event/${sent.body.event_id}`, {
        token: otherDevice,
      });
      assert.equal((other.body.unsigned as Body).transaction_id, undefined);
    });

    it('sends initial_state events instead of the preset ones, one per (type, state_key)', async () => {
      const initialState = [
        { type: 'm.room.join_rules', content: { join_rule: 'public' } },
        { type: 'm.room.history_visibility', content: { history_visibility: 'joined' } },
        { type: 'm.room.guest_access', state_key: '', content: { guest_access: 'forbidden' } },
        { type: 'm.room.canonical_alias', content: { alias: `#one-each-${version}:localhost` } },
        // A later entry of the same pair replaces the earlier one, in its place (as Synapse).
        { type: 'm.room.join_rules', content: { join_rule: 'knock' } },
      ];
      const roomId = await createRoom({
        preset: 'private_chat',
        room_alias_name: `one-each-${version}`,
        initial_state: initialState,
      });
      const state = await api.get<Body[]>(`${CLIENT_V3}/rooms/${roomId}/state`, {
        token: alice.access_token,
      });
      const depthOf = async (type: string) => {
        const event = state.body.find((e) => e.type === type)!;
        // Not replaced: no earlier event of the pair was sent.
        assert.equal((event.unsigned as Body | undefined)?.replaces_state, undefined, type);
        return (await suite.server.weft.storage.rooms.getEvent(String(event.event_id)))!.pdu.depth;
      };
      // create, join, power levels, then initial_state in its order: nothing else.
      assert.deepEqual(
        await Promise.all(
          [
            'm.room.power_levels',
            'm.room.join_rules',
            'm.room.history_visibility',
            'm.room.guest_access',
            'm.room.canonical_alias',
          ].map(depthOf),
        ),
        [3, 4, 5, 6, 7],
      );
      const [last] = await suite.server.weft.storage.rooms.forwardExtremities(roomId);
      assert.equal(last?.depth, 7, 'seven events in all');
      const contentOf = (type: string) => state.body.find((e) => e.type === type)!.content;
      assert.deepEqual(contentOf('m.room.join_rules'), { join_rule: 'knock' });
      assert.deepEqual(contentOf('m.room.history_visibility'), { history_visibility: 'joined' });
      assert.deepEqual(contentOf('m.room.guest_access'), { guest_access: 'forbidden' });

      // Pairs initial_state leaves alone still get the preset's event.
      const partial = await createRoom({
        preset: 'public_chat',
        initial_state: [{ type: 'm.room.guest_access', content: { guest_access: 'can_join' } }],
      });
      const partialState = await api.get<Body[]>(`${CLIENT_V3}/rooms/${partial}/state`, {
        token: alice.access_token,
      });
      const partialContent = (type: string) =>
        partialState.body.find((e) => e.type === type)?.content;
      assert.deepEqual(partialContent('m.room.join_rules'), { join_rule: 'public' });
      assert.deepEqual(partialContent('m.room.guest_access'), { guest_access: 'can_join' });
      const [partialLast] = await suite.server.weft.storage.rooms.forwardExtremities(partial);
      assert.equal(partialLast?.depth, 6, 'create, join, power levels, 2 preset events, 1 initial');
    });

    it('knocks where the join rule allows it, and forgets rooms only after leaving', async () => {
      const roomId = await createRoom({
        initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'knock' } }],
      });
      const knock = await api.post(
        `${CLIENT_V3}/knock/${roomId}`,
        { reason: 'let me in' },
        { token: bob.access_token },
      );
      assert.equal(knock.status, 200);
      assert.equal(knock.body.room_id, roomId);
      const member = await api.get(
        `${CLIENT_V3}/rooms/${roomId}/state/m.room.member/@bob:localhost`,
        { token: alice.access_token },
      );
      assert.deepEqual(member.body, {
        membership: 'knock',
        reason: 'let me in',
        displayname: 'bob',
      });
      const inviteOnly = await createRoom();
      const refused = await api.post(
        `${CLIENT_V3}/knock/${inviteOnly}`,
        {},
        { token: bob.access_token },
      );
      assert.equal(refused.status, 403);

      const stillIn = await api.post(`${CLIENT_V3}/rooms/${roomId}/forget`, undefined, {
        token: alice.access_token,
      });
      assert.equal(stillIn.status, 400);
      const never = await api.post(`${CLIENT_V3}/rooms/${inviteOnly}/forget`, undefined, {
        token: bob.access_token,
      });
      assert.equal(never.status, 404);
      assert.equal(
        (await api.post(`${CLIENT_V3}/rooms/${roomId}/leave`, {}, { token: alice.access_token }))
          .status,
        200,
      );
      const forgotten = await api.post(`${CLIENT_V3}/rooms/${roomId}/forget`, undefined, {
        token: alice.access_token,
      });
      assert.equal(forgotten.status, 200);
    });

    it('lets guests join only can_join rooms, and makes them leave when that ends', async () => {
      const guest = await api.post(`${CLIENT_V3}/register?kind=guest`, {});
      const guestToken = String(guest.body.access_token);
      const guestId = String(guest.body.user_id);
      const publicRoom = await createRoom({ preset: 'public_chat' }); // guest_access: forbidden
      const refused = await api.post(
        `${CLIENT_V3}/rooms/${publicRoom}/join`,
        {},
        { token: guestToken },
      );
      assert.equal(refused.status, 403);
      assert.equal(refused.body.errcode, 'M_GUEST_ACCESS_FORBIDDEN');
      const noCreate = await api.post(`${CLIENT_V3}/createRoom`, {}, { token: guestToken });
      assert.equal(noCreate.body.errcode, 'M_GUEST_ACCESS_FORBIDDEN');

      const open = await createRoom({
        preset: 'public_chat',
        initial_state: [{ type: 'm.room.guest_access', content: { guest_access: 'can_join' } }],
      });
      assert.equal(
        (await api.post(`${CLIENT_V3}/rooms/${open}/join`, {}, { token: guestToken })).status,
        200,
      );
      const close = await api.put(
        `${CLIENT_V3}/rooms/${open}/state/m.room.guest_access`,
        { guest_access: 'forbidden' },
        { token: alice.access_token },
      );
      assert.equal(close.status, 200);
      const member = await api.get(`${CLIENT_V3}/rooms/${open}/state/m.room.member/${guestId}`, {
        token: alice.access_token,
      });
      assert.equal(member.body.membership, 'leave');
    });

    it('refuses parameters that make an invalid room with 400 M_INVALID_ROOM_STATE, leaving no room', async () => {
      const joinedBefore = await api.get(`${CLIENT_V3}/joined_rooms`, {
        token: alice.access_token,
      });
      const aliasName = `never-made-${version}`;
      // v11: the creator's level set below what the name needs. v12 creators are above every
      // level, but may not be listed in `users`, and additional creators must be user IDs.
      const invalid: Body[] =
        version === '12'
          ? [
              { power_level_content_override: { users: { [alice.user_id]: 100 } } },
              { creation_content: { additional_creators: ['not a user ID'] } },
            ]
          : [
              {
                name: 'Out of reach',
                power_level_content_override: { users: { [alice.user_id]: 10 } },
              },
              {
                initial_state: [{ type: 'm.room.encryption', content: {} }],
                power_level_content_override: { users: { [alice.user_id]: 99 } },
              },
            ];
      for (const body of invalid) {
        const res = await api.post(
          `${CLIENT_V3}/createRoom`,
          { room_version: version, room_alias_name: aliasName, ...body },
          { token: alice.access_token },
        );
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.errcode, 'M_INVALID_ROOM_STATE');
      }
      const joinedAfter = await api.get(`${CLIENT_V3}/joined_rooms`, { token: alice.access_token });
      assert.deepEqual(joinedAfter.body, joinedBefore.body);
      const thirdParty = await api.post(
        `${CLIENT_V3}/createRoom`,
        { invite_3pid: [{ id_server: 'id.example', medium: 'email', address: 'a@example.org' }] },
        { token: alice.access_token },
      );
      assert.equal(thirdParty.status, 400);
      assert.equal(thirdParty.body.errcode, 'M_INVALID_PARAM');
      // The alias reserved for the room is free again.
      const alias = await api.get(
        `${CLIENT_V3}/directory/room/${encodeURIComponent(`#${aliasName}:localhost`)}`,
      );
      assert.equal(alias.status, 404);
    });

    it('makes trusted_private_chat invitees as powerful as the creator (v12: creators)', async () => {
      const roomId = await createRoom({ preset: 'trusted_private_chat', invite: [bob.user_id] });
      const state = await api.get<Body[]>(`${CLIENT_V3}/rooms/${roomId}/state`, {
        token: alice.access_token,
      });
      const contentOf = (type: string) => state.body.find((e) => e.type === type)!.content as Body;
      const users = contentOf('m.room.power_levels').users as Body;
      if (version === '12') {
        assert.deepEqual(contentOf('m.room.create').additional_creators, [bob.user_id]);
        assert.deepEqual(users, {});
      } else {
        assert.equal(contentOf('m.room.create').additional_creators, undefined);
        assert.deepEqual(users, { [alice.user_id]: 100, [bob.user_id]: 100 });
      }
    });

    it('refuses unknown room versions and oversized events', async () => {
      const unknown = await api.post(
        `${CLIENT_V3}/createRoom`,
        { room_version: '9999' },
        { token: alice.access_token },
      );
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.errcode, 'M_UNSUPPORTED_ROOM_VERSION');
      const roomId = await createRoom();
      const big = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/big`,
        { body: 'x'.repeat(70_000) },
        { token: alice.access_token },
      );
      assert.equal(big.status, 413);
      assert.equal(big.body.errcode, 'M_TOO_LARGE');
      const float = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/float`,
        { body: 'x', n: 1.5 },
        { token: alice.access_token },
      );
      assert.equal(float.status, 400);
      assert.equal(float.body.errcode, 'M_BAD_JSON');
    });
  });
}

describe('room state storage', () => {
  const suite = serverSuite();
  const { api } = suite;

  it('answers the state after any event, across delta chains and snapshots', async () => {
    const carol = await suite.register('carol');
    const roomId = await suite.createRoom(carol);
    const topicEvents: string[] = [];
    // More state changes than one delta chain holds (a snapshot every 64 links).
    for (let i = 0; i < 150; i++) {
      const res = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/state/m.room.topic`,
        { topic: `t${i}` },
        { token: carol.access_token },
      );
      topicEvents.push(String(res.body.event_id));
    }
    const message = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/m`,
      { body: 'x' },
      { token: carol.access_token },
    );
    const rooms = suite.server.weft.storage.rooms;
    const topicKey = stateMapKey('m.room.topic', '');
    for (const i of [0, 1, 62, 63, 64, 65, 100, 149]) {
      const state = await rooms.stateIdsAfter(topicEvents[i]!);
      assert.equal(state?.get(topicKey), topicEvents[i], `state after topic ${i}`);
      assert.equal(
        state?.size,
        7,
        'create, member, power levels, join rules, history, guest access, topic',
      );
    }
    const afterMessage = await rooms.stateIdsAfter(String(message.body.event_id));
    assert.deepEqual(afterMessage, await rooms.currentStateIds(roomId));
  });
});

describe('room members', () => {
  const suite = serverSuite();
  const { api } = suite;

  it('lists members with membership filters, and joined members', async () => {
    const dan = await suite.register('dan');
    await suite.register('erin');
    const roomId = await suite.createRoom(dan, { invite: ['@erin:localhost'] });
    const all = await api.get<{ chunk: Body[] }>(`${CLIENT_V3}/rooms/${roomId}/members`, {
      token: dan.access_token,
    });
    assert.deepEqual(
      all.body.chunk.map((e) => [e.state_key, (e.content as Body).membership]).sort(),
      [
        ['@dan:localhost', 'join'],
        ['@erin:localhost', 'invite'],
      ],
    );
    const invited = await api.get<{ chunk: Body[] }>(
      `${CLIENT_V3}/rooms/${roomId}/members?membership=invite`,
      { token: dan.access_token },
    );
    assert.deepEqual(
      invited.body.chunk.map((e) => e.state_key),
      ['@erin:localhost'],
    );
    const notInvited = await api.get<{ chunk: Body[] }>(
      `${CLIENT_V3}/rooms/${roomId}/members?not_membership=invite`,
      { token: dan.access_token },
    );
    assert.deepEqual(
      notInvited.body.chunk.map((e) => e.state_key),
      ['@dan:localhost'],
    );
    const joined = await api.get(`${CLIENT_V3}/rooms/${roomId}/joined_members`, {
      token: dan.access_token,
    });
    assert.deepEqual(joined.body, { joined: { '@dan:localhost': { display_name: 'dan' } } });
  });
});

describe('transaction IDs across a restart', () => {
  it('a retried send after a restart returns the first event and stores nothing new', async () => {
    await withServer(async (suite) => {
      const { api, server } = suite;
      const fay = await api.register('fay');
      const roomId = await suite.createRoom(fay);
      const path = `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/persisted-txn`;
      const first = await api.put(path, { body: 'once' }, { token: fay.access_token });
      assert.equal(first.status, 200);
      const extremitiesBefore = await server.weft.storage.rooms.forwardExtremities(roomId);

      await server.restart();
      const retry = await api.put(path, { body: 'once' }, { token: fay.access_token });
      assert.equal(retry.status, 200);
      assert.equal(retry.body.event_id, first.body.event_id);
      assert.deepEqual(
        await server.weft.storage.rooms.forwardExtremities(roomId),
        extremitiesBefore,
      );
    });
  });
});

describe('room creation under load', () => {
  const suite = serverSuite();

  it('gives every room of one user made at once its own ID (v12 IDs hash the create event)', async () => {
    const gus = await suite.register('gus');
    const { weft } = suite.server;
    // In-process requests, all started in one tick: their create events share a millisecond.
    const created = await Promise.all(
      Array.from({ length: 50 }, () =>
        weft.app.inject({
          method: 'POST',
          url: `${CLIENT_V3}/createRoom`,
          headers: { authorization: `Bearer ${gus.access_token}` },
          payload: {},
        }),
      ),
    );
    assert.deepEqual(
      created.map((r) => r.statusCode),
      created.map(() => 200),
    );
    const roomIds = created.map((r) => (r.json() as { room_id: string }).room_id);
    assert.equal(new Set(roomIds).size, 50);
  });
});
