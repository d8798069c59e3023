import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Api, CLIENT_V3, type ApiResponse, type Session } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { assertResponseMatchesSpec, assertSpecError } from '../support/spec-schemas.js';

type Body = Record<string, unknown>;
type Event = {
  event_id: string;
  type: string;
  sender: string;
  state_key?: string;
  content: Body;
  room_id?: string;
};
interface RoomSection {
  timeline: { events: Event[]; limited: boolean; prev_batch: string };
  state: { events: Event[] };
  summary?: Body;
  unread_notifications?: Body;
  account_data?: { events: Event[] };
}
interface SyncBody {
  next_batch: string;
  rooms: {
    join: Record<string, RoomSection>;
    invite: Record<string, { invite_state: { events: Event[] } }>;
    leave: Record<string, RoomSection>;
    knock: Record<string, { knock_state: { events: Event[] } }>;
  };
  device_one_time_keys_count: Body;
  device_unused_fallback_key_types: string[];
  device_lists?: Body;
  account_data: Body;
  presence: Body;
  to_device: Body;
}

const SYNC = `${CLIENT_V3}/sync`;

function expectSync(res: ApiResponse<unknown>): SyncBody {
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assertResponseMatchesSpec('get', SYNC, 200, res.body);
  return res.body as SyncBody;
}

