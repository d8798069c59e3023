/**
 * The pure rules of the directory queries: requests read with the spec's
 * error codes, other servers' answers kept to the spec's shapes, who may see
 * a room over federation, which servers to ask, and the nearer of two events.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  liesTowards,
  mayServerViewRoom,
  parsePublicRoomsBody,
  parsePublicRoomsQuery,
  parseSuggestedOnly,
  readHierarchyAnswer,
  readPublicRoomsAnswer,
  readRoomSummary,
  readStrippedChild,
  readTimestampAnswer,
  serversToAsk,
  type ServerRoomAccess,
} from '../../src/federation/directory-rules.js';
import { nearerEvent } from '../../src/rooms/event-by-timestamp.js';
import { orderedStrippedChildren, viaOf } from '../../src/rooms/hierarchy.js';
import { MatrixError } from '../../src/protocol/errors.js';
import type { JsonObject } from '../../src/events/pdu.js';

const refusedWith = (errcode: string) => (err: unknown) =>
  err instanceof MatrixError && err.errcode === errcode;

const summary = {
  room_id: '!r:x',
  num_joined_members: 2,
  world_readable: false,
  guest_can_join: true,
};
const child = (stateKey: string, content: JsonObject, ts = 1): JsonObject => ({
  type: 'm.space.child',
  state_key: stateKey,
  content,
  sender: '@a:x',
  origin_server_ts: ts,
});

describe('federation directory rules', () => {
  describe('/publicRooms requests', () => {
    it('reads the query string, 0 meaning no limit', () => {
      assert.deepEqual(parsePublicRoomsQuery({}), { includeAllNetworks: false });
      assert.deepEqual(parsePublicRoomsQuery({ limit: '0' }), { includeAllNetworks: false });
      assert.deepEqual(
        parsePublicRoomsQuery({
          limit: '5',
          since: 't',
          include_all_networks: 'true',
          third_party_instance_id: 'a|b',
        }),
        { limit: 5, since: 't', thirdPartyInstanceId: 'a|b', includeAllNetworks: true },
      );
    });

    it('refuses malformed query values with M_INVALID_PARAM', () => {
      for (const query of [
        { limit: 'two' },
        { limit: '-1' },
        { limit: '1.5' },
        { include_all_networks: 'yes' },
        { since: ['a', 'b'] },
      ]) {
        assert.throws(() => parsePublicRoomsQuery(query), refusedWith('M_INVALID_PARAM'));
      }
    });

    it('reads the body with its filter', () => {
      assert.deepEqual(parsePublicRoomsBody(undefined), { includeAllNetworks: false });
      assert.deepEqual(
        parsePublicRoomsBody({
          limit: 3,
          since: 's',
          filter: { generic_search_term: 'foo', room_types: [null, 'm.space'] },
          include_all_networks: false,
          third_party_instance_id: 'irc|freenode',
        }),
        {
          limit: 3,
          since: 's',
          searchTerm: 'foo',
          roomTypes: [null, 'm.space'],
          thirdPartyInstanceId: 'irc|freenode',
          includeAllNetworks: false,
        },
      );
      assert.deepEqual(parsePublicRoomsBody({ limit: 0 }), { includeAllNetworks: false });
    });

    it('refuses malformed bodies with M_BAD_JSON', () => {
      for (const body of [
        [],
        { limit: 'two' },
        { limit: -3 },
        { since: 5 },
        { filter: 'x' },
        { filter: { generic_search_term: 1 } },
        { filter: { room_types: 'm.space' } },
        { filter: { room_types: [1] } },
        { include_all_networks: 'true' },
      ]) {
        assert.throws(
          () => parsePublicRoomsBody(body),
          refusedWith('M_BAD_JSON'),
          JSON.stringify(body),
        );
      }
    });

    it('reads suggested_only', () => {
      assert.equal(parseSuggestedOnly({}), false);
      assert.equal(parseSuggestedOnly({ suggested_only: 'true' }), true);
      assert.equal(parseSuggestedOnly({ suggested_only: 'false' }), false);
      assert.throws(
        () => parseSuggestedOnly({ suggested_only: '1' }),
        refusedWith('M_INVALID_PARAM'),
      );
    });
  });

  describe("other servers' answers", () => {
    it('keeps a summary to the spec’s fields and types', () => {
      assert.deepEqual(
        readRoomSummary({
          ...summary,
          name: 'Name',
          topic: 7,
          avatar_url: 'https://not-mxc',
          canonical_alias: 'nohash:x',
          join_rule: 'public',
          room_type: 'm.space',
          allowed_room_ids: ['!a:x', 3],
          evil: { deep: true },
          children_state: [child('!c:x', { via: ['x'] })],
        }),
        {
          ...summary,
          name: 'Name',
          join_rule: 'public',
          room_type: 'm.space',
          allowed_room_ids: ['!a:x'],
        },
      );
      for (const broken of [
        null,
        [],
        { ...summary, room_id: 'r' },
        { ...summary, num_joined_members: -1 },
        { ...summary, num_joined_members: 1.5 },
        { ...summary, world_readable: 'no' },
        { ...summary, guest_can_join: undefined },
      ]) {
        assert.equal(readRoomSummary(broken), undefined, JSON.stringify(broken));
      }
    });

    it('keeps valid child events only, when children are asked for', () => {
      const good = child('!c:x', { via: ['x'] }, 5);
      const read = readRoomSummary(
        {
          ...summary,
          children_state: [
            good,
            { ...good, type: 'm.space.parent' },
            { ...good, origin_server_ts: 'x' },
            { ...good, content: [] },
            'x',
          ],
        },
        true,
      );
      assert.deepEqual(read?.children_state, [good]);
      assert.equal(readStrippedChild({ ...good, state_key: 'c' }), undefined);
      assert.equal(readStrippedChild({ ...good, sender: 1 }), undefined);
    });

    it('reads a /publicRooms answer, leaving out broken rooms', () => {
      assert.deepEqual(
        readPublicRoomsAnswer({
          chunk: [summary, { room_id: '!broken:x' }],
          next_batch: 'n',
          prev_batch: '',
          total_room_count_estimate: 'many',
        }),
        { chunk: [summary], next_batch: 'n' },
      );
      assert.equal(readPublicRoomsAnswer({ chunk: 'x' }), undefined);
      assert.equal(readPublicRoomsAnswer('x'), undefined);
    });

    it('reads a /hierarchy answer only for the room asked about', () => {
      const answer = {
        room: { ...summary, room_type: 'm.space', children_state: [child('!c:x', { via: ['x'] })] },
        children: [{ ...summary, room_id: '!c:x' }, { room_id: '!bad:x' }],
        inaccessible_children: ['!secret:x', 5],
      };
      const read = readHierarchyAnswer('!r:x', answer);
      assert.equal(read?.room.room_id, '!r:x');
      assert.equal((read?.room.children_state as unknown[]).length, 1);
      assert.deepEqual(
        read?.children.map((c) => c.room_id),
        ['!c:x'],
      );
      assert.deepEqual(read?.inaccessible, ['!secret:x']);
      assert.equal(readHierarchyAnswer('!other:x', answer), undefined);
      assert.deepEqual(readHierarchyAnswer('!r:x', { room: summary })?.room.children_state, []);
      assert.equal(readHierarchyAnswer('!r:x', { children: [] }), undefined);
    });

    it('reads a /timestamp_to_event answer', () => {
      assert.deepEqual(readTimestampAnswer({ event_id: '$e', origin_server_ts: 5 }), {
        eventId: '$e',
        originServerTs: 5,
      });
      assert.equal(readTimestampAnswer({ event_id: 'e', origin_server_ts: 5 }), undefined);
      assert.equal(readTimestampAnswer({ event_id: '$e', origin_server_ts: '5' }), undefined);
      assert.equal(readTimestampAnswer(null), undefined);
    });
  });

  describe('who may see a room over federation', () => {
    const closed: ServerRoomAccess = {
      joinRule: 'invite',
      worldReadable: false,
      knockRestricted: true,
      serverInRoom: false,
      serverInAllowedRoom: false,
    };

    it('opens public, knockable and world-readable rooms to any server', () => {
      for (const joinRule of ['public', 'knock', 'knock_restricted']) {
        assert.ok(mayServerViewRoom({ ...closed, joinRule }), joinRule);
      }
      assert.ok(mayServerViewRoom({ ...closed, worldReadable: true }));
      assert.ok(
        !mayServerViewRoom({ ...closed, joinRule: 'knock_restricted', knockRestricted: false }),
      );
      assert.ok(!mayServerViewRoom(closed));
      assert.ok(!mayServerViewRoom({ ...closed, joinRule: undefined }));
    });

    it('opens other rooms to servers with a member, or in an allowed room when restricted', () => {
      assert.ok(mayServerViewRoom({ ...closed, serverInRoom: true }));
      assert.ok(
        mayServerViewRoom({ ...closed, joinRule: 'restricted', serverInAllowedRoom: true }),
      );
      assert.ok(
        mayServerViewRoom({
          ...closed,
          joinRule: 'knock_restricted',
          knockRestricted: false,
          serverInAllowedRoom: true,
        }),
      );
      assert.ok(!mayServerViewRoom({ ...closed, serverInAllowedRoom: true }));
      assert.ok(!mayServerViewRoom({ ...closed, joinRule: 'restricted' }));
    });
  });

  describe('which servers to ask', () => {
    it("asks the creator's server first, then by members, never ours", () => {
      const members = ['@a:big', '@b:big', '@c:small', '@d:ours', '@e:creator', '@f:big'];
      assert.deepEqual(serversToAsk(members, '@x:creator', 'ours'), ['creator', 'big', 'small']);
      assert.deepEqual(serversToAsk(members, '@x:gone', 'ours'), ['big', 'creator', 'small']);
      assert.deepEqual(serversToAsk(['@d:ours'], '@d:ours', 'ours'), []);
    });

    it('keeps valid via servers, each once', () => {
      assert.deepEqual(viaOf({ via: ['a.test', 'a.test', 'bad name', 3, 'b.test:8448'] }), [
        'a.test',
        'b.test:8448',
      ]);
      assert.deepEqual(viaOf({}), []);
    });
  });

  describe('children and events of other servers', () => {
    it('orders stripped children as local ones: order, then time, then room ID', () => {
      const ordered = orderedStrippedChildren([
        child('!late:x', { via: ['x'] }, 9),
        child('!b:x', { via: ['x'] }, 1),
        child('!ordered:x', { via: ['x'], order: 'a' }, 50),
        child('!a:x', { via: ['x'] }, 1),
        child('!novia:x', { via: [] }, 0),
        { ...child('!parent:x', { via: ['x'] }), type: 'm.space.parent' },
      ]);
      assert.deepEqual(
        ordered.map((c) => c.state_key),
        ['!ordered:x', '!a:x', '!b:x', '!late:x'],
      );
    });

    it('takes the nearer event, a remote one only the way asked', () => {
      const at = (originServerTs: number) => ({ eventId: `$${originServerTs}`, originServerTs });
      const back = { ts: 100, direction: 'b' as const };
      const forward = { ts: 100, direction: 'f' as const };
      assert.deepEqual(nearerEvent(back, at(50), at(90)), at(90));
      assert.deepEqual(nearerEvent(back, at(90), at(50)), at(90));
      assert.deepEqual(nearerEvent(back, at(90), at(110)), at(90));
      assert.deepEqual(nearerEvent(back, undefined, at(110)), undefined);
      assert.deepEqual(nearerEvent(forward, at(150), at(120)), at(120));
      assert.deepEqual(nearerEvent(forward, undefined, at(100)), at(100));
      assert.deepEqual(nearerEvent(forward, at(110), at(110)), at(110));
      assert.deepEqual(nearerEvent(forward, at(110), undefined), at(110));
      assert.ok(liesTowards(100, 'b', 100) && liesTowards(100, 'f', 100));
      assert.ok(!liesTowards(100, 'b', 101) && !liesTowards(100, 'f', 99));
    });
  });
});
