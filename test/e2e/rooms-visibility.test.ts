/**
 * Who may read what of a room: redacted content kept out of `prev_content`,
 * GET /event's 404 for events the user may not read, /forget ending access to
 * history (until a new membership), and GET /aliases in world-readable rooms.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { assertResponseMatchesSpec, expectError } from '../support/spec-schemas.js';

type Body = Record<string, unknown>;
interface Event {
  event_id: string;
  type: string;
  state_key?: string;
  content: Body;
  unsigned?: Body;
}
interface SyncBody {
  rooms?: {
    join?: Record<string, { timeline: { events: Event[] } }>;
    leave?: Record<string, unknown>;
  };
}

const SECRET = 'the secret topic';
const INCLUDE_LEAVE = JSON.stringify({ room: { include_leave: true } });

for (const version of ['12', '11']) {
  describe(`room visibility, version ${version}`, () => {
    const suite = serverSuite();
    const { api } = suite;
    const [alice, bob, carol] = suite.users('alice', 'bob', 'carol');

    const rooms = (roomId: string) => `${CLIENT_V3}/rooms/${roomId}`;
    const ok = <T>(res: { status: number; body: T }) => {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body;
    };
    const createRoom = (body: Body = {}) =>
      suite.createRoom(alice, { room_version: version, ...body });
    let txn = 0;
    const setTopic = async (roomId: string, topic: string) =>
      String(
        ok(
          await api.put(
            `${rooms(roomId)}/state/m.room.topic`,
            { topic },
            { token: alice.access_token },
          ),
        ).event_id,
      );
    const redact = async (roomId: string, eventId: string) =>
      ok(
        await api.put(
          `${rooms(roomId)}/redact/${eventId}/r${++txn}`,
          {},
          { token: alice.access_token },
        ),
      );
    const membership = async (who: Session, roomId: string, action: 'join' | 'leave') =>
      ok(await api.post(`${rooms(roomId)}/${action}`, {}, { token: who.access_token }));
    const forget = async (who: Session, roomId: string) =>
      ok(await api.post(`${rooms(roomId)}/forget`, {}, { token: who.access_token }));
    const sync = async (who: Session, filter?: string) => {
      const query = filter === undefined ? '' : `?filter=${encodeURIComponent(filter)}`;
      return ok(await api.get<SyncBody>(`${CLIENT_V3}/sync${query}`, { token: who.access_token }));
    };
    const messages = (who: Session, roomId: string) =>
      api.get<{ chunk: Event[] }>(`${rooms(roomId)}/messages?dir=b&limit=50`, {
        token: who.access_token,
      });
    const getEvent = (who: Session, roomId: string, eventId: string) =>
      api.get<Event>(`${rooms(roomId)}/event/${eventId}`, { token: who.access_token });

    it('serves the redacted content of a redacted replaced state event as prev_content', async () => {
      const roomId = await createRoom();
      const secret = await setTopic(roomId, SECRET);
      await redact(roomId, secret);
      const current = await setTopic(roomId, 'the new topic');

      const state = ok(
        await api.get<Event[]>(`${rooms(roomId)}/state`, { token: alice.access_token }),
      );
      const views: Event[] = [
        state.find((e) => e.type === 'm.room.topic')!,
        ok(await getEvent(alice, roomId, current)),
        ok(await messages(alice, roomId)).chunk.find((e) => e.event_id === current)!,
        (await sync(alice)).rooms!.join![roomId]!.timeline.events.find(
          (e) => e.event_id === current,
        )!,
      ];
      for (const view of views) {
        assert.equal(view.event_id, current);
        assert.equal(view.unsigned?.replaces_state, secret);
        // A topic's content has no key the redaction algorithm keeps.
        assert.deepEqual(view.unsigned?.prev_content, {});
        assert.doesNotMatch(JSON.stringify(view), new RegExp(SECRET));
      }
    });

    it('answers GET /event with 404 M_NOT_FOUND to those who may not read the room', async () => {
      const roomId = await createRoom({ preset: 'private_chat' });
      await api.put(
        `${rooms(roomId)}/state/m.room.history_visibility`,
        { history_visibility: 'joined' },
        { token: alice.access_token },
      );
      const eventId = await suite.send(alice, roomId, 'members only');
      ok(
        await api.post(
          `${rooms(roomId)}/invite`,
          { user_id: bob.user_id },
          { token: alice.access_token },
        ),
      );

      const eventPath = `${CLIENT_V3}/rooms/{roomId}/event/{eventId}`;
      for (const [who, room] of [
        [carol, roomId], // a stranger
        [bob, roomId], // an invitee of a joined-visibility room
        [carol, '!unknown:localhost'],
      ] as const) {
        const res = await getEvent(who, room, eventId);
        expectError(res, 404, 'M_NOT_FOUND');
        assertResponseMatchesSpec('get', eventPath, 404, res.body);
      }
      // /messages and /context keep their own 403 for non-members.
      expectError(await messages(carol, roomId), 403, 'M_FORBIDDEN');
      expectError(
        await api.get(`${rooms(roomId)}/context/${eventId}`, { token: carol.access_token }),
        403,
        'M_FORBIDDEN',
      );
    });

    it('refuses the history of a forgotten room until the user joins again', async () => {
      const roomId = await createRoom({ preset: 'public_chat' });
      await membership(bob, roomId, 'join');
      const eventId = await suite.send(alice, roomId, 'before the forget');
      await membership(bob, roomId, 'leave');
      assert.equal(ok(await getEvent(bob, roomId, eventId)).event_id, eventId, 'left: readable');
      await forget(bob, roomId);

      expectError(await messages(bob, roomId), 403, 'M_FORBIDDEN');
      expectError(await getEvent(bob, roomId, eventId), 404, 'M_NOT_FOUND');
      const other = (path: string) =>
        api.get(`${rooms(roomId)}/${path}`, { token: bob.access_token });
      expectError(await other('members'), 403, 'M_FORBIDDEN');
      expectError(await other(`context/${eventId}`), 403, 'M_FORBIDDEN');
      // This sync also fills the server's cache of forgotten rooms.
      assert.equal((await sync(bob, INCLUDE_LEAVE)).rooms?.leave?.[roomId], undefined);

      await membership(bob, roomId, 'join');
      const history = ok(await messages(bob, roomId)).chunk;
      assert.ok(
        history.some((e) => e.event_id === eventId),
        'history readable again',
      );
      assert.equal(ok(await getEvent(bob, roomId, eventId)).event_id, eventId);
      await membership(bob, roomId, 'leave');
      assert.ok((await sync(bob, INCLUDE_LEAVE)).rooms?.leave?.[roomId], 'listed as left again');
    });

    it('stops treating a room as forgotten once the user is invited to it again', async () => {
      const roomId = await createRoom({ preset: 'private_chat' });
      const invite = () =>
        api.post(
          `${rooms(roomId)}/invite`,
          { user_id: carol.user_id },
          { token: alice.access_token },
        );
      ok(await invite());
      await membership(carol, roomId, 'join');
      await membership(carol, roomId, 'leave');
      await forget(carol, roomId);
      assert.equal((await sync(carol, INCLUDE_LEAVE)).rooms?.leave?.[roomId], undefined);

      ok(await invite());
      await membership(carol, roomId, 'leave'); // rejecting the invite
      assert.ok((await sync(carol, INCLUDE_LEAVE)).rooms?.leave?.[roomId], 'listed as left again');
    });

    it('lists the aliases of a world-readable room to anyone, of a shared room to members only', async () => {
      const aliasesPath = `${CLIENT_V3}/rooms/{roomId}/aliases`;
      const withAlias = async (name: string, visibility: string) => {
        const roomId = await createRoom({
          preset: 'public_chat',
          initial_state: [
            { type: 'm.room.history_visibility', content: { history_visibility: visibility } },
          ],
        });
        const alias = `#${name}-${version}:localhost`;
        ok(
          await api.put(
            `${CLIENT_V3}/directory/room/${encodeURIComponent(alias)}`,
            { room_id: roomId },
            { token: alice.access_token },
          ),
        );
        return { roomId, alias };
      };
      const readable = await withAlias('readable', 'world_readable');
      const listed = await api.get(`${rooms(readable.roomId)}/aliases`, {
        token: carol.access_token,
      });
      assert.deepEqual(ok(listed), { aliases: [readable.alias] });
      assertResponseMatchesSpec('get', aliasesPath, 200, listed.body);

      const shared = await withAlias('shared', 'shared');
      const refused = await api.get(`${rooms(shared.roomId)}/aliases`, {
        token: carol.access_token,
      });
      expectError(refused, 403, 'M_FORBIDDEN');
      assertResponseMatchesSpec('get', aliasesPath, 403, refused.body);
    });
  });
}
