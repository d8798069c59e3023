import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ApiResponse, CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { assertResponseMatchesSpec, assertSpecError } from '../support/spec-schemas.js';

type Body = Record<string, unknown>;
type Event = {
  event_id: string;
  room_id: string;
  type: string;
  sender: string;
  state_key?: string;
  content: Body;
};
interface Messages {
  chunk: Event[];
  start?: string;
  end: string;
}
interface RoomInfo {
  room_id: string;
  membership?: string;
  messages?: Messages;
  state?: Event[];
  visibility?: string;
  account_data?: Body[];
  invite?: Event;
  presence?: Body[];
}
interface InitialSyncBody {
  end: string;
  rooms: RoomInfo[];
  presence: Body[];
  account_data: Body[];
}
interface EventsBody {
  start: string;
  end: string;
  chunk: Event[];
}

const R0 = '/_matrix/client/r0';
// The spec's path templates: peeking_events.yaml names its operation "/events " (with a space).
const INITIAL_SYNC = `${CLIENT_V3}/initialSync`;
const ROOM_INITIAL_SYNC = `${CLIENT_V3}/rooms/{roomId}/initialSync`;
const EVENTS = `${CLIENT_V3}/events`;
const PEEK_EVENTS = `${CLIENT_V3}/events `;
const EVENT = `${CLIENT_V3}/events/{eventId}`;

/** The room-event position of a sync token (`s1_<roomEvents>_…`). */
function roomPosition(token: string): number {
  const match = /^s\d+_(\d+)_/.exec(token);
  assert.ok(match, `a sync token: ${token}`);
  return Number(match[1]);
}

function bodies(events: Event[]): unknown[] {
  return events.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
}

