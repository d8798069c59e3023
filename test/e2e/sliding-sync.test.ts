/**
 * Simplified sliding sync (MSC4186) over HTTP, with the bodies and query
 * parameters Element X (matrix-rust-sdk) sends on its three connections
 * (test/support/element-x.ts): `room-list` (one growing list, timeline 1,
 * subscriptions with timeline 20), `encryption` (to-device and E2EE only) and
 * `notifications` (an invites list and subscriptions).
 *
 * The endpoint is unstable, so the spec has no schema for it: every response
 * is checked against what Ruma's `sync_events::v5::Response` refuses to parse
 * (test/support/ruma-sliding-sync.ts), and for the values Element X reads.
 */
import {
  encryptionBody as elementXEncryptionBody,
  notificationsBody as elementXNotificationsBody,
  roomListBody,
} from '../support/element-x.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { deviceKeysFor, oneTimeKeys } from '../support/e2ee.js';
import { assertRumaParses } from '../support/ruma-sliding-sync.js';
import { expectError } from '../support/spec-schemas.js';

const PATH = '/_matrix/client/unstable/org.matrix.simplified_msc3575/sync';
/** Element X's long-poll, once its room list is whole. */
const LONG_POLL_MS = '30000';

type Json = Record<string, unknown>;
interface SlidingEvent {
  type: string;
  sender: string;
  state_key?: string;
  event_id?: string;
  content: Json;
  room_id?: string;
  unsigned?: Json;
}
interface SlidingRoom {
  name?: string | null;
  avatar?: string | null;
  initial?: boolean;
  is_dm?: boolean;
  membership?: string;
  heroes?: { user_id: string; displayname?: string }[];
  invite_state?: SlidingEvent[];
  stripped_state?: SlidingEvent[];
  required_state?: SlidingEvent[];
  timeline?: SlidingEvent[];
  prev_batch?: string;
  limited?: boolean;
  num_live?: number;
  joined_count?: number;
  invited_count?: number;
  notification_count?: number;
  highlight_count?: number;
  bump_stamp?: number;
  unstable_expanded_timeline?: boolean;
  expanded_timeline?: boolean;
}
interface SlidingResponse {
  pos: string;
  txn_id?: string;
  lists: Record<string, { count: number }>;
  rooms: Record<string, SlidingRoom>;
  extensions: {
    to_device?: { next_batch: string; events: SlidingEvent[] };
    e2ee?: {
      device_lists: { changed: string[]; left: string[] };
      device_one_time_keys_count: Record<string, number>;
      device_unused_fallback_key_types: string[];
    };
    account_data?: { global: SlidingEvent[]; rooms: Record<string, SlidingEvent[]> };
    receipts?: { rooms: Record<string, SlidingEvent> };
    typing?: { rooms: Record<string, SlidingEvent> };
  };
}

/** Element X's encryption body, with the to-device `limit` Ruma can send (Element X does not). */
function encryptionBody(since?: string, limit?: number): Json {
  const body = elementXEncryptionBody(since);
  if (limit === undefined) return body;
  const extensions = body.extensions as { to_device: Json };
  extensions.to_device.limit = limit;
  return body;
}

function notificationsBody(roomId?: string): Json {
  return elementXNotificationsBody(roomId ? [roomId] : []);
}