for (const version of ['12', '11']) {
  describe(`sync, version ${version}`, () => {
    let server: TestServer;
    let api: Api;
    let alice: Session;
    let bob: Session;
    before(async () => {
      server = await startTestServer();
      api = new Api(server.url);
      alice = await api.register('alice');
      bob = await api.register('bob');
    });
    after(() => server.close());

    const sync = async (who: Session, query: Record<string, string> = {}) => {
      const params = new URLSearchParams(query).toString();
      return expectSync(
        await api.get(`${SYNC}${params ? `?${params}` : ''}`, { token: who.access_token }),
      );
    };
    const createRoom = async (who: Session, body: Body = {}) => {
      const res = await api.post(
        `${CLIENT_V3}/createRoom`,
        { room_version: version, ...body },
        { token: who.access_token },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return String(res.body.room_id);
    };
    let txn = 0;
    const send = async (who: Session, roomId: string, body: string) => {
      const res = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/t${++txn}`,
        { msgtype: 'm.text', body },
        { token: who.access_token },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return String(res.body.event_id);
    };
    const join = async (who: Session, roomId: string) => {
      const res = await api.post(`${CLIENT_V3}/join/${roomId}`, {}, { token: who.access_token });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    const bodies = (events: Event[]) =>
      events.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);

    it('gives an initial sync with the room state, the timeline and the fields the prose requires', async () => {
      const roomId = await createRoom(alice, { name: 'Initial' });
      await send(alice, roomId, 'hello');
      const body = await sync(alice);
      assert.match(body.next_batch, /^s\d+_/);
      // Prose-only requirements: a count of 0 is still sent, and the fallback key types.
      assert.deepEqual(body.device_one_time_keys_count, { signed_curve25519: 0 });
      assert.deepEqual(body.device_unused_fallback_key_types, []);
      // The only account data of a new user: the push rules every initial sync carries.
      assert.deepEqual(
        (body.account_data.events as Event[]).map((e) => e.type),
        ['m.push_rules'],
      );
      assert.deepEqual(body.to_device, { events: [] });
      const room = body.rooms.join[roomId];
      assert.ok(room, 'the new room is under rooms.join');
      assert.deepEqual(bodies(room.timeline.events), ['hello']);
      assert.equal(room.timeline.events.at(-1)?.room_id, undefined, 'sync events carry no room_id');
      const allTypes = new Set([...room.state.events, ...room.timeline.events].map((e) => e.type));
      for (const type of ['m.room.create', 'm.room.member', 'm.room.power_levels', 'm.room.name']) {
        assert.ok(allTypes.has(type), `${type} is in state or timeline`);
      }
      // State is the state at the start of the timeline: nothing in both.
      const timelineIds = new Set(room.timeline.events.map((e) => e.event_id));
      assert.ok(room.state.events.every((e) => !timelineIds.has(e.event_id)));
      assert.equal(room.summary?.['m.joined_member_count'], 1);
      assert.deepEqual(room.unread_notifications, { notification_count: 0, highlight_count: 0 });
      assert.equal(body.device_lists, undefined, 'device_lists only on incremental syncs');
    });

    it('gives only what changed in an incremental sync, and an empty answer when nothing did', async () => {
      const roomId = await createRoom(alice);
      const first = await sync(alice);
      await send(alice, roomId, 'after since');
      const second = await sync(alice, { since: first.next_batch });
      assert.deepEqual(Object.keys(second.rooms.join), [roomId]);
      assert.deepEqual(bodies(second.rooms.join[roomId]!.timeline.events), ['after since']);
      assert.equal(second.rooms.join[roomId]!.timeline.limited, false);
      assert.deepEqual(second.rooms.join[roomId]!.state.events, []);
      assert.deepEqual(second.device_lists, { changed: [], left: [] });
      const started = Date.now();
      const third = await sync(alice, { since: second.next_batch, timeout: '300' });
      assert.ok(Date.now() - started >= 250, 'an empty sync waits for its timeout');
      assert.deepEqual(third.rooms.join, {});
      assert.deepEqual(third.device_one_time_keys_count, { signed_curve25519: 0 });
    });

    it("wakes another user's long-poll within a second of a message", async () => {
      const roomId = await createRoom(alice, { preset: 'public_chat' });
      await join(bob, roomId);
      const { next_batch: since } = await sync(bob);
      const started = Date.now();
      const polling = sync(bob, { since, timeout: '10000' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await send(alice, roomId, 'wake up');
      const woken = await polling;
      assert.ok(Date.now() - started < 1000, `woke after ${Date.now() - started} ms`);
      assert.deepEqual(bodies(woken.rooms.join[roomId]!.timeline.events), ['wake up']);
    });

    it('marks a gap as limited, and /messages from prev_batch returns exactly the missing events', async () => {
      const roomId = await createRoom(alice);
      const { next_batch: since } = await sync(alice);
      const sent: string[] = [];
      for (let i = 0; i < 15; i++) {
        sent.push(`m${i}`);
        await send(alice, roomId, `m${i}`);
      }
      const filter = JSON.stringify({ room: { timeline: { limit: 5 } } });
      const body = await sync(alice, { since, filter });
      const room = body.rooms.join[roomId]!;
      assert.equal(room.timeline.limited, true);
      assert.deepEqual(bodies(room.timeline.events), sent.slice(10));
      const res = await api.get(
        `${CLIENT_V3}/rooms/${roomId}/messages?dir=b&limit=100&from=${room.timeline.prev_batch}&to=${since}`,
        { token: alice.access_token },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assertResponseMatchesSpec('get', `${CLIENT_V3}/rooms/{roomId}/messages`, 200, res.body);
      const chunk = (res.body as { chunk: Event[] }).chunk;
      assert.deepEqual(bodies(chunk), sent.slice(0, 10).reverse());
      assert.equal(chunk.length, 10, 'nothing but the gap');
    });

    it('pages back through /messages to the first event of the room, then gives no end', async () => {
      const roomId = await createRoom(alice);
      for (let i = 0; i < 7; i++) await send(alice, roomId, `p${i}`);
      const seen: Event[] = [];
      let from: string | undefined;
      for (let pages = 0; pages < 20; pages++) {
        const query = `dir=b&limit=4${from ? `&from=${from}` : ''}`;
        const res = await api.get<{ chunk: Event[]; end?: string; start: string }>(
          `${CLIENT_V3}/rooms/${roomId}/messages?${query}`,
          { token: alice.access_token },
        );
        assert.equal(res.status, 200, JSON.stringify(res.body));
        seen.push(...res.body.chunk);
        if (res.body.end === undefined) break;
        from = res.body.end;
      }
      assert.equal(seen.at(-1)?.type, 'm.room.create', 'the last page ends at the create event');
      assert.deepEqual(bodies(seen), ['p6', 'p5', 'p4', 'p3', 'p2', 'p1', 'p0']);
      const forward = await api.get<{ chunk: Event[] }>(
        `${CLIENT_V3}/rooms/${roomId}/messages?dir=f&limit=3`,
        { token: alice.access_token },
      );
      assert.equal(forward.body.chunk[0]?.type, 'm.room.create');
    });

    it('shows invites with stripped state, and a left room under leave with the leave event', async () => {
      const roomId = await createRoom(alice, { name: 'Invite me', preset: 'private_chat' });
      const { next_batch: since } = await sync(bob);
      const invite = await api.post(
        `${CLIENT_V3}/rooms/${roomId}/invite`,
        { user_id: bob.user_id },
        { token: alice.access_token },
      );
      assert.equal(invite.status, 200);
      const invited = await sync(bob, { since });
      const stripped = invited.rooms.invite[roomId]!.invite_state.events;
      const types = stripped.map((e) => e.type);
      for (const type of ['m.room.create', 'm.room.join_rules', 'm.room.name', 'm.room.member']) {
        assert.ok(types.includes(type), `invite_state has ${type}`);
      }
      const own = stripped.find((e) => e.type === 'm.room.member');
      assert.equal(own?.state_key, bob.user_id);
      assert.equal(own?.content.membership, 'invite');

      await join(bob, roomId);
      const joined = await sync(bob, { since: invited.next_batch });
      const room = joined.rooms.join[roomId]!;
      assert.ok(room, 'the joined room moves to rooms.join');
      // A fresh join gets the room from its start: whatever the timeline does not hold is in state.
      const seen = [...room.state.events, ...room.timeline.events].map((e) => e.type);
      assert.ok(seen.includes('m.room.create') && seen.includes('m.room.name'), 'full state');
      const tagged = await api.put(
        `${CLIENT_V3}/user/${encodeURIComponent(bob.user_id)}/rooms/${roomId}/account_data/x.note`,
        { kept: true },
        { token: bob.access_token },
      );
      assert.equal(tagged.status, 200);

      const leave = await api.post(
        `${CLIENT_V3}/rooms/${roomId}/leave`,
        {},
        { token: bob.access_token },
      );
      assert.equal(leave.status, 200);
      const left = await sync(bob, { since: joined.next_batch });
      const leaveEvent = left.rooms.leave[roomId]!.timeline.events.at(-1);
      assert.equal(leaveEvent?.type, 'm.room.member');
      assert.equal(leaveEvent?.content.membership, 'leave');
      assert.equal(left.rooms.join[roomId], undefined);

      const initial = await sync(bob);
      assert.equal(initial.rooms.leave[roomId], undefined, 'no left rooms unless include_leave');
      const withLeave = await sync(bob, {
        filter: JSON.stringify({ room: { include_leave: true } }),
      });
      assert.ok(withLeave.rooms.leave[roomId], 'include_leave lists the left room');
      // The room's account data stays the user's after leaving, and comes with the room.
      for (const section of [left.rooms.leave[roomId]!, withLeave.rooms.leave[roomId]!]) {
        assert.deepEqual(section.account_data?.events, [
          { type: 'x.note', content: { kept: true } },
        ]);
      }
    });

    it('shows a knock under rooms.knock with stripped state, the knock itself included', async () => {
      const roomId = await createRoom(alice, { name: 'Knock here' });
      const rule = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/state/m.room.join_rules/`,
        { join_rule: 'knock' },
        { token: alice.access_token },
      );
      assert.equal(rule.status, 200);
      const knocker = await api.register(`knocker${version}`);
      const { next_batch: since } = await sync(knocker);
      const knock = await api.post(
        `${CLIENT_V3}/knock/${roomId}`,
        {},
        { token: knocker.access_token },
      );
      assert.equal(knock.status, 200, JSON.stringify(knock.body));
      const body = await sync(knocker, { since });
      const stripped = body.rooms.knock[roomId]!.knock_state.events;
      const types = stripped.map((e) => e.type);
      for (const type of ['m.room.create', 'm.room.join_rules', 'm.room.name', 'm.room.member']) {
        assert.ok(types.includes(type), `knock_state has ${type}`);
      }
      const own = stripped.find((e) => e.type === 'm.room.member');
      assert.equal(own?.content.membership, 'knock');
      assert.equal(body.rooms.join[roomId], undefined);
      // The room's members see the knock in their timeline.
      const atAlice = await sync(alice);
      const timeline = atAlice.rooms.join[roomId]!.timeline.events;
      assert.ok(
        timeline.some((e) => e.state_key === knocker.user_id && e.content.membership === 'knock'),
      );
    });

    it("hides history from before a user's join in a joined-visibility room", async () => {
      const roomId = await createRoom(alice, { preset: 'public_chat' });
      const visibility = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/state/m.room.history_visibility/`,
        { history_visibility: 'joined' },
        { token: alice.access_token },
      );
      assert.equal(visibility.status, 200);
      const secretId = await send(alice, roomId, 'secret before join');
      const charlie = await api.register(`charlie${version}`);
      await join(charlie, roomId);
      await send(alice, roomId, 'after join');
      const body = await sync(charlie);
      assert.deepEqual(bodies(body.rooms.join[roomId]!.timeline.events), ['after join']);
      const messages = await api.get<{ chunk: Event[] }>(
        `${CLIENT_V3}/rooms/${roomId}/messages?dir=b&limit=50`,
        { token: charlie.access_token },
      );
      assert.deepEqual(bodies(messages.body.chunk), ['after join']);
      const hidden = await api.get(`${CLIENT_V3}/rooms/${roomId}/event/${secretId}`, {
        token: charlie.access_token,
      });
      assert.equal(hidden.status, 404, 'an invisible event is not found');
      assertSpecError(hidden.body, 'M_NOT_FOUND');
      const shown = await api.get(`${CLIENT_V3}/rooms/${roomId}/event/${secretId}`, {
        token: alice.access_token,
      });
      assert.equal(shown.status, 200);
    });

    it('gives the members at a sync token with /members?at=', async () => {
      const roomId = await createRoom(alice, { preset: 'public_chat' });
      const { next_batch: beforeJoin } = await sync(alice);
      const frank = await api.register(`frank${version}`);
      await join(frank, roomId);
      const membersAt = async (at?: string) => {
        const query = at === undefined ? '' : `?at=${at}`;
        const res = await api.get<{ chunk: Event[] }>(
          `${CLIENT_V3}/rooms/${roomId}/members${query}`,
          { token: alice.access_token },
        );
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assertResponseMatchesSpec('get', `${CLIENT_V3}/rooms/{roomId}/members`, 200, res.body);
        return res.body.chunk.map((e) => e.state_key).sort();
      };
      assert.deepEqual(await membersAt(beforeJoin), [alice.user_id]);
      assert.deepEqual(await membersAt(), [alice.user_id, frank.user_id].sort());
      const bad = await api.get(`${CLIENT_V3}/rooms/${roomId}/members?at=yesterday`, {
        token: alice.access_token,
      });
      assert.equal(bad.status, 400);
      assertSpecError(bad.body, 'M_INVALID_PARAM');
    });

    it('lazy-loads only the member events of the timeline senders and the heroes', async () => {
      const roomId = await createRoom(alice, { preset: 'public_chat' });
      const dave = await api.register(`dave${version}`);
      const erin = await api.register(`erin${version}`);
      await join(dave, roomId);
      await join(erin, roomId);
      for (let i = 0; i < 3; i++) await send(dave, roomId, `dave ${i}`);
      const filter = JSON.stringify({
        room: { timeline: { limit: 3 }, state: { lazy_load_members: true } },
      });
      const body = await sync(alice, { filter });
      const members = body.rooms.join[roomId]!.state.events.filter(
        (e) => e.type === 'm.room.member',
      )
        .map((e) => e.state_key)
        .sort();
      // Erin sent nothing but is a hero of the summary: sync.yaml says the heroes' member
      // events MUST be included when lazy-loading.
      assert.deepEqual(body.rooms.join[roomId]!.summary?.['m.heroes'], [
        dave.user_id,
        erin.user_id,
      ]);
      assert.deepEqual(members, [alice.user_id, dave.user_id, erin.user_id].sort());
      const messages = await api.get<{ state?: Event[] }>(
        `${CLIENT_V3}/rooms/${roomId}/messages?dir=b&limit=2&filter=${encodeURIComponent(
          JSON.stringify({ lazy_load_members: true }),
        )}`,
        { token: alice.access_token },
      );
      assert.deepEqual(
        messages.body.state?.map((e) => e.state_key),
        [dave.user_id],
      );
    });

    it('answers full_state at once with the whole state, and uses a stored filter by ID', async () => {
      const roomId = await createRoom(alice);
      const first = await sync(alice);
      await send(alice, roomId, 'after since 1');
      await send(alice, roomId, 'after since 2');
      const upload = await api.post(
        `${CLIENT_V3}/user/${encodeURIComponent(alice.user_id)}/filter`,
        { room: { timeline: { limit: 1 } } },
        { token: alice.access_token },
      );
      assert.equal(upload.status, 200);
      const started = Date.now();
      const full = await sync(alice, {
        since: first.next_batch,
        full_state: 'true',
        timeout: '5000',
        filter: String(upload.body.filter_id),
      });
      assert.ok(Date.now() - started < 2000, 'full_state ignores timeout');
      const room = full.rooms.join[roomId]!;
      assert.ok(room.state.events.some((e) => e.type === 'm.room.create'));
      assert.equal(room.timeline.events.length, 1, 'the stored filter limit applies');
      assert.equal(room.timeline.events[0]!.content.body, 'after since 2');
      // "The timeline will still be limited by the since parameter": nothing new, none.
      const again = await sync(alice, { since: full.next_batch, full_state: 'true' });
      const same = again.rooms.join[roomId]!;
      assert.deepEqual(same.timeline.events, []);
      assert.ok(same.state.events.some((e) => e.type === 'm.room.create'));
    });

    it('refuses malformed parameters with 400, not 500', async () => {
      for (const query of [
        'since=garbage',
        'since=s1_1_2',
        'timeout=soon',
        'full_state=yes',
        'set_presence=busy',
        'filter=%7Bnot%20json',
        'filter=999999',
      ]) {
        const res = await api.get(`${SYNC}?${query}`, { token: alice.access_token });
        assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
        assertSpecError(res.body);
      }
      const roomId = await createRoom(alice);
      for (const query of ['', 'dir=x', 'dir=b&from=nope', 'dir=b&limit=-1']) {
        const res = await api.get(`${CLIENT_V3}/rooms/${roomId}/messages?${query}`, {
          token: alice.access_token,
        });
        assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
        assertSpecError(res.body);
      }
      const unauthenticated = await api.get(SYNC);
      assert.equal(unauthenticated.status, 401);
      assertSpecError(unauthenticated.body, 'M_MISSING_TOKEN');
    });

    it('refuses /messages and /context to users who were never in the room', async () => {
      const roomId = await createRoom(alice, { preset: 'private_chat' });
      const eventId = await send(alice, roomId, 'private');
      const messages = await api.get(`${CLIENT_V3}/rooms/${roomId}/messages?dir=b`, {
        token: bob.access_token,
      });
      assert.equal(messages.status, 403);
      assertSpecError(messages.body, 'M_FORBIDDEN');
      const context = await api.get(`${CLIENT_V3}/rooms/${roomId}/context/${eventId}`, {
        token: bob.access_token,
      });
      assert.equal(context.status, 403);
    });

    it('gives the context of an event: events before and after, and the state', async () => {
      const roomId = await createRoom(alice);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await send(alice, roomId, `c${i}`));
      const res = await api.get(`${CLIENT_V3}/rooms/${roomId}/context/${ids[2]}?limit=2`, {
        token: alice.access_token,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assertResponseMatchesSpec(
        'get',
        `${CLIENT_V3}/rooms/{roomId}/context/{eventId}`,
        200,
        res.body,
      );
      const body = res.body as {
        event: Event;
        events_before: Event[];
        events_after: Event[];
        state: Event[];
      };
      assert.equal(body.event.event_id, ids[2]);
      assert.deepEqual(bodies(body.events_before), ['c1']);
      assert.deepEqual(bodies(body.events_after), ['c3']);
      assert.ok(body.state.some((e) => e.type === 'm.room.create'));
      // event_context.yaml: the filter applies to the state too.
      const filter = encodeURIComponent(JSON.stringify({ types: ['m.room.create'] }));
      const filtered = await api.get<{ state: Event[] }>(
        `${CLIENT_V3}/rooms/${roomId}/context/${ids[2]}?limit=2&filter=${filter}`,
        { token: alice.access_token },
      );
      assert.deepEqual(
        filtered.body.state.map((e) => e.type),
        ['m.room.create'],
      );
    });

    it('names former members as heroes once nobody else is joined or invited', async () => {
      const roomId = await createRoom(alice, { preset: 'public_chat' });
      const gina = await api.register(`gina${version}`);
      await join(gina, roomId);
      await api.post(`${CLIENT_V3}/rooms/${roomId}/leave`, {}, { token: gina.access_token });
      const body = await sync(alice);
      assert.deepEqual(body.rooms.join[roomId]!.summary?.['m.heroes'], [gina.user_id]);
    });

    it('sends heroes (and, lazy-loading, their member events) only for a room with no name or alias', async () => {
      const lazy = JSON.stringify({
        room: { timeline: { limit: 2 }, state: { lazy_load_members: true } },
      });
      const others = await Promise.all(
        ['a', 'b', 'c'].map((n) => api.register(`hero${n}${version}`)),
      );
      const named = await createRoom(alice, { preset: 'public_chat', name: 'Named' });
      const aliased = await createRoom(alice, {
        preset: 'public_chat',
        room_alias_name: `heroes${version}`,
      });
      const unnamed = await createRoom(alice, { preset: 'public_chat' });
      for (const roomId of [named, aliased, unnamed]) {
        for (const other of others) await join(other, roomId);
        await send(alice, roomId, 'only alice talks');
        await send(alice, roomId, 'still alice');
      }
      const sectionOf = async (who: Session, roomId: string, query: Record<string, string>) => {
        const synced = await sync(who, query);
        return { synced, room: synced.rooms.join[roomId]! };
      };
      const membersIn = (room: RoomSection) =>
        room.state.events
          .filter((e) => e.type === 'm.room.member')
          .map((e) => e.state_key)
          .sort();
      const viewer = others[0]!;
      for (const roomId of [named, aliased]) {
        const { room } = await sectionOf(viewer, roomId, { filter: lazy });
        assert.equal(room.summary?.['m.heroes'], undefined, 'named or aliased: no heroes');
        assert.equal(room.summary?.['m.joined_member_count'], 4);
        assert.equal(room.summary?.['m.invited_member_count'], 0);
        assert.deepEqual(membersIn(room), [alice.user_id, viewer.user_id].sort());
      }
      const { synced, room } = await sectionOf(viewer, unnamed, { filter: lazy });
      const heroes = [alice.user_id, others[1]!.user_id, others[2]!.user_id].sort();
      assert.deepEqual(room.summary?.['m.heroes'], heroes);
      assert.deepEqual(membersIn(room), [...heroes, viewer.user_id].sort());

      // The name emptied: the next sync's summary names heroes again, with their member events.
      const emptied = await api.put(
        `${CLIENT_V3}/rooms/${named}/state/m.room.name`,
        { name: '' },
        { token: alice.access_token },
      );
      assert.equal(emptied.status, 200);
      const next = await sync(viewer, { filter: lazy, since: synced.next_batch });
      const after = next.rooms.join[named]!;
      assert.deepEqual(after.summary?.['m.heroes'], heroes);
      const sent = [...after.state.events, ...after.timeline.events]
        .filter((e) => e.type === 'm.room.member')
        .map((e) => e.state_key);
      for (const hero of heroes) assert.ok(sent.includes(hero), `${hero}'s member event`);
    });
  });
}