describe('legacy r0 sync endpoints', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob, carol] = suite.users('alice', 'bob', 'carol');

  const get = <T>(who: Session, path: string, query: Record<string, string> = {}) => {
    const params = new URLSearchParams(query).toString();
    return api.get<T>(`${path}${params ? `?${params}` : ''}`, { token: who.access_token });
  };
  const expectOk = <T>(res: ApiResponse<T>, template: string): T => {
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertResponseMatchesSpec('get', template, 200, res.body);
    return res.body;
  };
  const initialSync = async (who: Session, query: Record<string, string> = {}) =>
    expectOk(await get<InitialSyncBody>(who, INITIAL_SYNC, query), INITIAL_SYNC);
  const events = async (who: Session, query: Record<string, string>) =>
    expectOk(await get<EventsBody>(who, EVENTS, query), EVENTS);
  const roomIn = (body: InitialSyncBody, roomId: string) => {
    const room = body.rooms.find((r) => r.room_id === roomId);
    assert.ok(room, `${roomId} is listed`);
    return room;
  };
  const worldReadable = {
    initial_state: [
      {
        type: 'm.room.history_visibility',
        state_key: '',
        content: { history_visibility: 'world_readable' },
      },
    ],
  };

  it('/initialSync gives each joined room its newest messages, current state and tokens that page with /messages', async () => {
    const roomId = await suite.createRoom(alice, { name: 'Legacy', visibility: 'public' });
    for (const text of ['one', 'two', 'three']) await suite.send(alice, roomId, text);
    const dataPath = `${CLIENT_V3}/user/${encodeURIComponent(alice.user_id)}`;
    const token = { token: alice.access_token };
    await api.put(`${dataPath}/account_data/org.example.global`, { g: 1 }, token);
    await api.put(`${dataPath}/rooms/${roomId}/account_data/org.example.room`, { r: 1 }, token);
    const body = await initialSync(alice, { limit: '2' });
    assert.deepEqual(body.presence, []);
    // The user's account data: the global part at the top, each room's in its room.
    assert.deepEqual(
      body.account_data.filter((e) => e.type === 'org.example.global'),
      [{ type: 'org.example.global', content: { g: 1 } }],
    );
    const room = roomIn(body, roomId);
    assert.equal(room.membership, 'join');
    assert.equal(room.visibility, 'public');
    assert.deepEqual(room.account_data, [{ type: 'org.example.room', content: { r: 1 } }]);
    const messages = room.messages!;
    assert.deepEqual(bodies(messages.chunk), ['two', 'three'], 'the newest, oldest first');
    assert.ok(
      messages.chunk.every((e) => e.room_id === roomId),
      'events carry room_id',
    );
    const stateTypes = new Set(room.state!.map((e) => e.type));
    for (const type of ['m.room.create', 'm.room.member', 'm.room.power_levels', 'm.room.name']) {
      assert.ok(stateTypes.has(type), `${type} is in the state`);
    }
    assert.equal(messages.end, body.end, "a joined room's chunk ends now");
    assert.ok(messages.start, 'earlier events remain');
    const earlier = await get<{ chunk: Event[] }>(alice, `${CLIENT_V3}/rooms/${roomId}/messages`, {
      dir: 'b',
      from: messages.start,
      limit: '1',
    });
    assert.equal(earlier.status, 200, JSON.stringify(earlier.body));
    assert.deepEqual(bodies(earlier.body.chunk), ['one'], '/messages continues from start');
    const whole = roomIn(await initialSync(alice, { limit: '50' }), roomId);
    assert.equal(whole.messages!.chunk[0]?.type, 'm.room.create', 'the whole room fits');
    assert.equal(whole.messages!.start, undefined, 'no start when nothing is earlier');
  });

  it('/initialSync lists invites with the invite event, and left rooms only when archived', async () => {
    const invitedTo = await suite.createRoom(alice, { name: 'Invite' });
    await suite.invite(alice, invitedTo, carol.user_id);
    const leftRoom = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.join(carol, leftRoom);
    await suite.send(alice, leftRoom, 'before carol left');
    await suite.leave(carol, leftRoom);
    await suite.send(alice, leftRoom, 'after carol left');

    const current = await initialSync(carol);
    const invite = roomIn(current, invitedTo);
    assert.equal(invite.membership, 'invite');
    assert.equal(invite.invite?.type, 'm.room.member');
    assert.equal(invite.invite?.state_key, carol.user_id);
    assert.equal(invite.invite?.content.membership, 'invite');
    assert.equal(invite.messages, undefined, 'an invitee reads no messages');
    assert.ok(!current.rooms.some((r) => r.room_id === leftRoom), 'left rooms need archived');

    const archived = await initialSync(carol, { archived: 'true' });
    const left = roomIn(archived, leftRoom);
    assert.equal(left.membership, 'leave');
    const chunk = left.messages!.chunk;
    assert.deepEqual(bodies(chunk), ['before carol left'], 'messages stop at the leave');
    assert.equal(chunk.at(-1)?.content.membership, 'leave');
    assert.ok(roomPosition(left.messages!.end) < roomPosition(archived.end));
    const ownMember = left.state!.find((e) => e.state_key === carol.user_id);
    assert.equal(ownMember?.content.membership, 'leave', 'the state as it was at the leave');
  });

  it('/rooms/{roomId}/initialSync serves members and world-readable peeks, and refuses others', async () => {
    const roomId = await suite.createRoom(alice, { preset: 'private_chat' });
    await suite.send(alice, roomId, 'for members');
    const member = expectOk(
      await get<RoomInfo>(alice, `${CLIENT_V3}/rooms/${roomId}/initialSync`),
      ROOM_INITIAL_SYNC,
    );
    assert.equal(member.room_id, roomId);
    assert.equal(member.membership, 'join');
    assert.equal(member.visibility, 'private');
    assert.deepEqual(member.presence, []);
    assert.deepEqual(bodies(member.messages!.chunk), ['for members']);
    assert.ok(member.state!.some((e) => e.type === 'm.room.create'));

    const refused = await get(bob, `${CLIENT_V3}/rooms/${roomId}/initialSync`);
    assert.equal(refused.status, 403);
    assertSpecError(refused.body, 'M_FORBIDDEN');

    const open = await suite.createRoom(alice, worldReadable);
    await suite.send(alice, open, 'for everyone');
    const peek = expectOk(
      await get<RoomInfo>(bob, `${R0}/rooms/${open}/initialSync`),
      ROOM_INITIAL_SYNC,
    );
    assert.equal(peek.membership, undefined, 'a peeker has no membership');
    assert.deepEqual(bodies(peek.messages!.chunk), ['for everyone']);
  });

  it('/events from an /initialSync token wakes within a second when another user sends', async () => {
    const roomId = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.join(bob, roomId);
    const { end } = await initialSync(bob);
    const started = Date.now();
    const polling = events(bob, { from: end, timeout: '10000' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const eventId = await suite.send(alice, roomId, 'wake up');
    const woken = await polling;
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 1000, `woke after ${elapsed} ms`);
    assert.deepEqual(
      woken.chunk.map((e) => [e.event_id, e.room_id]),
      [[eventId, roomId]],
    );
    assert.equal(woken.start, end, 'start is the from token');
    assert.ok(roomPosition(woken.end) > roomPosition(end));
    // The end token interchanges with /messages: paging back from it starts at the new message.
    const back = await get<{ chunk: Event[] }>(bob, `${CLIENT_V3}/rooms/${roomId}/messages`, {
      dir: 'b',
      from: woken.end,
      limit: '1',
    });
    assert.deepEqual(
      back.body.chunk.map((e) => e.event_id),
      [eventId],
    );
  });

  it('/events times out empty with a new end, not woken by rooms the user is not in', async () => {
    const { end: from } = await initialSync(alice);
    const elsewhere = await suite.createRoom(carol, { preset: 'private_chat' });
    await suite.send(carol, elsewhere, 'not for alice');
    const started = Date.now();
    const polling = events(alice, { from, timeout: '400' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await suite.send(carol, elsewhere, 'still not for alice');
    const body = await polling;
    assert.ok(Date.now() - started >= 350, 'an empty /events waits for its timeout');
    assert.deepEqual(body.chunk, []);
    assert.ok(roomPosition(body.end) > roomPosition(from), 'end moved past the unrelated events');
  });

  it('/events without from waits for what comes next', async () => {
    const roomId = await suite.createRoom(alice);
    await suite.send(alice, roomId, 'old');
    const polling = events(alice, { timeout: '10000' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await suite.send(alice, roomId, 'new');
    assert.deepEqual(bodies((await polling).chunk), ['new']);
  });

  it('/events answers a client far behind in chunks that add up to every event once, in order', async () => {
    // One room (the cut falls inside that room's read), then two (it falls in the merge of rooms).
    for (const rooms of [
      [await suite.createRoom(alice)],
      [await suite.createRoom(alice), await suite.createRoom(alice)],
    ]) {
      const { end: from } = await initialSync(alice);
      const sent: string[] = [];
      for (let i = 0; i < 105; i++) {
        sent.push(`n${i}`);
        await suite.send(alice, rooms[i % rooms.length]!, `n${i}`);
      }
      const first = await events(alice, { from, timeout: '0' });
      assert.equal(first.chunk.length, 100, 'one answer carries at most 100 events');
      const second = await events(alice, { from: first.end, timeout: '0' });
      assert.deepEqual(bodies([...first.chunk, ...second.chunk]), sent);
      const third = await events(alice, { from: second.end, timeout: '0' });
      assert.deepEqual(third.chunk, []);
    }
  });

  it("/events gives an invite as its one event, and a left room's events up to the leave", async () => {
    // World-readable rooms, so that only the stream's own bounds keep the other events out.
    const invitedTo = await suite.createRoom(alice, worldReadable);
    const leftRoom = await suite.createRoom(alice, { ...worldReadable, preset: 'public_chat' });
    await suite.join(carol, leftRoom);
    const { end: from } = await initialSync(carol);
    await suite.send(alice, invitedTo, 'before the invite');
    await suite.send(alice, leftRoom, 'before the leave');
    await suite.leave(carol, leftRoom);
    await suite.send(alice, leftRoom, 'after the leave');
    await suite.invite(alice, invitedTo, carol.user_id);
    const body = await events(carol, { from, timeout: '0' });
    const summary = body.chunk.map((e) => [e.room_id, e.content.body ?? e.content.membership]);
    assert.deepEqual(summary, [
      [leftRoom, 'before the leave'],
      [leftRoom, 'leave'],
      [invitedTo, 'invite'],
    ]);
  });

  it('/events with room_id peeks into a world-readable room, and refuses a private one', async () => {
    const open = await suite.createRoom(alice, worldReadable);
    const { end } = await initialSync(bob);
    const polling = get<EventsBody>(bob, EVENTS, { from: end, room_id: open, timeout: '10000' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await suite.send(alice, open, 'peeked');
    const peeked = expectOk(await polling, PEEK_EVENTS);
    assert.deepEqual(bodies(peeked.chunk), ['peeked']);

    const closed = await suite.createRoom(alice, { preset: 'private_chat' });
    const refused = await get(bob, EVENTS, { room_id: closed, timeout: '0' });
    assert.equal(refused.status, 403);
    assertSpecError(refused.body, 'M_FORBIDDEN');
  });

  it('/events lets guests only peek', async () => {
    const guest = await api.post<Session>(`${CLIENT_V3}/register?kind=guest`, {});
    assert.equal(guest.status, 200, JSON.stringify(guest.body));
    const res = await get(guest.body, EVENTS, { timeout: '0' });
    assert.equal(res.status, 403);
    assertSpecError(res.body, 'M_GUEST_ACCESS_FORBIDDEN');
    const open = await suite.createRoom(alice, worldReadable);
    const peek = await get(guest.body, EVENTS, { room_id: open, timeout: '0' });
    assert.equal(peek.status, 200, JSON.stringify(peek.body));
  });

  it('refuses a malformed from token with 400 M_INVALID_PARAM', async () => {
    for (const from of ['nonsense', 's1_1_2', 's1_-1_0_0_0_0_0_0_0', 't44-3453_9_0']) {
      const res = await get(alice, EVENTS, { from, timeout: '0' });
      assert.equal(res.status, 400, `${from}: ${JSON.stringify(res.body)}`);
      assertSpecError(res.body, 'M_INVALID_PARAM');
    }
  });

  it('/events/{eventId} gives an event its reader may see, and 404 otherwise', async () => {
    const roomId = await suite.createRoom(alice, { preset: 'private_chat' });
    const eventId = await suite.send(alice, roomId, 'single');
    const seen = expectOk(await get<Event>(alice, `${CLIENT_V3}/events/${eventId}`), EVENT);
    assert.equal(seen.event_id, eventId);
    assert.equal(seen.room_id, roomId);
    const hidden = await get(bob, `${CLIENT_V3}/events/${eventId}`);
    assert.equal(hidden.status, 404, 'a non-member is told nothing exists');
    assertSpecError(hidden.body, 'M_NOT_FOUND');
    const unknown = await get(alice, `${CLIENT_V3}/events/$nothing`);
    assert.equal(unknown.status, 404);
    assertSpecError(unknown.body, 'M_NOT_FOUND');
  });

  it('is served under r0 as well as v3', async () => {
    const v3 = await get<InitialSyncBody>(alice, INITIAL_SYNC);
    const r0 = await get<InitialSyncBody>(alice, `${R0}/initialSync`);
    assert.equal(r0.status, 200, JSON.stringify(r0.body));
    assert.deepEqual(
      r0.body.rooms.map((r) => r.room_id).sort(),
      v3.body.rooms.map((r) => r.room_id).sort(),
    );
  });
});