describe('simplified sliding sync (MSC4186)', { timeout: 120_000 }, () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob, carol, dave, erin, frank] = suite.users(
    'alice',
    'bob',
    'carol',
    'dave',
    'erin',
    'frank',
  );

  const slide = async (who: Session, body: Json, query: Record<string, string> = {}) => {
    const params = new URLSearchParams({ timeout: '0', ...query }).toString();
    const res = await api.post(`${PATH}?${params}`, body, { token: who.access_token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertRumaParses(res.body);
    return res.body as unknown as SlidingResponse;
  };
  const stateOf = (room: SlidingRoom, type: string) =>
    (room.required_state ?? []).filter((e) => e.type === type);

  it('is advertised in /versions', async () => {
    const res = await api.get('/_matrix/client/versions');
    const features = res.body.unstable_features as Record<string, boolean>;
    assert.equal(features['org.matrix.simplified_msc3575'], true);
  });

  const rooms: string[] = [];
  it('grows the room list from 0–19 to 0–99, sending each room once', async () => {
    for (let i = 0; i < 25; i++) {
      rooms.push(await suite.createRoom(alice, { name: `room ${i}` }));
    }
    const first = await slide(alice, roomListBody(19));
    assert.equal(first.lists.all_rooms!.count, 25);
    const firstIds = Object.keys(first.rooms);
    assert.equal(firstIds.length, 20);
    // The 20 newest: the last rooms created.
    assert.deepEqual(firstIds.sort(), rooms.slice(5).sort());
    const room = first.rooms[rooms[24]!]!;
    assert.equal(room.initial, true);
    assert.equal(room.name, 'room 24');
    assert.equal(room.timeline!.length, 1);
    assert.equal(room.joined_count, 1);
    assert.equal(room.is_dm, false);
    assert.equal(typeof room.prev_batch, 'string');
    assert.equal(stateOf(room, 'm.room.create').length, 1);
    const own = stateOf(room, 'm.room.member');
    assert.deepEqual(
      own.map((e) => e.state_key),
      [alice.user_id],
      '$ME brings the user’s own membership',
    );
    assert.ok(first.extensions.account_data, 'account_data extension present');
    assert.ok(first.extensions.receipts && first.extensions.typing);

    const grown = await slide(alice, roomListBody(99), { pos: first.pos });
    assert.equal(grown.lists.all_rooms!.count, 25);
    assert.deepEqual(Object.keys(grown.rooms).sort(), rooms.slice(0, 5).sort());
    for (const sent of Object.values(grown.rooms)) assert.equal(sent.initial, true);

    // A message moves the oldest room to the top and arrives in the next response.
    const eventId = await suite.send(alice, rooms[0]!, 'to the top');
    const next = await slide(alice, roomListBody(99), { pos: grown.pos });
    assert.deepEqual(Object.keys(next.rooms), [rooms[0]]);
    const moved = next.rooms[rooms[0]!]!;
    assert.equal(moved.initial, undefined);
    assert.deepEqual(
      moved.timeline!.map((e) => e.event_id),
      [eventId],
    );
    assert.equal(moved.num_live, 1);
    const others = Object.values(first.rooms).map((r) => r.bump_stamp!);
    assert.ok(moved.bump_stamp! > Math.max(...others), 'its bump_stamp is the newest');
    const top = await slide(alice, { lists: { top: { ranges: [[0, 0]], timeline_limit: 1 } } });
    assert.deepEqual(Object.keys(top.rooms), [rooms[0]], 'first in the recency order');

    // prev_batch pages back with /messages.
    const messages = await api.get(
      `${CLIENT_V3}/rooms/${rooms[0]}/messages?dir=b&limit=5&from=${moved.prev_batch}`,
      { token: alice.access_token },
    );
    assert.equal(messages.status, 200);
    const chunk = messages.body.chunk as SlidingEvent[];
    assert.ok(chunk.length > 0);
    assert.ok(!chunk.some((e) => e.event_id === eventId), 'from before the timeline');
  });

  it('expands a room’s timeline when it is subscribed to', async () => {
    for (let i = 0; i < 3; i++) await suite.send(alice, rooms[1]!, `m${i}`);
    const start = await slide(alice, roomListBody(99));
    assert.equal(start.rooms[rooms[1]!]!.timeline!.length, 1);
    const subscribed = await slide(alice, roomListBody(99, [rooms[1]!]), { pos: start.pos });
    const room = subscribed.rooms[rooms[1]!]!;
    assert.equal(room.unstable_expanded_timeline, true);
    assert.equal(room.expanded_timeline, true, 'the MSC’s newer name too');
    assert.ok(room.timeline!.length > 3, 'the newest 20, not only what is new');
    assert.equal(stateOf(room, 'm.room.member').length, 1);
  });

  it('sends invites with invite_state on the notifications connection', async () => {
    const roomId = await suite.createRoom(bob, { name: 'invitation' });
    await suite.invite(bob, roomId, alice.user_id);
    const res = await slide(alice, notificationsBody());
    assert.equal(res.lists.invites!.count, 1);
    const invite = res.rooms[roomId]!;
    assert.ok(invite, 'the invite is in the list');
    const types = invite.invite_state!.map((e) => e.type);
    assert.ok(types.includes('m.room.create'));
    assert.ok(types.includes('m.room.name'));
    const member = invite.invite_state!.find((e) => e.type === 'm.room.member')!;
    assert.equal(member.state_key, alice.user_id);
    assert.equal(member.content.membership, 'invite');
    assert.equal(invite.membership, 'invite');
    assert.deepEqual(invite.stripped_state, invite.invite_state);
    // The room list has it too.
    const list = await slide(alice, roomListBody(99));
    assert.ok(list.rooms[roomId]?.invite_state, 'invites are in the room list');
    await suite.join(alice, roomId);
    const joined = await slide(alice, notificationsBody(), { pos: res.pos });
    assert.equal(joined.lists.invites!.count, 0);
  });

  it('resolves $LAZY, $ME, * and ["*","*"], and heroes', async () => {
    const roomId = await suite.createRoom(bob, { preset: 'public_chat' });
    await suite.join(alice, roomId);
    await suite.join(carol, roomId);
    for (const [stateKey, via] of [
      ['!child1:localhost', ['a']],
      ['!child2:localhost', ['b']],
    ] as const) {
      const res = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/state/m.space.child/${encodeURIComponent(stateKey)}`,
        { via },
        { token: bob.access_token },
      );
      assert.equal(res.status, 200);
    }
    await suite.send(carol, roomId, 'from carol');
    const lazy = await slide(alice, {
      room_subscriptions: {
        [roomId]: {
          timeline_limit: 1,
          required_state: [
            ['m.room.member', '$LAZY'],
            ['m.space.child', '*'],
          ],
        },
      },
    });
    const room = lazy.rooms[roomId]!;
    assert.deepEqual(
      stateOf(room, 'm.room.member').map((e) => e.state_key),
      [carol.user_id],
      'only the timeline’s sender',
    );
    assert.deepEqual(
      stateOf(room, 'm.space.child')
        .map((e) => e.state_key)
        .sort(),
      ['!child1:localhost', '!child2:localhost'],
    );
    assert.equal(room.joined_count, 3);
    assert.deepEqual(
      room.heroes!.map((h) => h.user_id).sort(),
      [bob.user_id, carol.user_id].sort(),
    );
    assert.equal(room.heroes!.find((h) => h.user_id === bob.user_id)!.displayname, 'bob');

    const me = await slide(alice, {
      room_subscriptions: {
        [roomId]: { timeline_limit: 0, required_state: [['m.room.member', '$ME']] },
      },
    });
    assert.deepEqual(
      stateOf(me.rooms[roomId]!, 'm.room.member').map((e) => e.state_key),
      [alice.user_id],
    );
    const all = await slide(alice, {
      room_subscriptions: { [roomId]: { timeline_limit: 0, required_state: [['*', '*']] } },
    });
    const state = await api.get(`${CLIENT_V3}/rooms/${roomId}/state`, {
      token: alice.access_token,
    });
    assert.equal(
      all.rooms[roomId]!.required_state!.length,
      (state.body as unknown as Json[]).length,
    );
  });

  it('carries receipts, typing, account data and unread counts', async () => {
    const roomId = await suite.createRoom(bob, { preset: 'public_chat' });
    await suite.join(alice, roomId);
    const start = await slide(alice, roomListBody(99));
    assert.equal(start.rooms[roomId]!.notification_count, 0);

    const eventId = await suite.send(bob, roomId, 'hello alice');
    const unread = await slide(alice, roomListBody(99), { pos: start.pos });
    assert.equal(unread.rooms[roomId]!.notification_count, 1);

    await suite.postOk(
      bob,
      `${CLIENT_V3}/rooms/${roomId}/receipt/m.read/${encodeURIComponent(eventId)}`,
    );
    const typing = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/typing/${encodeURIComponent(bob.user_id)}`,
      { typing: true, timeout: 30_000 },
      { token: bob.access_token },
    );
    assert.equal(typing.status, 200);
    const put = await api.put(
      `${CLIENT_V3}/user/${encodeURIComponent(alice.user_id)}/account_data/m.test.global`,
      { n: 1 },
      { token: alice.access_token },
    );
    assert.equal(put.status, 200);
    const ephemeral = await slide(alice, roomListBody(99), { pos: unread.pos });
    const receipt = ephemeral.extensions.receipts!.rooms[roomId]!;
    assert.equal(receipt.type, 'm.receipt');
    assert.ok((receipt.content[eventId] as Json)['m.read'], 'bob’s receipt');
    const typingEvent = ephemeral.extensions.typing!.rooms[roomId]!;
    assert.deepEqual(typingEvent.content.user_ids, [bob.user_id]);
    const global = ephemeral.extensions.account_data!.global;
    assert.deepEqual(global.find((e) => e.type === 'm.test.global')?.content, { n: 1 });

    // Alice reads: her count goes back to 0.
    await suite.postOk(
      alice,
      `${CLIENT_V3}/rooms/${roomId}/receipt/m.read/${encodeURIComponent(eventId)}`,
    );
    const read = await slide(alice, roomListBody(99), { pos: ephemeral.pos });
    assert.equal(read.rooms[roomId]!.notification_count, 0);
  });

  /** The room list without the receipts extension: nothing else brings a room whose count moved. */
  const withoutReceipts = (end: number): Json => {
    const body = roomListBody(end);
    delete (body.extensions as Json).receipts;
    return body;
  };
  const unreadRoom = async (): Promise<{ roomId: string; eventId: string }> => {
    const roomId = await suite.createRoom(bob, { preset: 'public_chat' });
    await suite.join(frank, roomId);
    return { roomId, eventId: await suite.send(bob, roomId, 'unread by frank') };
  };

  it('sends a count a read receipt alone moved, to a long-poll', async () => {
    const { roomId, eventId } = await unreadRoom();
    const start = await slide(frank, withoutReceipts(99));
    assert.equal(start.rooms[roomId]!.notification_count, 1);
    const waiting = slide(frank, withoutReceipts(99), { pos: start.pos, timeout: LONG_POLL_MS });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await suite.postOk(
      frank,
      `${CLIENT_V3}/rooms/${roomId}/receipt/m.read/${encodeURIComponent(eventId)}`,
    );
    const woken = await waiting;
    assert.deepEqual(Object.keys(woken.rooms), [roomId]);
    assert.equal(woken.rooms[roomId]!.notification_count, 0);
    assert.deepEqual(woken.rooms[roomId]!.timeline, [], 'nothing new but the count');
  });

  it('counts a room read while it was outside the window when it comes back', async () => {
    const older = await unreadRoom();
    const newer = await unreadRoom();
    const both = await slide(frank, withoutReceipts(1));
    assert.equal(both.rooms[older.roomId]!.notification_count, 1);
    const narrow = await slide(frank, withoutReceipts(0), { pos: both.pos });
    assert.equal(narrow.rooms[older.roomId], undefined);
    const markers = await api.post(
      `${CLIENT_V3}/rooms/${older.roomId}/read_markers`,
      { 'm.fully_read': older.eventId, 'm.read': older.eventId },
      { token: frank.access_token },
    );
    assert.equal(markers.status, 200);
    // A pos issued after the read, the room still outside the window.
    await suite.send(bob, newer.roomId, 'newer still');
    const after = await slide(frank, withoutReceipts(0), { pos: narrow.pos });
    assert.ok(after.rooms[newer.roomId] && !after.rooms[older.roomId]);
    const back = await slide(frank, withoutReceipts(1), { pos: after.pos });
    assert.equal(back.rooms[older.roomId]!.notification_count, 0);
    assert.equal(back.rooms[older.roomId]!.initial, undefined, 'an incremental response');
  });

  it('counts by the push rules each event was evaluated with: a rule change moves none', async () => {
    const { roomId } = await unreadRoom();
    const start = await slide(frank, withoutReceipts(0));
    assert.equal(start.rooms[roomId]!.notification_count, 1);
    const rule = `${CLIENT_V3}/pushrules/global/room/${encodeURIComponent(roomId)}`;
    const muted = await api.put(rule, { actions: [] }, { token: frank.access_token });
    assert.equal(muted.status, 200);
    const waiting = slide(frank, withoutReceipts(0), { pos: start.pos, timeout: LONG_POLL_MS });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const silent = await suite.send(bob, roomId, 'silent for frank');
    let woken = await waiting;
    while (!woken.rooms[roomId]) {
      // Woken by the rule change (account data) first: the message comes next.
      woken = await slide(frank, withoutReceipts(0), { pos: woken.pos, timeout: LONG_POLL_MS });
    }
    const room = woken.rooms[roomId];
    assert.deepEqual(
      room.timeline!.map((e) => e.event_id),
      [silent],
    );
    assert.equal(room.notification_count, 1, 'the earlier message still counts, the new one not');
    assert.equal((await api.delete(rule, undefined, { token: frank.access_token })).status, 200);
    await suite.send(bob, roomId, 'counted again');
    const counted = await slide(frank, withoutReceipts(0), { pos: woken.pos });
    assert.equal(counted.rooms[roomId]!.notification_count, 2);
  });

  it('hides invites once the user blocks them, on the same connection', async () => {
    const roomId = await suite.createRoom(bob, { invite: [frank.user_id] });
    const start = await slide(frank, withoutReceipts(99));
    assert.equal(start.rooms[roomId]!.membership, 'invite');
    const put = await api.put(
      `${CLIENT_V3}/user/${encodeURIComponent(frank.user_id)}/account_data/m.invite_permission_config`,
      { default_action: 'block' },
      { token: frank.access_token },
    );
    assert.equal(put.status, 200);
    const blocked = await slide(frank, withoutReceipts(99), { pos: start.pos });
    assert.equal(blocked.lists.all_rooms!.count, start.lists.all_rooms!.count - 1);
    const allowed = await api.put(
      `${CLIENT_V3}/user/${encodeURIComponent(frank.user_id)}/account_data/m.invite_permission_config`,
      {},
      { token: frank.access_token },
    );
    assert.equal(allowed.status, 200);
    const again = await slide(frank, withoutReceipts(99), { pos: blocked.pos });
    assert.equal(again.lists.all_rooms!.count, start.lists.all_rooms!.count);
  });

  it('keeps rooms the user was kicked from, and ones they left only once sent', async () => {
    const kicked = await suite.createRoom(bob, { preset: 'public_chat' });
    const leftUnsent = await suite.createRoom(bob, { preset: 'public_chat' });
    const leftSent = await suite.createRoom(bob, { preset: 'public_chat' });
    for (const roomId of [kicked, leftUnsent, leftSent]) await suite.join(carol, roomId);
    const start = await slide(carol, roomListBody(99));
    assert.ok(start.rooms[leftSent] && start.rooms[kicked]);
    await suite.postOk(bob, `${CLIENT_V3}/rooms/${kicked}/kick`, { user_id: carol.user_id });
    await suite.leave(carol, leftSent);
    const after = await slide(carol, roomListBody(99), { pos: start.pos });
    const kickEvent = after.rooms[kicked]!.timeline!.at(-1)!;
    assert.equal(kickEvent.content.membership, 'leave');
    assert.equal(kickEvent.sender, bob.user_id);
    assert.equal(after.rooms[leftSent]!.timeline!.at(-1)!.content.membership, 'leave');
    // A new connection: the room left by choice is gone, the kick stays.
    await suite.leave(carol, leftUnsent);
    const fresh = await slide(carol, { ...roomListBody(99), conn_id: 'fresh' });
    assert.ok(fresh.rooms[kicked], 'kicked: still listed');
    assert.equal(fresh.rooms[leftUnsent], undefined);
    assert.equal(fresh.rooms[leftSent], undefined);
    const bobSends = await suite.send(bob, kicked, 'after the kick');
    const later = await slide(carol, roomListBody(99), { pos: after.pos });
    const seen = (later.rooms[kicked]?.timeline ?? []).map((e) => e.event_id);
    assert.ok(!seen.includes(bobSends), 'nothing after the kick');
  });

  it('marks DMs from m.direct', async () => {
    const roomId = await suite.createRoom(bob, { is_direct: true, invite: [alice.user_id] });
    await suite.join(alice, roomId);
    const put = await api.put(
      `${CLIENT_V3}/user/${encodeURIComponent(alice.user_id)}/account_data/m.direct`,
      { [bob.user_id]: [roomId] },
      { token: alice.access_token },
    );
    assert.equal(put.status, 200);
    const res = await slide(alice, {
      lists: { dms: { ranges: [[0, 99]], timeline_limit: 0, filters: { is_dm: true } } },
    });
    assert.equal(res.lists.dms!.count, 1);
    assert.equal(res.rooms[roomId]!.is_dm, true);
  });

  it('delivers to-device messages and E2EE counts on the encryption connection', async () => {
    const { identity, keys } = deviceKeysFor(alice);
    const upload = await api.post(
      `${CLIENT_V3}/keys/upload`,
      {
        device_keys: keys,
        one_time_keys: oneTimeKeys(alice, identity, 3),
        fallback_keys: { 'signed_curve25519:FB1': { key: 'fallback', fallback: true } },
      },
      { token: alice.access_token },
    );
    assert.equal(upload.status, 200, JSON.stringify(upload.body));
    const first = await slide(alice, encryptionBody());
    assert.equal(first.extensions.e2ee!.device_one_time_keys_count.signed_curve25519, 3);
    assert.deepEqual(first.extensions.e2ee!.device_unused_fallback_key_types, [
      'signed_curve25519',
    ]);
    const send = await api.put(
      `${CLIENT_V3}/sendToDevice/m.test/t1`,
      { messages: { [alice.user_id]: { [alice.device_id]: { n: 1 } } } },
      { token: bob.access_token },
    );
    assert.equal(send.status, 200);
    const since = first.extensions.to_device!.next_batch;
    const delivered = await slide(alice, encryptionBody(since), { pos: first.pos });
    assert.deepEqual(
      delivered.extensions.to_device!.events.map((e) => e.content.n),
      [1],
    );
    // The client lost that response: the same pos and since deliver it again.
    const again = await slide(alice, encryptionBody(since), { pos: first.pos });
    assert.deepEqual(
      again.extensions.to_device!.events.map((e) => e.content.n),
      [1],
    );
    const acknowledged = await slide(
      alice,
      encryptionBody(again.extensions.to_device!.next_batch),
      {
        pos: again.pos,
      },
    );
    assert.deepEqual(acknowledged.extensions.to_device!.events, []);

    // to_device.limit: at most that many a response; the rest follow from its next_batch.
    const more = await api.put(
      `${CLIENT_V3}/sendToDevice/m.test/t2`,
      { messages: { [alice.user_id]: { [alice.device_id]: { n: 2 } } } },
      { token: bob.access_token },
    );
    assert.equal(more.status, 200);
    for (const [txn, n] of [
      ['t3', 3],
      ['t4', 4],
    ] as const) {
      const sent = await api.put(
        `${CLIENT_V3}/sendToDevice/m.test/${txn}`,
        { messages: { [alice.user_id]: { [alice.device_id]: { n } } } },
        { token: bob.access_token },
      );
      assert.equal(sent.status, 200);
    }
    const limitedSince = acknowledged.extensions.to_device!.next_batch;
    const two = await slide(alice, encryptionBody(limitedSince, 2), { pos: acknowledged.pos });
    assert.deepEqual(
      two.extensions.to_device!.events.map((e) => e.content.n),
      [2, 3],
    );
    const rest = await slide(alice, encryptionBody(two.extensions.to_device!.next_batch, 2), {
      pos: two.pos,
    });
    assert.deepEqual(
      rest.extensions.to_device!.events.map((e) => e.content.n),
      [4],
    );

    // Bob, who shares rooms with alice, changes his device keys: alice hears of it.
    const bobKeys = deviceKeysFor(bob);
    const bobUpload = await api.post(
      `${CLIENT_V3}/keys/upload`,
      { device_keys: bobKeys.keys },
      { token: bob.access_token },
    );
    assert.equal(bobUpload.status, 200);
    const changed = await slide(alice, encryptionBody(rest.extensions.to_device!.next_batch), {
      pos: rest.pos,
    });
    assert.ok(changed.extensions.e2ee!.device_lists.changed.includes(bob.user_id));
  });

  it('answers the same pos twice alike, losing nothing', async () => {
    const roomId = await suite.createRoom(alice);
    const start = await slide(alice, roomListBody(99));
    const eventId = await suite.send(alice, roomId, 'once');
    const firstTry = await slide(alice, roomListBody(99), { pos: start.pos });
    const secondTry = await slide(alice, roomListBody(99), { pos: start.pos });
    for (const res of [firstTry, secondTry]) {
      assert.deepEqual(
        res.rooms[roomId]!.timeline!.map((e) => e.event_id),
        [eventId],
      );
    }
    assert.notEqual(firstTry.pos, secondTry.pos);
    // Nothing new: the same pos comes back.
    const quiet = await slide(alice, roomListBody(99), { pos: secondTry.pos });
    assert.deepEqual(quiet.rooms, {});
    assert.equal(quiet.pos, secondTry.pos);
  });

  it('refuses unknown positions and others’ positions with M_UNKNOWN_POS', async () => {
    const refused = async (who: Session, body: Json, pos: string) => {
      const res = await api.post(`${PATH}?timeout=0&pos=${encodeURIComponent(pos)}`, body, {
        token: who.access_token,
      });
      expectError(res, 400, 'M_UNKNOWN_POS');
    };
    const mine = await slide(alice, roomListBody(19));
    await refused(alice, roomListBody(19), 'not-a-pos');
    await refused(bob, roomListBody(19), mine.pos);
    await refused(alice, notificationsBody(), mine.pos);
    const otherDevice = await api.login(alice.user_id);
    assert.equal(otherDevice.status, 200);
    await refused(otherDevice.body, roomListBody(19), mine.pos);
  });

  it('refuses malformed requests with Matrix errors', async () => {
    const post = (body: unknown, query = 'timeout=0') =>
      api.post(`${PATH}?${query}`, body as Json, { token: alice.access_token });
    expectError(await post({ lists: { l: { ranges: [[0]] } } }), 400, 'M_BAD_JSON');
    expectError(await post({ lists: { l: { ranges: [[3, 1]] } } }), 400, 'M_INVALID_PARAM');
    expectError(await post({ conn_id: 7 }), 400, 'M_BAD_JSON');
    expectError(await post({ lists: { l: { required_state: 'all' } } }), 400, 'M_BAD_JSON');
    expectError(await post({}, 'timeout=soon'), 400, 'M_INVALID_PARAM');
    expectError(await post({}, 'set_presence=busy'), 400, 'M_INVALID_PARAM');
    const anonymous = await api.post(`${PATH}`, {});
    expectError(anonymous, 401, 'M_MISSING_TOKEN');
  });

  it('never answers a 5xx to a wrong type anywhere in Element X’s bodies', async () => {
    const bodies = [
      roomListBody(19, [rooms[0]!]),
      encryptionBody('0'),
      notificationsBody(rooms[0]),
    ];
    const wrong: unknown[] = [5, -1, 1.5, 'x', null, true, [], {}, [['a']], { a: 1 }];
    let tried = 0;
    for (const body of bodies) {
      for (const path of leafPaths(body)) {
        for (const value of wrong) {
          const res = await api.post(`${PATH}?timeout=0`, withValueAt(body, path, value), {
            token: alice.access_token,
          });
          tried++;
          assert.ok(
            res.status < 500,
            `${path.join('.')} = ${JSON.stringify(value)}: ${res.status}`,
          );
          if (res.status !== 200) assert.equal(typeof res.body.errcode, 'string');
        }
      }
    }
    assert.ok(tried > 100);
  });

  it('wakes a long-poll promptly when a message arrives', async () => {
    const roomId = await suite.createRoom(alice);
    const start = await slide(alice, roomListBody(99));
    const began = Date.now();
    const waiting = slide(alice, roomListBody(99), { pos: start.pos, timeout: LONG_POLL_MS });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const eventId = await suite.send(alice, roomId, 'wake up');
    const woken = await waiting;
    assert.ok(Date.now() - began < 10_000, 'answered before the timeout');
    assert.deepEqual(
      woken.rooms[roomId]!.timeline!.map((e) => e.event_id),
      [eventId],
    );
  });

  it('lists knocks with their stripped state, apart from invites', async () => {
    const roomId = await suite.createRoom(bob, {
      name: 'knock here',
      initial_state: [
        { type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } },
      ],
    });
    const start = await slide(carol, roomListBody(99));
    await suite.postOk(carol, `${CLIENT_V3}/knock/${encodeURIComponent(roomId)}`, {});
    const knocked = await slide(carol, roomListBody(99), { pos: start.pos });
    const room = knocked.rooms[roomId]!;
    assert.equal(room.membership, 'knock');
    assert.equal(room.initial, true);
    assert.equal(room.name, 'knock here');
    // matrix-rust-sdk tells a knock by the user's own member event in invite_state: it comes last.
    const own = room.invite_state!.at(-1)!;
    assert.equal(own.state_key, carol.user_id);
    assert.equal(own.content.membership, 'knock');
    assert.ok(room.invite_state!.some((e) => e.type === 'm.room.join_rules'));
    assert.deepEqual(room.stripped_state, room.invite_state, 'the MSC’s newer name too');
    assert.equal(room.required_state, undefined, 'no state of a room not joined');
    assert.equal(typeof room.bump_stamp, 'number');
    // is_invite: true leaves knocks out (as Synapse); false keeps them.
    const invites = await slide(carol, notificationsBody());
    assert.equal(invites.rooms[roomId], undefined);
    const notInvites = await slide(carol, {
      lists: { others: { ranges: [[0, 99]], timeline_limit: 0, filters: { is_invite: false } } },
    });
    assert.ok(notInvites.rooms[roomId], 'is_invite: false lists the knock');

    // Bob lets carol in (an invite), she joins: the room is sent whole, as new.
    await suite.invite(bob, roomId, carol.user_id);
    const invited = await slide(carol, roomListBody(99), { pos: knocked.pos });
    assert.equal(invited.rooms[roomId]!.membership, 'invite');
    await suite.join(carol, roomId);
    const joined = await slide(carol, roomListBody(99), { pos: invited.pos });
    const whole = joined.rooms[roomId]!;
    assert.equal(whole.membership, 'join');
    assert.equal(whole.initial, true, 'first sent as a member: initial');
    assert.equal(whole.invite_state, undefined);
    assert.ok((whole.required_state ?? []).some((e) => e.type === 'm.room.create'));
  });

  it('sends a refused knock or withdrawn invite as the membership event alone', async () => {
    const refused = await suite.createRoom(bob, {
      name: 'private',
      topic: 'secret topic',
      initial_state: [
        { type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } },
      ],
    });
    const withdrawn = await suite.createRoom(bob, { name: 'withdrawn' });
    await suite.postOk(carol, `${CLIENT_V3}/knock/${encodeURIComponent(refused)}`, {});
    await suite.invite(bob, withdrawn, carol.user_id);
    const start = await slide(carol, roomListBody(99));
    assert.equal(start.rooms[refused]!.membership, 'knock');
    assert.equal(start.rooms[withdrawn]!.membership, 'invite');
    for (const roomId of [refused, withdrawn]) {
      await suite.postOk(bob, `${CLIENT_V3}/rooms/${roomId}/kick`, { user_id: carol.user_id });
    }
    const after = await slide(carol, roomListBody(99), { pos: start.pos });
    for (const roomId of [refused, withdrawn]) {
      const room = after.rooms[roomId]!;
      assert.equal(room.membership, 'leave');
      assert.equal(room.initial, undefined);
      assert.deepEqual(
        room.required_state!.map((e) => [e.type, e.state_key, e.content.membership]),
        [['m.room.member', carol.user_id, 'leave']],
        'only her own membership: nothing of a room she never joined',
      );
      assert.deepEqual(
        room.timeline!.map((e) => e.event_id),
        room.required_state!.map((e) => e.event_id),
      );
      assert.equal(room.name, undefined);
      assert.equal(room.heroes, undefined);
      assert.equal(room.joined_count, undefined);
    }
    // Still listed (not left by her own choice), and not sent again.
    const quiet = await slide(carol, roomListBody(99), { pos: after.pos });
    assert.equal(quiet.rooms[refused], undefined);
    assert.equal(quiet.lists.all_rooms!.count, after.lists.all_rooms!.count);
  });

  it('reads the MSC’s newer request names and sends its newer room fields', async () => {
    const roomId = await suite.createRoom(bob, { preset: 'public_chat', name: 'newer' });
    await suite.join(alice, roomId);
    const eventId = await suite.send(bob, roomId, 'hello');
    const body = {
      conn_id: 'newer',
      txn_id: 'txn-1',
      lists: {
        one: {
          range: [0, 0],
          timeline_limit: 1,
          required_state: {
            include: [{ type: 'm.room.name', state_key: '' }, { type: 'm.room.topic' }, {}],
            exclude: [{ type: 'm.room.power_levels', state_key: '' }],
            lazy_members: true,
          },
        },
      },
    };
    const first = await slide(alice, body);
    assert.equal(first.txn_id, 'txn-1', 'txn_id echoed');
    assert.deepEqual(Object.keys(first.rooms), [roomId], 'range: [0, 0] is one room');
    const room = first.rooms[roomId]!;
    assert.equal(room.membership, 'join');
    const types = new Set(room.required_state!.map((e) => e.type));
    assert.ok(types.has('m.room.create') && types.has('m.room.join_rules'), '{} is all state');
    assert.ok(!types.has('m.room.power_levels'), 'exclude takes it out');
    assert.ok(
      room.required_state!.some((e) => e.type === 'm.room.member' && e.state_key === bob.user_id),
      'lazy_members: the timeline’s sender',
    );
    assert.deepEqual(
      room.timeline!.map((e) => e.event_id),
      [eventId],
    );

    // `pos` in the body; a room that lost its name says null on an incremental response.
    const renamed = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/state/m.room.name/`,
      {},
      { token: bob.access_token },
    );
    assert.equal(renamed.status, 200);
    const next = await slide(alice, { ...body, pos: first.pos });
    const changed = next.rooms[roomId]!;
    assert.equal(changed.initial, undefined, 'the body’s pos continues the connection');
    assert.equal(changed.name, null);
    assert.equal(changed.avatar, null);
    assert.ok(changed.heroes, 'unnamed: heroes');
    // is_invited, the newer filter name.
    const filtered = await slide(alice, {
      lists: { inv: { range: [0, 9], timeline_limit: 0, filters: { is_invited: true } } },
    });
    assert.equal(filtered.rooms[roomId], undefined);
    expectError(
      await api.post(
        `${PATH}?timeout=0`,
        { lists: { l: { required_state: { include: [{ type: 5 }] } } } },
        { token: alice.access_token },
      ),
      400,
      'M_BAD_JSON',
    );
  });

  it('reads timeout and set_presence from the body too, the query winning', async () => {
    const roomId = await suite.createRoom(erin);
    const start = await slide(erin, roomListBody(99));
    const post = (body: Json, query = '') =>
      api.post(`${PATH}${query}`, body, { token: erin.access_token });
    // timeout in the body alone: the request waits for the message.
    const began = Date.now();
    const waiting = post({ ...roomListBody(99), pos: start.pos, timeout: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const eventId = await suite.send(erin, roomId, 'waited for');
    const woken = await waiting;
    assert.equal(woken.status, 200, JSON.stringify(woken.body));
    assert.ok(Date.now() - began >= 300, 'it waited');
    const wokenBody = woken.body as unknown as SlidingResponse;
    assert.deepEqual(
      wokenBody.rooms[roomId]!.timeline!.map((e) => e.event_id),
      [eventId],
    );
    // The query's timeout=0 wins over the body's: answered at once, nothing new, the same pos.
    const quick = Date.now();
    const atOnce = await post(
      { ...roomListBody(99), pos: wokenBody.pos, timeout: 30_000 },
      '?timeout=0',
    );
    assert.equal(atOnce.status, 200);
    assert.ok(Date.now() - quick < 5_000, 'the query timeout won');
    assert.equal((atOnce.body as unknown as SlidingResponse).pos, wokenBody.pos);
    // set_presence in the body sets it; with one in the query too, the query's wins.
    const presenceNow = async () => {
      const res = await api.get(
        `${CLIENT_V3}/presence/${encodeURIComponent(erin.user_id)}/status`,
        { token: erin.access_token },
      );
      assert.equal(res.status, 200);
      return res.body.presence;
    };
    const setOnline = await api.put(
      `${CLIENT_V3}/presence/${encodeURIComponent(erin.user_id)}/status`,
      { presence: 'online' },
      { token: erin.access_token },
    );
    assert.equal(setOnline.status, 200);
    assert.equal(await presenceNow(), 'online');
    const idle = await post({ ...roomListBody(0), set_presence: 'unavailable' }, '?timeout=0');
    assert.equal(idle.status, 200);
    assert.equal(await presenceNow(), 'unavailable', 'the body’s set_presence');
    await api.put(
      `${CLIENT_V3}/presence/${encodeURIComponent(erin.user_id)}/status`,
      { presence: 'online' },
      { token: erin.access_token },
    );
    // offline in the body would leave presence alone; the query's unavailable wins.
    const both = await post(
      { ...roomListBody(0), set_presence: 'offline' },
      '?timeout=0&set_presence=unavailable',
    );
    assert.equal(both.status, 200);
    assert.equal(await presenceNow(), 'unavailable', 'the query’s set_presence');
    // Refusals: a body value of the wrong type or an unknown presence.
    expectError(await post({ timeout: 'soon' }, '?timeout=0'), 400, 'M_BAD_JSON');
    expectError(await post({ timeout: -1 }, '?timeout=0'), 400, 'M_BAD_JSON');
    expectError(await post({ set_presence: 3 }, '?timeout=0'), 400, 'M_BAD_JSON');
    expectError(await post({ set_presence: 'busy' }, '?timeout=0'), 400, 'M_INVALID_PARAM');
  });

  it('gives each timeline event the user’s membership at it (unsigned.membership)', async () => {
    // Shared history: dave, invited and joined later, sees what was sent before.
    const roomId = await suite.createRoom(bob, { preset: 'public_chat', name: 'memberships' });
    const beforeId = await suite.send(bob, roomId, 'before dave');
    await suite.invite(bob, roomId, dave.user_id);
    await suite.join(dave, roomId);
    const afterId = await suite.send(bob, roomId, 'after dave joined');
    const expected = (e: SlidingEvent, order: string[]) => {
      const own = e.type === 'm.room.member' && e.state_key === dave.user_id;
      if (own) return e.content.membership;
      return order.indexOf(e.event_id!) < order.indexOf(beforeId) + 1 ? 'leave' : 'join';
    };
    const body = {
      room_subscriptions: {
        [roomId]: { timeline_limit: 20, required_state: [['m.room.member', '$ME']] },
      },
    };
    const first = await slide(dave, body);
    const timeline = first.rooms[roomId]!.timeline!;
    const order = timeline.map((e) => e.event_id!);
    assert.ok(order.includes(beforeId) && order.includes(afterId));
    const memberships = timeline.map((e) => e.unsigned?.membership);
    assert.deepEqual(
      memberships,
      timeline.map((e) => expected(e, order)),
    );
    assert.ok(memberships.includes('invite') && memberships.includes('leave'));
    assert.equal(timeline.find((e) => e.event_id === afterId)!.unsigned!.membership, 'join');
    // State events carry none (as Synapse's).
    const ownState = first.rooms[roomId]!.required_state!.find((e) => e.type === 'm.room.member')!;
    assert.equal(ownState.unsigned?.membership, undefined);

    // /sync shares the code: the same memberships on the same events.
    const filter = JSON.stringify({ room: { timeline: { limit: 20 } } });
    const synced = await api.get(`${CLIENT_V3}/sync?filter=${encodeURIComponent(filter)}`, {
      token: dave.access_token,
    });
    assert.equal(synced.status, 200);
    const rooms = synced.body.rooms as {
      join: Record<string, { timeline: { events: SlidingEvent[] } }>;
    };
    const syncTimeline = rooms.join[roomId]!.timeline.events;
    assert.deepEqual(
      syncTimeline.map((e) => [e.event_id, e.unsigned?.membership]),
      timeline.map((e) => [e.event_id, e.unsigned?.membership]),
    );

    // After a leave, the events up to it: the leave itself says leave.
    await suite.leave(dave, roomId);
    const next = await slide(dave, body, { pos: first.pos });
    const leave = next.rooms[roomId]!.timeline!.at(-1)!;
    assert.equal(leave.type, 'm.room.member');
    assert.equal(leave.unsigned!.membership, 'leave');
  });

  it('keeps connections across a restart', async () => {
    const roomId = await suite.createRoom(alice);
    const before = await slide(alice, roomListBody(99));
    await suite.server.restart();
    const eventId = await suite.send(alice, roomId, 'after the restart');
    const after = await slide(alice, roomListBody(99), { pos: before.pos });
    const room = after.rooms[roomId]!;
    assert.equal(room.initial, undefined, 'an incremental response, not a new connection');
    assert.deepEqual(
      room.timeline!.map((e) => e.event_id),
      [eventId],
    );
  });
});

/** Every path to a value in a JSON tree (objects and arrays walked), the containers' too. */
function leafPaths(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries = Object.entries(value as Json);
  return [prefix, ...entries.flatMap(([key, child]) => leafPaths(child, [...prefix, key]))].filter(
    (path) => path.length > 0,
  );
}

function withValueAt(body: Json, path: string[], value: unknown): Json {
  const copy = structuredClone(body);
  let at = copy as Record<string, unknown>;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
  at[path.at(-1)!] = value;
  return copy;
}
